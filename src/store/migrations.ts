/**
 * Forward-only migrations, written with Kysely's schema builder so one definition
 * serves SQLite and PostgreSQL. Run at start by Kysely's Migrator (which takes a lock on PostgreSQL,
 * so replicas starting together migrate once).
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely';

const ts = 'text';

const init: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('users')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('username', 'text', (c) => c.notNull().unique())
      .addColumn('email', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('is_admin', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', ts, (c) => c.notNull())
      .addColumn('updated_at', ts, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('api_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('hashed_secret', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('created_at', ts, (c) => c.notNull())
      .addColumn('updated_at', ts, (c) => c.notNull())
      .addColumn('last_used', ts, (c) => c.notNull())
      .addColumn('expires_at', ts, (c) => c.notNull())
      .addColumn('lifetime_seconds', 'bigint', (c) => c.notNull())
      .addColumn('ip_address', 'text', (c) => c.notNull().defaultTo(''))
      .execute();

    await db.schema
      .createTable('workspaces')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('created_at', ts, (c) => c.notNull())
      .addColumn('updated_at', ts, (c) => c.notNull())
      .addColumn('last_used_at', ts, (c) => c.notNull())
      .addColumn('ttl_ms', 'bigint')
      .addColumn('latest_build_id', 'text')
      .addUniqueConstraint('workspaces_owner_name', ['owner_id', 'name'])
      .execute();

    await db.schema
      .createTable('workspace_builds')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      .addColumn('build_number', 'integer', (c) => c.notNull())
      .addColumn('transition', 'text', (c) => c.notNull())
      .addColumn('job_type', 'text', (c) => c.notNull())
      .addColumn('job_completed_at', ts)
      .addColumn('deadline', ts)
      .addColumn('max_deadline', ts)
      .addColumn('created_at', ts, (c) => c.notNull())
      .addColumn('updated_at', ts, (c) => c.notNull())
      .addUniqueConstraint('workspace_builds_number', ['workspace_id', 'build_number'])
      .execute();

    await db.schema
      .createTable('workspace_agents')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      .addColumn('build_id', 'text', (c) => c.notNull().references('workspace_builds.id').onDelete('cascade'))
      .addColumn('resource_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('created_at', ts, (c) => c.notNull())
      .addColumn('updated_at', ts, (c) => c.notNull())
      .addColumn('first_connected_at', ts)
      .addColumn('last_connected_at', ts)
      .addColumn('disconnected_at', ts)
      .addColumn('last_connected_replica_id', 'text')
      .addColumn('auth_type', 'text', (c) => c.notNull())
      .addColumn('auth_instance_id', 'text')
      .addColumn('architecture', 'text', (c) => c.notNull())
      .addColumn('operating_system', 'text', (c) => c.notNull())
      .addColumn('environment_variables', 'text')
      .addColumn('startup_script', 'text', (c) => c.notNull())
      .addColumn('startup_script_timeout_seconds', 'integer', (c) => c.notNull())
      .addColumn('directory', 'text', (c) => c.notNull())
      .addColumn('expanded_directory', 'text', (c) => c.notNull())
      .addColumn('motd_file', 'text', (c) => c.notNull())
      .addColumn('connection_timeout_seconds', 'integer', (c) => c.notNull())
      .addColumn('troubleshooting_url', 'text', (c) => c.notNull())
      .addColumn('login_before_ready', 'integer', (c) => c.notNull())
      .addColumn('version', 'text', (c) => c.notNull())
      .addColumn('lifecycle_state', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('workspace_agents_instance').on('workspace_agents').columns(['auth_instance_id', 'created_at']).execute();
    await db.schema.createIndex('workspace_agents_build').on('workspace_agents').column('build_id').execute();

    await db.schema
      .createTable('agent_tokens')
      .addColumn('hashed_token', 'text', (c) => c.primaryKey())
      .addColumn('agent_id', 'text', (c) => c.notNull().references('workspace_agents.id').onDelete('cascade'))
      .addColumn('created_at', ts, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('agent_tokens_agent').on('agent_tokens').column('agent_id').execute();

    await db.schema
      .createTable('workspace_apps')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('agent_id', 'text', (c) => c.notNull().references('workspace_agents.id').onDelete('cascade'))
      .addColumn('slug', 'text', (c) => c.notNull())
      .addColumn('display_name', 'text', (c) => c.notNull())
      .addColumn('url', 'text', (c) => c.notNull())
      .addColumn('command', 'text', (c) => c.notNull())
      .addColumn('icon', 'text', (c) => c.notNull())
      .addColumn('subdomain', 'integer', (c) => c.notNull())
      .addColumn('external', 'integer', (c) => c.notNull())
      .addColumn('sharing_level', 'text', (c) => c.notNull())
      .addColumn('healthcheck_url', 'text', (c) => c.notNull())
      .addColumn('healthcheck_interval', 'integer', (c) => c.notNull())
      .addColumn('healthcheck_threshold', 'integer', (c) => c.notNull())
      .addColumn('health', 'text', (c) => c.notNull())
      .addColumn('created_at', ts, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('workspace_apps_agent').on('workspace_apps').column('agent_id').execute();

    await db.schema
      .createTable('gitsshkeys')
      .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('private_key', 'text', (c) => c.notNull())
      .addColumn('created_at', ts, (c) => c.notNull())
      .addColumn('updated_at', ts, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('git_auth_providers')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('client_id', 'text', (c) => c.notNull())
      .addColumn('client_secret', 'text', (c) => c.notNull())
      .addColumn('auth_url', 'text', (c) => c.notNull())
      .addColumn('token_url', 'text', (c) => c.notNull())
      .addColumn('validate_url', 'text', (c) => c.notNull())
      .addColumn('regex', 'text', (c) => c.notNull())
      .addColumn('scopes', 'text', (c) => c.notNull())
      .addColumn('no_refresh', 'integer', (c) => c.notNull())
      .addColumn('position', 'integer', (c) => c.notNull())
      .addColumn('created_at', ts, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('git_auth_links')
      .addColumn('provider_id', 'text', (c) => c.notNull().references('git_auth_providers.id').onDelete('cascade'))
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('oauth_access_token', 'text', (c) => c.notNull())
      .addColumn('oauth_refresh_token', 'text', (c) => c.notNull())
      .addColumn('oauth_expiry', ts)
      .addColumn('created_at', ts, (c) => c.notNull())
      .addColumn('updated_at', ts, (c) => c.notNull())
      .addPrimaryKeyConstraint('git_auth_links_pk', ['provider_id', 'user_id'])
      .execute();

    await db.schema
      .createTable('git_auth_states')
      .addColumn('state', 'text', (c) => c.primaryKey())
      .addColumn('provider_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('redirect', 'text', (c) => c.notNull())
      .addColumn('created_at', ts, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('workspace_agent_stats')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('created_at', ts, (c) => c.notNull())
      .addColumn('agent_id', 'text', (c) => c.notNull())
      .addColumn('workspace_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('connections_by_proto', 'text', (c) => c.notNull())
      .addColumn('connection_count', 'bigint', (c) => c.notNull())
      .addColumn('rx_packets', 'bigint', (c) => c.notNull())
      .addColumn('rx_bytes', 'bigint', (c) => c.notNull())
      .addColumn('tx_packets', 'bigint', (c) => c.notNull())
      .addColumn('tx_bytes', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('workspace_agent_stats_agent').on('workspace_agent_stats').columns(['agent_id', 'created_at']).execute();
  },
};

/** Agent API v2 state: logs and log sources, metadata, runtime timestamps, script timings, connection logs. */
const agentV2: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('workspace_agent_log_sources')
      .addColumn('agent_id', 'text', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('display_name', 'text', (c) => c.notNull())
      .addColumn('icon', 'text', (c) => c.notNull())
      .addColumn('created_at', ts, (c) => c.notNull())
      .addPrimaryKeyConstraint('workspace_agent_log_sources_pk', ['agent_id', 'id'])
      .execute();
    await db.schema
      .createTable('workspace_agent_logs')
      .addColumn('agent_id', 'text', (c) => c.notNull())
      .addColumn('id', 'bigint', (c) => c.notNull())
      .addColumn('created_at', ts, (c) => c.notNull())
      .addColumn('output', 'text', (c) => c.notNull())
      .addColumn('level', 'text', (c) => c.notNull())
      .addColumn('log_source_id', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('workspace_agent_logs_pk', ['agent_id', 'id'])
      .execute();
    await db.schema
      .createTable('workspace_agent_log_state')
      .addColumn('agent_id', 'text', (c) => c.primaryKey())
      .addColumn('next_id', 'bigint', (c) => c.notNull())
      .addColumn('logs_length', 'bigint', (c) => c.notNull())
      .addColumn('logs_overflowed', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('workspace_agent_metadata')
      .addColumn('agent_id', 'text', (c) => c.notNull())
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addColumn('error', 'text', (c) => c.notNull())
      .addColumn('collected_at', ts, (c) => c.notNull())
      .addPrimaryKeyConstraint('workspace_agent_metadata_pk', ['agent_id', 'key'])
      .execute();
    await db.schema
      .createTable('workspace_agent_runtime')
      .addColumn('agent_id', 'text', (c) => c.primaryKey())
      .addColumn('started_at', ts)
      .addColumn('ready_at', ts)
      .addColumn('subsystems', 'text', (c) => c.notNull())
      .addColumn('api_version', 'text', (c) => c.notNull())
      .addColumn('updated_at', ts, (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('workspace_agent_script_timings')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('agent_id', 'text', (c) => c.notNull())
      .addColumn('script_id', 'text', (c) => c.notNull())
      .addColumn('stage', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('exit_code', 'integer', (c) => c.notNull())
      .addColumn('started_at', ts, (c) => c.notNull())
      .addColumn('ended_at', ts, (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('workspace_agent_connection_logs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('agent_id', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('ip', 'text', (c) => c.notNull())
      .addColumn('status_code', 'integer', (c) => c.notNull())
      .addColumn('reason', 'text')
      .addColumn('at', ts, (c) => c.notNull())
      .execute();
  },
};

/**
 * Dev-container sub-agents, app statuses and pushed context state (Agent API 2.6–2.10):
 * workspace_agents.parent_id / display_apps, workspace_app_statuses, workspace_agent_context_snapshots.
 */
const subAgents: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('workspace_agents').addColumn('parent_id', 'text').execute();
    // JSON array of display app names; null = not set (provisioned agents).
    await db.schema.alterTable('workspace_agents').addColumn('display_apps', 'text').execute();
    await db.schema.createIndex('workspace_agents_parent').on('workspace_agents').column('parent_id').execute();
    await db.schema
      .createTable('workspace_app_statuses')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('created_at', ts, (c) => c.notNull())
      .addColumn('workspace_id', 'text', (c) => c.notNull())
      .addColumn('agent_id', 'text', (c) => c.notNull())
      .addColumn('app_id', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('message', 'text', (c) => c.notNull())
      .addColumn('uri', 'text')
      .execute();
    await db.schema.createIndex('workspace_app_statuses_app').on('workspace_app_statuses').columns(['app_id', 'created_at']).execute();
    await db.schema.createIndex('workspace_app_statuses_agent').on('workspace_app_statuses').columns(['agent_id', 'created_at']).execute();
    await db.schema
      .createTable('workspace_agent_context_snapshots')
      .addColumn('agent_id', 'text', (c) => c.primaryKey())
      .addColumn('version', 'bigint', (c) => c.notNull())
      .addColumn('aggregate_hash', 'text', (c) => c.notNull())
      .addColumn('snapshot_error', 'text', (c) => c.notNull())
      .addColumn('resources', 'text', (c) => c.notNull())
      .addColumn('received_at', ts, (c) => c.notNull())
      .execute();
  },
};

/** Provisioned agent metadata (coder_agent `metadata` blocks): what the agent runs and reports. */
const agentMetadataDescriptions: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('workspace_agents').addColumn('metadata_descriptions', 'text').execute();
  },
};

export const migrations: Record<string, Migration> = {
  '0001_init': init,
  '0002_agent_v2': agentV2,
  '0003_subagents': subAgents,
  '0004_agent_metadata_descriptions': agentMetadataDescriptions,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
};
