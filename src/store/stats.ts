import type { Kysely, Selectable } from 'kysely';
import type { Database, WorkspaceAgentStatsTable } from './schema.js';
import { newId, nowIso } from './ids.js';
import type { Clock } from '../util/clock.js';

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

export class StatsRepo {
  constructor(private readonly db: Kysely<Database>, private readonly clock: Clock) {}

  async insert(s: StatsInput): Promise<void> {
    await this.db
      .insertInto('workspace_agent_stats')
      .values({
        id: newId(),
        created_at: nowIso(this.clock.now()),
        agent_id: s.agentId,
        workspace_id: s.workspaceId,
        user_id: s.userId,
        connections_by_proto: JSON.stringify(s.connectionsByProto),
        connection_count: s.connectionCount,
        rx_packets: s.rxPackets,
        rx_bytes: s.rxBytes,
        tx_packets: s.txPackets,
        tx_bytes: s.txBytes,
      })
      .execute();
  }

  async latest(agentId: string, limit = 10): Promise<AgentStats[]> {
    return this.db.selectFrom('workspace_agent_stats').selectAll().where('agent_id', '=', agentId).orderBy('created_at', 'desc').limit(limit).execute();
  }
}
