/**
 * Appending agent logs, shared by the Agent API (BatchCreateLogs) and the REST
 * PATCH /me/logs: External source on demand, per-agent cap, overflow flag and
 * the agent-logs:<agent> / workspace notifications (tailnet-v2.md §4.3).
 */
import type { Pubsub } from '../pubsub/pubsub.js';
import type { Store } from '../store/index.js';
import { workspaceChannel } from '../api/routes/agent-me.js';

/** The well-known "External" log source for logs sent without a source id. */
export const EXTERNAL_LOG_SOURCE = { id: '3b579bf4-1ed8-4b99-87a8-e9a1e3410410', displayName: 'External', icon: '/emojis/1f310.png' } as const;

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;

export function agentLogsChannel(agentId: string): string {
  return `agent-logs:${agentId}`;
}

export interface AppendLogsDeps {
  store: Store;
  pubsub: Pubsub;
  /** Per-agent cap on total log output (default 1 MiB). */
  maxLogsLength?: number;
}

/** Returns false when the agent is (now) over its log limit; nothing is written then. */
export async function appendAgentLogs(
  deps: AppendLogsDeps,
  agent: { id: string; workspaceId: string },
  sourceId: string | null,
  logs: { createdAt: string; output: string; level: string }[],
): Promise<boolean> {
  const { store, pubsub } = deps;
  if (await store.agentLogs.overflowed(agent.id)) return false;
  let source = sourceId;
  if (source === null) {
    source = EXTERNAL_LOG_SOURCE.id;
    await store.agentLogs.ensureSource(agent.id, EXTERNAL_LOG_SOURCE);
  }
  if (logs.length === 0) return true;
  const r = await store.agentLogs.insert(agent.id, source, logs, deps.maxLogsLength);
  if (r.kind === 'overflowed') {
    if (r.justNow) pubsub.publish(workspaceChannel(agent.workspaceId), '');
    return false;
  }
  pubsub.publish(agentLogsChannel(agent.id), JSON.stringify({ created_after: r.firstId - 1 }));
  if (r.first) pubsub.publish(workspaceChannel(agent.workspaceId), '');
  return true;
}
