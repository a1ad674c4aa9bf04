/**
 * The latest context snapshot an agent pushed (PushContextState, API 2.10): one row per
 * agent, overwritten in place; the resources travel as one JSON array.
 */
import type { Kysely } from 'kysely';
import type { Timestamp } from './schema.js';
import type { Clock } from '../util/clock.js';
import { nowIso } from './ids.js';

export interface AgentContextSnapshotsTable {
  agent_id: string;
  /** uint64 push counter; bigint column (PostgreSQL returns it as text). */
  version: string | number;
  aggregate_hash: string; // hex
  snapshot_error: string;
  resources: string; // JSON array of StoredContextResource
  received_at: Timestamp;
}

interface AgentContextDatabase {
  workspace_agent_context_snapshots: AgentContextSnapshotsTable;
}

export interface StoredContextResource {
  source: string;
  source_path: string;
  kind: 'instruction_file' | 'skill' | 'mcp_config' | 'mcp_server';
  body: unknown;
  content_hash: string; // hex
  size_bytes: number;
  status: string;
  error: string;
}

export interface AgentContextSnapshot {
  version: bigint;
  aggregate_hash: string;
  snapshot_error: string;
  resources: StoredContextResource[];
  received_at: string;
}

export class AgentContextRepo {
  private readonly db: Kysely<AgentContextDatabase>;

  constructor(
    db: Kysely<unknown>,
    private readonly clock: Clock,
  ) {
    this.db = db as Kysely<AgentContextDatabase>;
  }

  async latest(agentId: string): Promise<AgentContextSnapshot | undefined> {
    const r = await this.db.selectFrom('workspace_agent_context_snapshots').selectAll().where('agent_id', '=', agentId).executeTakeFirst();
    if (!r) return undefined;
    return {
      version: BigInt(String(r.version)),
      aggregate_hash: r.aggregate_hash,
      snapshot_error: r.snapshot_error,
      resources: JSON.parse(r.resources) as StoredContextResource[],
      received_at: r.received_at,
    };
  }

  /**
   * Stores the snapshot unless it is a replay: without `initial` (a freshly started agent
   * process), only a strictly higher version replaces the stored one. Returns whether it was stored.
   */
  async push(agentId: string, s: { version: bigint; initial: boolean; aggregateHash: string; snapshotError: string; resources: StoredContextResource[] }): Promise<boolean> {
    const values = {
      agent_id: agentId,
      version: s.version.toString(),
      aggregate_hash: s.aggregateHash,
      snapshot_error: s.snapshotError,
      resources: JSON.stringify(s.resources),
      received_at: nowIso(this.clock.now()),
    };
    return this.db.transaction().execute(async (trx) => {
      const cur = await trx.selectFrom('workspace_agent_context_snapshots').select('version').where('agent_id', '=', agentId).executeTakeFirst();
      if (cur && !s.initial && s.version <= BigInt(String(cur.version))) return false;
      const { agent_id: _id, ...set } = values;
      await trx
        .insertInto('workspace_agent_context_snapshots')
        .values(values)
        .onConflict((oc) => oc.column('agent_id').doUpdateSet(set))
        .execute();
      return true;
    });
  }
}
