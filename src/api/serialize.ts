/** Store rows → the JSON shapes Go clients decode. */
import type { App, AgentContext } from '../store/index.js';
import { goTime } from '../util/go-json.js';
import { deriveAgentStatus } from './agent-status.js';

export interface WorkspaceAppJson {
  id: string;
  url: string;
  external: boolean;
  slug: string;
  display_name: string;
  command?: string;
  icon?: string;
  subdomain: boolean;
  sharing_level: string;
  healthcheck: { url: string; interval: number; threshold: number };
  health: string;
}

export function appJson(app: App): WorkspaceAppJson {
  const out: WorkspaceAppJson = {
    id: app.id,
    url: app.url,
    external: app.external === 1,
    slug: app.slug,
    display_name: app.display_name,
    subdomain: app.subdomain === 1,
    sharing_level: app.sharing_level,
    healthcheck: { url: app.healthcheck_url, interval: Number(app.healthcheck_interval), threshold: Number(app.healthcheck_threshold) },
    health: app.health,
  };
  if (app.command) out.command = app.command;
  if (app.icon) out.icon = app.icon;
  return out;
}

export function parseEnv(text: string | null): Record<string, string> | null {
  if (text === null) return null;
  return JSON.parse(text) as Record<string, string>;
}

export interface AgentJsonOptions {
  nowMs: number;
  inactiveTimeoutMs: number;
  fallbackTroubleshootingUrl: string;
  latency?: Record<string, { preferred: boolean; latency_ms: number }>;
}

export function agentJson(ctx: AgentContext, apps: App[], opts: AgentJsonOptions): Record<string, unknown> {
  const a = ctx.agent;
  const { status, disconnectedAt } = deriveAgentStatus(a, opts.nowMs, opts.inactiveTimeoutMs);
  const out: Record<string, unknown> = {
    id: a.id,
    created_at: goTime(a.created_at),
    updated_at: goTime(a.updated_at),
  };
  if (a.first_connected_at) out['first_connected_at'] = goTime(a.first_connected_at);
  if (a.last_connected_at) out['last_connected_at'] = goTime(a.last_connected_at);
  if (disconnectedAt) out['disconnected_at'] = goTime(disconnectedAt);
  out['status'] = status;
  out['lifecycle_state'] = a.lifecycle_state;
  out['name'] = a.name;
  out['resource_id'] = a.resource_id;
  if (a.auth_instance_id) out['instance_id'] = a.auth_instance_id;
  out['architecture'] = a.architecture;
  out['environment_variables'] = parseEnv(a.environment_variables);
  out['operating_system'] = a.operating_system;
  if (a.startup_script) out['startup_script'] = a.startup_script;
  if (a.directory) out['directory'] = a.directory;
  if (a.expanded_directory) out['expanded_directory'] = a.expanded_directory;
  out['version'] = a.version;
  out['apps'] = apps.map(appJson);
  if (opts.latency && Object.keys(opts.latency).length > 0) out['latency'] = opts.latency;
  out['connection_timeout_seconds'] = Number(a.connection_timeout_seconds);
  out['troubleshooting_url'] = a.troubleshooting_url || opts.fallbackTroubleshootingUrl;
  out['login_before_ready'] = a.login_before_ready === 1;
  out['startup_script_timeout_seconds'] = Number(a.startup_script_timeout_seconds);
  return out;
}
