/**
 * Wire schemas of the agents API (request bodies and responses), in zod so that the same
 * definitions validate input and generate the OpenAPI document.
 */
import { z } from 'zod';

export const errorSchema = z
  .object({
    message: z.string(),
    detail: z.string().optional(),
    validations: z.array(z.object({ field: z.string(), detail: z.string() })).optional(),
  })
  .meta({ id: 'Response' });

export const healthStates = ['disabled', 'initializing', 'healthy', 'unhealthy'] as const;

export const workspaceAppSchema = z
  .object({
    id: z.string().uuid(),
    url: z.string(),
    external: z.boolean(),
    slug: z.string(),
    display_name: z.string(),
    command: z.string().optional(),
    icon: z.string().optional(),
    subdomain: z.boolean(),
    sharing_level: z.enum(['owner', 'authenticated', 'public']),
    healthcheck: z.object({ url: z.string(), interval: z.number().int(), threshold: z.number().int() }),
    health: z.enum(healthStates),
    hidden: z.boolean().optional().describe('GET /{agent} only (current Coder shape)'),
    open_in: z.enum(['slim-window', 'tab']).optional().describe('GET /{agent} only (current Coder shape)'),
    statuses: z
      .array(
      z.object({
        id: z.string().uuid(),
        created_at: z.string(),
        workspace_id: z.string().uuid(),
        agent_id: z.string().uuid(),
        app_id: z.string().uuid(),
        uri: z.string(),
        message: z.string(),
        state: z.enum(['working', 'idle', 'complete', 'failure']),
        icon: z.string(),
        needs_user_attention: z.boolean(),
      }),
      )
      .optional()
      .describe('UpdateAppStatus history, newest first (GET /{agent} only)'),
  })
  .meta({ id: 'WorkspaceApp' });

export const derpMapSchema = z.record(z.string(), z.unknown()).meta({ id: 'DERPMap', description: 'tailcfg.DERPMap with Go field names' });

export const agentMetadataSchema = z
  .object({
    git_auth_configs: z.number().int(),
    vscode_port_proxy_uri: z.string(),
    apps: z.array(workspaceAppSchema),
    derpmap: derpMapSchema,
    environment_variables: z.record(z.string(), z.string()).nullable(),
    startup_script: z.string(),
    startup_script_timeout: z.number().int().describe('nanoseconds'),
    directory: z.string(),
    motd_file: z.string(),
  })
  .meta({ id: 'AgentMetadata' });

export const statsRequestSchema = z
  .object({
    conns_by_proto: z.record(z.string(), z.number().int()).nullable().optional(),
    num_comms: z.number().int().optional(),
    rx_packets: z.number().int().optional(),
    rx_bytes: z.number().int().optional(),
    tx_packets: z.number().int().optional(),
    tx_bytes: z.number().int().optional(),
  })
  .meta({ id: 'AgentStats' });

export const statsResponseSchema = z.object({ report_interval: z.number().int().describe('nanoseconds') }).meta({ id: 'AgentStatsResponse' });

export const appHealthRequestSchema = z
  .object({ healths: z.record(z.string().uuid(), z.string()).nullable().optional() })
  .meta({ id: 'PostAppHealthsRequest' });

export const gitSshKeySchema = z.object({ public_key: z.string(), private_key: z.string() }).meta({ id: 'AgentGitSSHKey' });

export const gitAuthResponseSchema = z.object({ username: z.string(), password: z.string(), url: z.string() }).meta({ id: 'GitAuthResponse' });

export const startupRequestSchema = z.object({ version: z.string(), expanded_directory: z.string().optional() }).meta({ id: 'PostStartupRequest' });

export const lifecycleStates = ['created', 'starting', 'start_timeout', 'start_error', 'ready', 'shutting_down', 'shutdown_timeout', 'shutdown_error', 'off'] as const;
export const lifecycleRequestSchema = z.object({ state: z.string() }).meta({ id: 'PostLifecycleRequest' });

export const workspaceAgentSchema = z
  .object({
    id: z.string().uuid(),
    parent_id: z.string().uuid().nullable().describe('Parent agent of a sub-agent (dev container), else null'),
    created_at: z.string(),
    updated_at: z.string(),
    first_connected_at: z.string().optional(),
    last_connected_at: z.string().optional(),
    disconnected_at: z.string().optional(),
    started_at: z.string().optional().describe('When the agent last reported lifecycle "starting"'),
    ready_at: z.string().optional().describe('When the agent last reported ready, start_timeout or start_error'),
    status: z.enum(['connecting', 'connected', 'disconnected', 'timeout']),
    lifecycle_state: z.enum(lifecycleStates),
    name: z.string(),
    resource_id: z.string().uuid(),
    instance_id: z.string().optional(),
    architecture: z.string(),
    environment_variables: z.record(z.string(), z.string()).nullable(),
    operating_system: z.string(),
    logs_length: z.number().int(),
    logs_overflowed: z.boolean(),
    startup_script: z.string().optional(),
    directory: z.string().optional(),
    expanded_directory: z.string().optional(),
    version: z.string(),
    api_version: z.string().describe('Agent API version the agent negotiated on /me/rpc ("" for v1 agents)'),
    apps: z.array(workspaceAppSchema),
    latency: z.record(z.string(), z.object({ preferred: z.boolean(), latency_ms: z.number() })).optional(),
    connection_timeout_seconds: z.number().int(),
    troubleshooting_url: z.string(),
    login_before_ready: z.boolean(),
    startup_script_timeout_seconds: z.number().int(),
    subsystems: z.array(z.enum(['envbox', 'envbuilder', 'exectrace'])),
    health: z.object({ healthy: z.boolean(), reason: z.string().optional() }),
    display_apps: z.array(z.enum(['vscode', 'vscode_insiders', 'web_terminal', 'port_forwarding_helper', 'ssh_helper'])),
    log_sources: z.array(
      z.object({ workspace_agent_id: z.string().uuid(), id: z.string().uuid(), created_at: z.string(), display_name: z.string(), icon: z.string() }),
    ),
    scripts: z.array(
      z.object({
        id: z.string().uuid(),
        log_source_id: z.string().uuid(),
        log_path: z.string(),
        script: z.string(),
        cron: z.string(),
        run_on_start: z.boolean(),
        run_on_stop: z.boolean(),
        start_blocks_login: z.boolean(),
        timeout: z.number().int().describe('Nanoseconds'),
        display_name: z.string(),
      }),
    ),
    startup_script_behavior: z.enum(['blocking', 'non-blocking']),
  })
  .meta({ id: 'WorkspaceAgent' });

export const connectionInfoSchema = z
  .object({ derp_map: derpMapSchema, derp_force_websockets: z.boolean(), disable_direct_connections: z.boolean() })
  .meta({ id: 'WorkspaceAgentConnectionInfo' });
