/**
 * Typed tables, one source for both engines. Portable column types only:
 * timestamps are ISO-8601 UTC text with millisecond precision (sortable as text),
 * booleans are 0/1 integers, JSON is text. IDs are UUID text.
 */
import type { Generated } from 'kysely';

export type Timestamp = string;

export interface UsersTable {
  id: string;
  username: string;
  email: string;
  status: string; // 'active' | 'suspended'
  is_admin: number;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ApiKeysTable {
  id: string; // 10-char public id
  hashed_secret: string; // sha256 hex of the 22-char secret
  user_id: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  last_used: Timestamp;
  expires_at: Timestamp;
  lifetime_seconds: number;
  ip_address: string;
}

export interface WorkspacesTable {
  id: string;
  owner_id: string;
  name: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  last_used_at: Timestamp;
  ttl_ms: number | null;
  latest_build_id: string | null;
}

export interface WorkspaceBuildsTable {
  id: string;
  workspace_id: string;
  build_number: number;
  transition: string; // 'start' | 'stop' | 'delete'
  job_type: string; // 'workspace_build'
  job_completed_at: Timestamp | null;
  deadline: Timestamp | null;
  max_deadline: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface WorkspaceAgentsTable {
  id: string;
  workspace_id: string;
  build_id: string;
  resource_id: string;
  name: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  first_connected_at: Timestamp | null;
  last_connected_at: Timestamp | null;
  disconnected_at: Timestamp | null;
  last_connected_replica_id: string | null;
  auth_type: string; // 'token' | 'aws-instance-identity' | ...
  auth_instance_id: string | null;
  architecture: string;
  operating_system: string;
  environment_variables: string | null; // JSON object or null
  startup_script: string;
  startup_script_timeout_seconds: number;
  directory: string;
  expanded_directory: string;
  motd_file: string;
  connection_timeout_seconds: number;
  troubleshooting_url: string;
  login_before_ready: number;
  version: string;
  lifecycle_state: string;
  /** Dev-container sub-agents (Agent API 2.6): the agent that created this one; null for provisioned agents. */
  parent_id: string | null;
  /** JSON array of display app names set by CreateSubAgent; null when never set. */
  display_apps: string | null;
  /** JSON array of provisioned metadata descriptions (src/agentapi/metadata.ts); null = none. */
  metadata_descriptions: string | null;
}

export interface AgentTokensTable {
  hashed_token: string; // sha256 hex of the UUID token
  agent_id: string;
  created_at: Timestamp;
}

export interface WorkspaceAppsTable {
  id: string;
  agent_id: string;
  slug: string;
  display_name: string;
  url: string;
  command: string;
  icon: string;
  subdomain: number;
  external: number;
  sharing_level: string;
  healthcheck_url: string;
  healthcheck_interval: number;
  healthcheck_threshold: number;
  health: string;
  created_at: Timestamp;
}

export interface GitSshKeysTable {
  user_id: string;
  public_key: string;
  private_key: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface GitAuthProvidersTable {
  id: string;
  type: string; // github | gitlab | bitbucket | azure-devops | other
  client_id: string;
  client_secret: string;
  auth_url: string;
  token_url: string;
  validate_url: string;
  regex: string;
  scopes: string; // space separated
  no_refresh: number;
  position: number;
  created_at: Timestamp;
}

export interface GitAuthLinksTable {
  provider_id: string;
  user_id: string;
  oauth_access_token: string;
  oauth_refresh_token: string;
  oauth_expiry: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface GitAuthStatesTable {
  state: string;
  provider_id: string;
  user_id: string;
  redirect: string;
  created_at: Timestamp;
}

export interface WorkspaceAgentStatsTable {
  id: string;
  created_at: Timestamp;
  agent_id: string;
  workspace_id: string;
  user_id: string;
  connections_by_proto: string;
  connection_count: number;
  rx_packets: number;
  rx_bytes: number;
  tx_packets: number;
  tx_bytes: number;
}

export interface MigrationsSeq {
  id: Generated<number>;
}

export interface Database {
  users: UsersTable;
  api_keys: ApiKeysTable;
  workspaces: WorkspacesTable;
  workspace_builds: WorkspaceBuildsTable;
  workspace_agents: WorkspaceAgentsTable;
  agent_tokens: AgentTokensTable;
  workspace_apps: WorkspaceAppsTable;
  gitsshkeys: GitSshKeysTable;
  git_auth_providers: GitAuthProvidersTable;
  git_auth_links: GitAuthLinksTable;
  git_auth_states: GitAuthStatesTable;
  workspace_agent_stats: WorkspaceAgentStatsTable;
}
