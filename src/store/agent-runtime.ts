/**
 * Agent runtime state the Agent API v2 writes beside the workspace_agents row:
 * lifecycle timestamps, startup subsystems and negotiated API version,
 * metadata values, script timings and connection logs.
 */
import type { Kysely } from 'kysely';
import type { Timestamp } from './schema.js';
import type { Clock } from '../util/clock.js';
import { newId, nowIso } from './ids.js';
import type { Invalidation } from './read-cache.js';

export interface AgentMetadataTable {
  agent_id: string;
  key: string;
  value: string;
  error: string;
  collected_at: Timestamp;
}

export interface AgentRuntimeTable {
  agent_id: string;
  started_at: Timestamp | null;
  ready_at: Timestamp | null;
  subsystems: string;
  api_version: string;
  updated_at: Timestamp;
}

export interface AgentScriptTimingsTable {
  id: string;
  agent_id: string;
  script_id: string;
  stage: string;
  status: string;
  exit_code: number;
  started_at: Timestamp;
  ended_at: Timestamp;
}

export interface AgentConnectionLogsTable {
  id: string;
  agent_id: string;
  action: string;
  type: string;
  ip: string;
  status_code: number;
  reason: string | null;
  at: Timestamp;
}

export interface AgentRuntimeDatabase {
  workspace_agent_metadata: AgentMetadataTable;
  workspace_agent_runtime: AgentRuntimeTable;
  workspace_agent_script_timings: AgentScriptTimingsTable;
  workspace_agent_connection_logs: AgentConnectionLogsTable;
}

export interface AgentRuntime {
  started_at: string | null;
  ready_at: string | null;
  subsystems: string[];
  api_version: string;
}

export interface AgentMetadataValue {
  key: string;
  value: string;
  error: string;
  collected_at: string;
}

export class AgentRuntimeRepo {
  private readonly db: Kysely<AgentRuntimeDatabase>;

  constructor(
    db: Kysely<unknown>,
    private readonly clock: Clock,
    private readonly cache: Invalidation,
  ) {
    this.db = db as Kysely<AgentRuntimeDatabase>;
  }

  async get(agentId: string): Promise<AgentRuntime | undefined> {
    const r = await this.db.selectFrom('workspace_agent_runtime').selectAll().where('agent_id', '=', agentId).executeTakeFirst();
    if (!r) return undefined;
    return { started_at: r.started_at, ready_at: r.ready_at, subsystems: r.subsystems ? r.subsystems.split(',') : [], api_version: r.api_version };
  }

  private async upsert(agentId: string, set: Partial<Omit<AgentRuntimeTable, 'agent_id' | 'updated_at'>>): Promise<void> {
    const updated_at = nowIso(this.clock.now());
    await this.db
      .insertInto('workspace_agent_runtime')
      .values({ agent_id: agentId, started_at: null, ready_at: null, subsystems: '', api_version: '', ...set, updated_at })
      .onConflict((oc) => oc.column('agent_id').doUpdateSet({ ...set, updated_at }))
      .execute();
    this.cache.agentReportChanged(agentId);
  }

  async setStartup(agentId: string, subsystems: string[], apiVersion: string): Promise<void> {
    await this.upsert(agentId, { subsystems: subsystems.join(','), api_version: apiVersion });
  }

  /** Lifecycle timestamps as Coder keeps them (§4.3 UpdateLifecycle). */
  async recordLifecycle(agentId: string, state: string, changedAt: string): Promise<void> {
    if (state === 'starting') {
      await this.upsert(agentId, { started_at: changedAt, ready_at: null });
    } else if (state === 'ready' || state === 'start_timeout' || state === 'start_error') {
      const cur = await this.get(agentId);
      await this.upsert(agentId, { ready_at: changedAt, started_at: cur?.started_at ?? changedAt });
    }
  }

  async upsertMetadata(agentId: string, values: AgentMetadataValue[]): Promise<void> {
    if (values.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (const v of values) {
        await trx
          .insertInto('workspace_agent_metadata')
          .values({ agent_id: agentId, key: v.key, value: v.value, error: v.error, collected_at: v.collected_at })
          .onConflict((oc) => oc.columns(['agent_id', 'key']).doUpdateSet({ value: v.value, error: v.error, collected_at: v.collected_at }))
          .execute();
      }
    });
  }

  async metadata(agentId: string): Promise<AgentMetadataValue[]> {
    const rows = await this.db.selectFrom('workspace_agent_metadata').selectAll().where('agent_id', '=', agentId).orderBy('key').execute();
    return rows.map((r) => ({ key: r.key, value: r.value, error: r.error, collected_at: r.collected_at }));
  }

  async insertScriptTiming(agentId: string, t: { scriptId: string; stage: string; status: string; exitCode: number; startedAt: string; endedAt: string }): Promise<void> {
    await this.db
      .insertInto('workspace_agent_script_timings')
      .values({ id: newId(), agent_id: agentId, script_id: t.scriptId, stage: t.stage, status: t.status, exit_code: t.exitCode, started_at: t.startedAt, ended_at: t.endedAt })
      .execute();
  }

  async scriptTimings(agentId: string): Promise<AgentScriptTimingsTable[]> {
    return this.db.selectFrom('workspace_agent_script_timings').selectAll().where('agent_id', '=', agentId).orderBy('started_at').execute();
  }

  async insertConnectionLog(agentId: string, c: { id: string; action: string; type: string; ip: string; statusCode: number; reason: string | null; at: string }): Promise<void> {
    await this.db
      .insertInto('workspace_agent_connection_logs')
      .values({ id: c.id, agent_id: agentId, action: c.action, type: c.type, ip: c.ip, status_code: c.statusCode, reason: c.reason, at: c.at })
      .onConflict((oc) => oc.column('id').doUpdateSet({ action: c.action, status_code: c.statusCode, reason: c.reason, at: c.at }))
      .execute();
  }

  async connectionLogs(agentId: string): Promise<AgentConnectionLogsTable[]> {
    return this.db.selectFrom('workspace_agent_connection_logs').selectAll().where('agent_id', '=', agentId).orderBy('at').execute();
  }
}
