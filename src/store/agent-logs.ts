/**
 * Agent logs and log sources (Agent API v2 BatchCreateLogs, REST GET /{agent}/logs).
 * Log ids are per agent and increase by one per line; the per-agent state row
 * carries the next id, the total output length and the overflow flag, and is
 * locked for the insert on PostgreSQL (SQLite serialises writers).
 */
import type { Kysely } from 'kysely';
import type { Timestamp } from './schema.js';
import type { Clock } from '../util/clock.js';
import { nowIso } from './ids.js';
import type { Invalidation } from './read-cache.js';

export interface AgentLogSourcesTable {
  agent_id: string;
  id: string;
  display_name: string;
  icon: string;
  created_at: Timestamp;
}

export interface AgentLogsTable {
  agent_id: string;
  id: number;
  created_at: Timestamp;
  output: string;
  level: string;
  log_source_id: string;
}

export interface AgentLogStateTable {
  agent_id: string;
  next_id: number;
  logs_length: number;
  logs_overflowed: number;
}

export interface AgentLogsDatabase {
  workspace_agent_log_sources: AgentLogSourcesTable;
  workspace_agent_logs: AgentLogsTable;
  workspace_agent_log_state: AgentLogStateTable;
}

export interface AgentLog {
  id: number;
  created_at: string;
  output: string;
  level: string;
  source_id: string;
}

export interface AgentLogSource {
  id: string;
  display_name: string;
  icon: string;
  created_at: string;
}

export type InsertLogsResult = { kind: 'inserted'; firstId: number; lastId: number; first: boolean } | { kind: 'overflowed'; justNow: boolean };

/** Coder's per-agent cap on the total length of all log output (max_logs_length). */
export const MAX_AGENT_LOGS_LENGTH = 1 << 20;

export class AgentLogRepo {
  private readonly db: Kysely<AgentLogsDatabase>;

  constructor(
    db: Kysely<unknown>,
    private readonly kind: 'sqlite' | 'postgres',
    private readonly clock: Clock,
    private readonly cache: Invalidation,
  ) {
    this.db = db as Kysely<AgentLogsDatabase>;
  }

  async ensureSource(agentId: string, source: { id: string; displayName: string; icon: string }): Promise<void> {
    const r = await this.db
      .insertInto('workspace_agent_log_sources')
      .values({ agent_id: agentId, id: source.id, display_name: source.displayName, icon: source.icon, created_at: nowIso(this.clock.now()) })
      .onConflict((oc) => oc.columns(['agent_id', 'id']).doNothing())
      .executeTakeFirst();
    if (Number(r.numInsertedOrUpdatedRows ?? 0n) > 0) this.cache.agentReportChanged(agentId);
  }

  /** logs_length and logs_overflowed of GET /{agent}. */
  async state(agentId: string): Promise<{ length: number; overflowed: boolean }> {
    const row = await this.db.selectFrom('workspace_agent_log_state').select(['logs_length', 'logs_overflowed']).where('agent_id', '=', agentId).executeTakeFirst();
    return { length: Number(row?.logs_length ?? 0), overflowed: Number(row?.logs_overflowed ?? 0) === 1 };
  }

  async sourceExists(agentId: string, id: string): Promise<boolean> {
    const row = await this.db.selectFrom('workspace_agent_log_sources').select('id').where('agent_id', '=', agentId).where('id', '=', id).executeTakeFirst();
    return row !== undefined;
  }

  async sources(agentId: string): Promise<AgentLogSource[]> {
    const rows = await this.db.selectFrom('workspace_agent_log_sources').selectAll().where('agent_id', '=', agentId).orderBy('created_at').execute();
    return rows.map((r) => ({ id: r.id, display_name: r.display_name, icon: r.icon, created_at: r.created_at }));
  }

  async overflowed(agentId: string): Promise<boolean> {
    const row = await this.db.selectFrom('workspace_agent_log_state').select('logs_overflowed').where('agent_id', '=', agentId).executeTakeFirst();
    return Number(row?.logs_overflowed ?? 0) === 1;
  }

  /**
   * Appends lines atomically. If the agent's total output would exceed `maxLength`, nothing is
   * inserted and the agent is marked overflowed (`justNow` tells whether this call set the flag).
   */
  async insert(agentId: string, sourceId: string, logs: { createdAt: string; output: string; level: string }[], maxLength = MAX_AGENT_LOGS_LENGTH): Promise<InsertLogsResult> {
    const addLength = logs.reduce((n, l) => n + Buffer.byteLength(l.output), 0);
    const result = await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('workspace_agent_log_state')
        .values({ agent_id: agentId, next_id: 1, logs_length: 0, logs_overflowed: 0 })
        .onConflict((oc) => oc.column('agent_id').doNothing())
        .execute();
      let q = trx.selectFrom('workspace_agent_log_state').selectAll().where('agent_id', '=', agentId);
      if (this.kind === 'postgres') q = q.forUpdate();
      const state = await q.executeTakeFirstOrThrow();
      if (Number(state.logs_overflowed) === 1) return { kind: 'overflowed', justNow: false } as const;
      const length = Number(state.logs_length);
      if (length + addLength > maxLength) {
        await trx.updateTable('workspace_agent_log_state').set({ logs_overflowed: 1 }).where('agent_id', '=', agentId).execute();
        return { kind: 'overflowed', justNow: true } as const;
      }
      const firstId = Number(state.next_id);
      if (logs.length > 0) {
        const rows = logs.map((l, i) => ({ agent_id: agentId, id: firstId + i, created_at: l.createdAt, output: l.output, level: l.level, log_source_id: sourceId }));
        // Chunked to stay under SQLite's bound-parameter limit.
        for (let i = 0; i < rows.length; i += 500) await trx.insertInto('workspace_agent_logs').values(rows.slice(i, i + 500)).execute();
      }
      await trx
        .updateTable('workspace_agent_log_state')
        .set({ next_id: firstId + logs.length, logs_length: length + addLength })
        .where('agent_id', '=', agentId)
        .execute();
      return { kind: 'inserted', firstId, lastId: firstId + logs.length - 1, first: firstId === 1 } as const;
    });
    if (result.kind === 'inserted' || result.justNow) this.cache.agentReportChanged(agentId);
    return result;
  }

  /** Lines with id > after, oldest first. */
  async list(agentId: string, after = 0, limit = 10_000): Promise<AgentLog[]> {
    const rows = await this.db
      .selectFrom('workspace_agent_logs')
      .selectAll()
      .where('agent_id', '=', agentId)
      .where('id', '>', after)
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ id: Number(r.id), created_at: r.created_at, output: r.output, level: r.level, source_id: r.log_source_id }));
  }
}
