/**
 * Repos of the later Agent API RPCs (sub-agents 2.6, app statuses 2.8, context state 2.10),
 * built once per Store over its connection and read cache.
 */
import type { Kysely } from 'kysely';
import type { Store } from './index.js';
import { SubAgentRepo } from './subagents.js';
import { AppStatusRepo } from './app-statuses.js';
import { AgentContextRepo } from './agent-context.js';
import type { Clock } from '../util/clock.js';

export interface AgentApiExtras {
  subAgents: SubAgentRepo;
  appStatuses: AppStatusRepo;
  agentContext: AgentContextRepo;
}

const built = new WeakMap<Store, AgentApiExtras>();

export function agentApiExtras(store: Store, clock: Clock): AgentApiExtras {
  let x = built.get(store);
  if (!x) {
    x = {
      subAgents: new SubAgentRepo(store.db, clock, store.cache),
      appStatuses: new AppStatusRepo(store.db as Kysely<unknown>, clock),
      agentContext: new AgentContextRepo(store.db as Kysely<unknown>, clock),
    };
    built.set(store, x);
  }
  return x;
}
