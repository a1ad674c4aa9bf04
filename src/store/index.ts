/**
 * The store: one typed query layer over SQLite and PostgreSQL.
 *
 *   openStore(target) ──> Kysely<Database> ──> UserRepo / WorkspaceRepo / AgentRepo / GitAuthRepo / StatsRepo
 */
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import { openDatabase, ping, type StoreTarget } from './connect.js';
import { UserRepo } from './users.js';
import { AgentRepo, WorkspaceRepo } from './workspaces.js';
import { GitAuthRepo } from './gitauth.js';
import { StatsRepo } from './stats.js';
import { ReadCache, type AgentReported } from './read-cache.js';
import { AgentLogRepo } from './agent-logs.js';
import { AgentRuntimeRepo } from './agent-runtime.js';
import { AppStatusRepo } from './app-statuses.js';
import { systemClock, type Clock } from '../util/clock.js';

export class Store {
  readonly users: UserRepo;
  readonly workspaces: WorkspaceRepo;
  readonly agents: AgentRepo;
  readonly gitauth: GitAuthRepo;
  readonly stats: StatsRepo;
  readonly agentLogs: AgentLogRepo;
  readonly agentRuntime: AgentRuntimeRepo;

  readonly cache: ReadCache;
  private readonly appStatusReader: AppStatusRepo;

  constructor(readonly db: Kysely<Database>, readonly kind: StoreTarget['kind'], private readonly closer: () => Promise<void>, clock: Clock, cacheTtlMs = 0) {
    this.cache = new ReadCache(clock, cacheTtlMs);
    this.users = new UserRepo(db, clock, this.cache);
    this.workspaces = new WorkspaceRepo(db, clock, this.cache);
    this.agentLogs = new AgentLogRepo(db as Kysely<unknown>, kind, clock, this.cache);
    this.agentRuntime = new AgentRuntimeRepo(db as Kysely<unknown>, clock, this.cache);
    this.appStatusReader = new AppStatusRepo(db as Kysely<unknown>, clock);
    this.agents = new AgentRepo(db, clock, this.cache, (agentId) => this.loadReported(agentId));
    this.gitauth = new GitAuthRepo(db, clock);
    this.stats = new StatsRepo(db, clock);
  }

  private async loadReported(agentId: string): Promise<AgentReported> {
    const [runtime, logState, logSources, appStatuses] = await Promise.all([
      this.agentRuntime.get(agentId),
      this.agentLogs.state(agentId),
      this.agentLogs.sources(agentId),
      this.appStatusReader.byAgent(agentId),
    ]);
    return { runtime, logsLength: logState.length, logsOverflowed: logState.overflowed, logSources, appStatuses };
  }

  ping(): Promise<void> {
    return ping(this.db);
  }

  close(): Promise<void> {
    return this.closer();
  }
}

/** `cacheTtlMs` > 0 serves hot-path reads from a short-lived cache (see read-cache.ts). */
export async function openStore(target: StoreTarget, clock: Clock = systemClock, cacheTtlMs = 0): Promise<Store> {
  const opened = await openDatabase(target);
  return new Store(opened.db, opened.kind, opened.close, clock, cacheTtlMs);
}

export type { StoreTarget } from './connect.js';
export type { User, ApiKey } from './users.js';
export type { Agent, App, Workspace, WorkspaceBuild, AgentContext, ProvisionedBuild, ProvisionedAgent } from './workspaces.js';
export type { AgentLog, AgentLogSource, InsertLogsResult } from './agent-logs.js';
export type { AgentRuntime, AgentMetadataValue } from './agent-runtime.js';
export type { GitAuthProvider, GitAuthLink, GitSshKey } from './gitauth.js';
