import type { Kysely, Selectable } from 'kysely';
import type { Database, WorkspaceAgentStatsTable } from './schema.js';
import { newId, nowIso } from './ids.js';
import type { Clock } from '../util/clock.js';
import { GroupCommit } from '../util/group-commit.js';

export type AgentStats = Selectable<WorkspaceAgentStatsTable>;

export interface StatsInput {
  agentId: string;
  workspaceId: string;
  userId: string;
  connectionsByProto: Record<string, number>;
  connectionCount: number;
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
}

const ROWS_PER_INSERT = 100;

export class StatsRepo {
  /** Reports arriving together share one transaction (group commit); each caller still waits for its row. */
  private readonly writer = new GroupCommit<StatsInput>((batch) => this.writeBatch(batch));

  constructor(private readonly db: Kysely<Database>, private readonly clock: Clock) {}

  /** Inserts the stats row and marks the workspace used, durably, before resolving. */
  insert(s: StatsInput): Promise<void> {
    return this.writer.add(s);
  }

  flush(): Promise<void> {
    return this.writer.flush();
  }

  private async writeBatch(batch: StatsInput[]): Promise<void> {
    const now = nowIso(this.clock.now());
    const rows = batch.map((s) => ({
      id: newId(),
      created_at: now,
      agent_id: s.agentId,
      workspace_id: s.workspaceId,
      user_id: s.userId,
      connections_by_proto: JSON.stringify(s.connectionsByProto),
      connection_count: s.connectionCount,
      rx_packets: s.rxPackets,
      rx_bytes: s.rxBytes,
      tx_packets: s.txPackets,
      tx_bytes: s.txBytes,
    }));
    const workspaces = [...new Set(batch.map((s) => s.workspaceId))];
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
        await trx.insertInto('workspace_agent_stats').values(rows.slice(i, i + ROWS_PER_INSERT)).execute();
      }
      for (let i = 0; i < workspaces.length; i += ROWS_PER_INSERT) {
        await trx.updateTable('workspaces').set({ last_used_at: now }).where('id', 'in', workspaces.slice(i, i + ROWS_PER_INSERT)).execute();
      }
    });
  }

  async latest(agentId: string, limit = 10): Promise<AgentStats[]> {
    return this.db.selectFrom('workspace_agent_stats').selectAll().where('agent_id', '=', agentId).orderBy('created_at', 'desc').limit(limit).execute();
  }
}
