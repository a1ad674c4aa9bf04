/** Store rows → the JSON shapes Go clients decode. */
import type { App, AgentContext } from '../store/index.js';
import { goTime } from '../util/go-json.js';
import { deriveAgentStatus, type AgentStatus } from './agent-status.js';
import type { AgentReported } from '../store/read-cache.js';
import { startupScriptIds, STARTUP_SCRIPT_LOG_PATH } from '../agentapi/manifest.js';
import { appStatusJson } from '../agentapi/app-status.js';

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
  /** Current Coder fields (GET /{agent}); the 2023 manifest of /me/metadata leaves them out. */
  hidden?: boolean;
  open_in?: string;
  statuses?: Record<string, unknown>[];
}

/** One app; with `statuses` (current Coder shape) also hidden, open_in and its status history. */
export function appJson(app: App, statuses?: Record<string, unknown>[]): WorkspaceAppJson {
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
  if (statuses) {
    out.hidden = false;
    // Coder's default for apps whose template does not say.
    out.open_in = 'slim-window';
    out.statuses = statuses;
  }
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

/**
 * Display apps of agents whose provisioning does not list any: the Terraform provider's
 * defaults (vscode, web terminal, SSH and port-forwarding helpers; not VS Code Insiders).
 */
export const DEFAULT_DISPLAY_APPS = ['vscode', 'web_terminal', 'ssh_helper', 'port_forwarding_helper'] as const;

const SHUTTING_DOWN = new Set(['shutting_down', 'shutdown_timeout', 'shutdown_error', 'off']);

/** Current Coder's `health` of an agent, from its status and lifecycle (db2sdk.WorkspaceAgent). */
export function agentHealth(status: AgentStatus, lifecycle: string): { healthy: boolean; reason?: string } {
  if (status !== 'connected' && lifecycle === 'off') return { healthy: false, reason: 'agent is not running' };
  if (status === 'connecting') return { healthy: false, reason: 'agent has not yet connected' };
  if (status === 'timeout') return { healthy: false, reason: 'agent is taking too long to connect' };
  if (status === 'disconnected') return { healthy: false, reason: 'agent has lost connection' };
  if (lifecycle === 'start_error') return { healthy: false, reason: 'agent startup script exited with an error' };
  if (SHUTTING_DOWN.has(lifecycle)) return { healthy: false, reason: 'agent is shutting down' };
  return { healthy: true };
}

interface ScriptJson {
  id: string;
  log_source_id: string;
  log_path: string;
  script: string;
  cron: string;
  run_on_start: boolean;
  run_on_stop: boolean;
  start_blocks_login: boolean;
  timeout: number;
  display_name: string;
}

/** The provisioned startup script as a coder_script (the same ids the manifest hands the agent). */
function scriptsOf(a: AgentContext['agent']): ScriptJson[] {
  if (!a.startup_script) return [];
  const ids = startupScriptIds(a.id);
  return [
    {
      id: ids.scriptId,
      log_source_id: ids.logSourceId,
      log_path: STARTUP_SCRIPT_LOG_PATH,
      script: a.startup_script,
      cron: '',
      run_on_start: true,
      run_on_stop: false,
      start_blocks_login: a.login_before_ready !== 1,
      // time.Duration: nanoseconds.
      timeout: Number(a.startup_script_timeout_seconds) * 1e9,
      display_name: 'Startup Script',
    },
  ];
}

/** Log sources the agent created, plus its startup script's (Coder creates that one at provisioning). */
function logSourcesOf(a: AgentContext['agent'], reported: AgentReported): Record<string, string>[] {
  const out = reported.logSources.map((s) => ({ workspace_agent_id: a.id, id: s.id, created_at: goTime(s.created_at), display_name: s.display_name, icon: s.icon }));
  if (a.startup_script) {
    const id = startupScriptIds(a.id).logSourceId;
    if (!out.some((s) => s.id === id)) out.unshift({ workspace_agent_id: a.id, id, created_at: goTime(a.created_at), display_name: 'Startup Script', icon: '' });
  }
  return out;
}

export function agentJson(ctx: AgentContext, apps: App[], reported: AgentReported, opts: AgentJsonOptions): Record<string, unknown> {
  const a = ctx.agent;
  const { status, disconnectedAt } = deriveAgentStatus(a, opts.nowMs, opts.inactiveTimeoutMs);
  const runtime = reported.runtime;
  const scripts = scriptsOf(a);
  const out: Record<string, unknown> = {
    id: a.id,
    parent_id: a.parent_id ?? null,
    created_at: goTime(a.created_at),
    updated_at: goTime(a.updated_at),
  };
  if (a.first_connected_at) out['first_connected_at'] = goTime(a.first_connected_at);
  if (a.last_connected_at) out['last_connected_at'] = goTime(a.last_connected_at);
  if (disconnectedAt) out['disconnected_at'] = goTime(disconnectedAt);
  if (runtime?.started_at) out['started_at'] = goTime(runtime.started_at);
  if (runtime?.ready_at) out['ready_at'] = goTime(runtime.ready_at);
  out['status'] = status;
  out['lifecycle_state'] = a.lifecycle_state;
  out['name'] = a.name;
  out['resource_id'] = a.resource_id;
  if (a.auth_instance_id) out['instance_id'] = a.auth_instance_id;
  out['architecture'] = a.architecture;
  out['environment_variables'] = parseEnv(a.environment_variables);
  out['operating_system'] = a.operating_system;
  out['logs_length'] = reported.logsLength;
  out['logs_overflowed'] = reported.logsOverflowed;
  if (a.startup_script) out['startup_script'] = a.startup_script;
  if (a.directory) out['directory'] = a.directory;
  if (a.expanded_directory) out['expanded_directory'] = a.expanded_directory;
  out['version'] = a.version;
  out['api_version'] = runtime?.api_version ?? '';
  out['apps'] = apps.map((app) => appJson(app, reported.appStatuses.filter((st) => st.app_id === app.id).map(appStatusJson)));
  if (opts.latency && Object.keys(opts.latency).length > 0) out['latency'] = opts.latency;
  out['connection_timeout_seconds'] = Number(a.connection_timeout_seconds);
  out['troubleshooting_url'] = a.troubleshooting_url || opts.fallbackTroubleshootingUrl;
  out['login_before_ready'] = a.login_before_ready === 1;
  out['startup_script_timeout_seconds'] = Number(a.startup_script_timeout_seconds);
  out['subsystems'] = runtime?.subsystems ?? [];
  out['health'] = agentHealth(status, a.lifecycle_state);
  // Sub-agents carry the display apps their dev container asked for (CreateSubAgent).
  out['display_apps'] = a.display_apps ? (JSON.parse(a.display_apps) as string[]) : [...DEFAULT_DISPLAY_APPS];
  out['log_sources'] = logSourcesOf(a, reported);
  out['scripts'] = scripts;
  out['startup_script_behavior'] = scripts.some((s) => s.run_on_start && s.start_blocks_login) ? 'blocking' : 'non-blocking';
  return out;
}
