/**
 * Workspace app statuses (UpdateAppStatus / PATCH /me/app-status): an append-only
 * history per app, trimmed to the newest MAX_STATUSES_PER_APP rows.
 */
import type { Kysely } from 'kysely';
import type { Timestamp } from './schema.js';
import type { Clock } from '../util/clock.js';
import { newId, nowIso } from './ids.js';

export interface AppStatusesTable {
  id: string;
  created_at: Timestamp;
  workspace_id: string;
  agent_id: string;
  app_id: string;
  state: string; // working | idle | complete | failure
  message: string;
  uri: string | null;
}

interface AppStatusDatabase {
  workspace_app_statuses: AppStatusesTable;
}

export type AppStatus = AppStatusesTable;

/** History kept per app; older rows are deleted on insert. */
export const MAX_STATUSES_PER_APP = 100;

export class AppStatusRepo {
  private readonly db: Kysely<AppStatusDatabase>;

  constructor(
    db: Kysely<unknown>,
    private readonly clock: Clock,
  ) {
    this.db = db as Kysely<AppStatusDatabase>;
  }

  async latest(appId: string): Promise<AppStatus | undefined> {
    return this.db.selectFrom('workspace_app_statuses').selectAll().where('app_id', '=', appId).orderBy('created_at', 'desc').orderBy('id', 'desc').executeTakeFirst();
  }

  async insert(s: { workspaceId: string; agentId: string; appId: string; state: string; message: string; uri: string | null }): Promise<AppStatus> {
    const row: AppStatus = {
      id: newId(),
      created_at: nowIso(this.clock.now()),
      workspace_id: s.workspaceId,
      agent_id: s.agentId,
      app_id: s.appId,
      state: s.state,
      message: s.message,
      uri: s.uri,
    };
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('workspace_app_statuses').values(row).execute();
      const stale = await trx
        .selectFrom('workspace_app_statuses')
        .select('id')
        .where('app_id', '=', s.appId)
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .offset(MAX_STATUSES_PER_APP)
        .limit(1000)
        .execute();
      if (stale.length > 0) await trx.deleteFrom('workspace_app_statuses').where('id', 'in', stale.map((r) => r.id)).execute();
    });
    return row;
  }

  /** An agent's statuses, newest first. */
  async byAgent(agentId: string, limit = MAX_STATUSES_PER_APP): Promise<AppStatus[]> {
    return this.db.selectFrom('workspace_app_statuses').selectAll().where('agent_id', '=', agentId).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  }
}
