/**
 * Dev-container sub-agents (Agent API 2.6+): agent rows under the parent's
 * build and resource with parent_id = parent, their token hashes and apps.
 *
 *   create(parent, spec) ──► workspace_agents row + agent_tokens hash   (token returned once)
 *        └─ insertApp(...) per app, each on its own so one bad app does not undo the rest
 *   children(parent) / rotateToken(id) / updateConfig(id) / remove(id)
 */
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { Agent } from './workspaces.js';
import { newId, nowIso, sha256Hex } from './ids.js';
import type { Clock } from '../util/clock.js';
import type { Invalidation } from './read-cache.js';

export interface SubAgentSpec {
  name: string;
  directory: string;
  architecture: string;
  operatingSystem: string;
  displayApps: string[];
}

export interface SubAgentAppSpec {
  slug: string;
  displayName: string;
  url: string;
  command: string;
  icon: string;
  subdomain: boolean;
  external: boolean;
  sharingLevel: string;
  healthcheckUrl: string;
  healthcheckInterval: number;
  healthcheckThreshold: number;
}

export class SubAgentRepo {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly cache: Invalidation,
  ) {}

  /** Inserts the child agent and its token; returns the row and the plaintext token. */
  async create(parent: Agent, spec: SubAgentSpec): Promise<{ agent: Agent; token: string }> {
    const now = nowIso(this.clock.now());
    const id = newId();
    const token = crypto.randomUUID();
    const row: Agent = {
      id,
      workspace_id: parent.workspace_id,
      build_id: parent.build_id,
      resource_id: parent.resource_id,
      name: spec.name,
      created_at: now,
      updated_at: now,
      first_connected_at: null,
      last_connected_at: null,
      disconnected_at: null,
      last_connected_replica_id: null,
      auth_type: 'token',
      auth_instance_id: null,
      architecture: spec.architecture,
      operating_system: spec.operatingSystem,
      environment_variables: null,
      startup_script: '',
      startup_script_timeout_seconds: 0,
      directory: spec.directory,
      expanded_directory: '',
      motd_file: '',
      connection_timeout_seconds: parent.connection_timeout_seconds,
      troubleshooting_url: parent.troubleshooting_url,
      login_before_ready: 1,
      version: '',
      lifecycle_state: 'created',
      parent_id: parent.id,
      display_apps: JSON.stringify(spec.displayApps),
      metadata_descriptions: null,
    };
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('workspace_agents').values(row).execute();
      await trx.insertInto('agent_tokens').values({ hashed_token: sha256Hex(token), agent_id: id, created_at: now }).execute();
    });
    this.cache.agentChanged(parent.id);
    return { agent: row, token };
  }

  async insertApp(agentId: string, app: SubAgentAppSpec): Promise<void> {
    await this.db
      .insertInto('workspace_apps')
      .values({
        id: newId(),
        agent_id: agentId,
        slug: app.slug,
        display_name: app.displayName,
        url: app.url,
        command: app.command,
        icon: app.icon,
        subdomain: app.subdomain ? 1 : 0,
        external: app.external ? 1 : 0,
        sharing_level: app.sharingLevel,
        healthcheck_url: app.healthcheckUrl,
        healthcheck_interval: app.healthcheckInterval,
        healthcheck_threshold: app.healthcheckThreshold,
        health: app.healthcheckUrl ? 'initializing' : 'disabled',
        created_at: nowIso(this.clock.now()),
      })
      .execute();
    this.cache.agentChanged(agentId);
  }

  async children(parentId: string): Promise<Agent[]> {
    return this.db.selectFrom('workspace_agents').selectAll().where('parent_id', '=', parentId).orderBy('created_at').orderBy('id').execute();
  }

  /** Replaces every token of the agent with a fresh one (only its hash is kept). */
  async rotateToken(agentId: string): Promise<string> {
    const token = crypto.randomUUID();
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('agent_tokens').where('agent_id', '=', agentId).execute();
      await trx.insertInto('agent_tokens').values({ hashed_token: sha256Hex(token), agent_id: agentId, created_at: nowIso(this.clock.now()) }).execute();
    });
    this.cache.agentChanged(agentId);
    return token;
  }

  /** The re-create path of CreateSubAgent with an id: display apps always, directory when given. */
  async updateConfig(agentId: string, displayApps: string[], directory: string): Promise<void> {
    const set: { display_apps: string; updated_at: string; directory?: string } = { display_apps: JSON.stringify(displayApps), updated_at: nowIso(this.clock.now()) };
    if (directory !== '') set.directory = directory;
    await this.db.updateTable('workspace_agents').set(set).where('id', '=', agentId).execute();
    this.cache.agentChanged(agentId);
  }

  /**
   * Deletes a child agent with everything keyed by it. Its token hashes go with it, so the token
   * stops authenticating at once; live sockets are closed by the caller (and, on other replicas,
   * by the connection monitor, which sees the row gone).
   */
  async remove(agentId: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const t = trx as unknown as Kysely<SubAgentSideTables>;
      await t.deleteFrom('workspace_app_statuses').where('agent_id', '=', agentId).execute();
      await t.deleteFrom('workspace_agent_context_snapshots').where('agent_id', '=', agentId).execute();
      // What the agent reported (no foreign keys on these tables); usage stats stay, as in Coder.
      for (const table of REPORTED_TABLES) await t.deleteFrom(table).where('agent_id', '=', agentId).execute();
      await trx.deleteFrom('agent_tokens').where('agent_id', '=', agentId).execute();
      await trx.deleteFrom('workspace_apps').where('agent_id', '=', agentId).execute();
      await trx.deleteFrom('workspace_agents').where('id', '=', agentId).where('parent_id', 'is not', null).execute();
    });
    this.cache.everything();
  }
}

const REPORTED_TABLES = [
  'workspace_agent_logs',
  'workspace_agent_log_sources',
  'workspace_agent_log_state',
  'workspace_agent_metadata',
  'workspace_agent_runtime',
  'workspace_agent_script_timings',
  'workspace_agent_connection_logs',
] as const;

/** Only the key column remove() needs from tables owned by other repos. */
type SubAgentSideTables = Record<'workspace_app_statuses' | 'workspace_agent_context_snapshots' | (typeof REPORTED_TABLES)[number], { agent_id: string }>;
