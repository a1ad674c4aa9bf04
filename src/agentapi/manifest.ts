/**
 * GetManifest (tailnet-v2.md §4.2): the agent row, its workspace/owner, apps,
 * startup script and the deployment's DERP map and flags, as coder.agent.v2.Manifest.
 * Every UUID is 16 bytes, apps never carry UNSPECIFIED enums and always a
 * healthcheck, and the DERP map always has home_params.
 */
import { createHash } from 'node:crypto';
import type { AgentContext, App, Store } from '../store/index.js';
import type { DERPMap as JsonDERPMap } from '../derpmap/types.js';
import { derpMapToProto } from '../rpc/convert/derpmap.js';
import { uuidToBytes } from '../rpc/convert/uuid.js';
import * as ap from '../rpc/proto/agent.js';
import { durationFromMillis } from '../rpc/proto/google.js';
import { parseMetadataDescriptions } from './metadata.js';

export const STARTUP_SCRIPT_LOG_PATH = 'coder-startup-script.log';

/** Deterministic UUID (version-4 layout) for objects tailnetd derives from an agent. */
export function derivedUuid(agentId: string, what: string): string {
  const h = createHash('sha256').update(`${agentId}:${what}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x40;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** The startup script's ids: Coder gives every script a log source with its display name. */
export function startupScriptIds(agentId: string): { scriptId: string; logSourceId: string } {
  return { scriptId: derivedUuid(agentId, 'startup-script'), logSourceId: derivedUuid(agentId, 'startup-script-log-source') };
}

const SHARING: Record<string, number> = { owner: ap.SharingLevel.OWNER, authenticated: ap.SharingLevel.AUTHENTICATED, public: ap.SharingLevel.PUBLIC };
const HEALTH: Record<string, number> = {
  disabled: ap.AppHealth.DISABLED,
  initializing: ap.AppHealth.INITIALIZING,
  healthy: ap.AppHealth.HEALTHY,
  unhealthy: ap.AppHealth.UNHEALTHY,
};

export interface ManifestOptions {
  accessUrl: URL;
  wildcardAccessUrl: string;
  derpMap: JsonDERPMap;
  disableDirectConnections: boolean;
  derpForceWebsockets: boolean;
}

export function vscodePortProxyUri(accessUrl: URL, wildcard: string, agent: string, workspace: string, owner: string): string {
  if (!wildcard) return '';
  const scheme = accessUrl.protocol.replace(':', '');
  let host = wildcard.replace('*', `{{port}}--${agent}--${workspace}--${owner}`);
  if (accessUrl.port && !/:\d+$/.test(host)) host += `:${accessUrl.port}`;
  return `${scheme}://${host}`;
}

export function appToProto(app: App, ctx: AgentContext): ap.WorkspaceApp {
  const subdomain = app.subdomain === 1;
  return {
    id: uuidToBytes(app.id),
    url: app.url,
    external: app.external === 1,
    slug: app.slug,
    displayName: app.display_name,
    command: app.command,
    icon: app.icon,
    subdomain,
    subdomainName: subdomain ? `${app.slug}--${ctx.agent.name}--${ctx.workspace.name}--${ctx.ownerUsername}` : '',
    sharingLevel: SHARING[app.sharing_level] ?? ap.SharingLevel.OWNER,
    healthcheck: {
      url: app.healthcheck_url,
      interval: durationFromMillis(Number(app.healthcheck_interval) * 1000),
      threshold: Number(app.healthcheck_threshold),
    },
    health: HEALTH[app.health] ?? ap.AppHealth.DISABLED,
    hidden: false,
  };
}

export async function buildManifest(store: Store, ctx: AgentContext, opts: ManifestOptions): Promise<ap.Manifest> {
  const { agent } = ctx;
  const [apps, gitAuthConfigs] = await Promise.all([store.agents.apps(agent.id), store.gitauth.countProviders()]);
  const env = new Map<string, string>(Object.entries(agent.environment_variables ? (JSON.parse(agent.environment_variables) as Record<string, string>) : {}));
  const scripts: ap.WorkspaceAgentScript[] = [];
  if (agent.startup_script) {
    const ids = startupScriptIds(agent.id);
    await store.agentLogs.ensureSource(agent.id, { id: ids.logSourceId, displayName: 'Startup Script', icon: '' });
    scripts.push({
      logSourceId: uuidToBytes(ids.logSourceId),
      logPath: STARTUP_SCRIPT_LOG_PATH,
      script: agent.startup_script,
      cron: '',
      runOnStart: true,
      runOnStop: false,
      startBlocksLogin: agent.login_before_ready !== 1,
      timeout: durationFromMillis(Number(agent.startup_script_timeout_seconds) * 1000),
      displayName: 'Startup Script',
      id: uuidToBytes(ids.scriptId),
    });
  }
  return {
    agentId: uuidToBytes(agent.id),
    agentName: agent.name,
    ownerUsername: ctx.ownerUsername,
    workspaceId: uuidToBytes(ctx.workspace.id),
    workspaceName: ctx.workspace.name,
    gitAuthConfigs,
    environmentVariables: env,
    directory: agent.directory,
    vsCodePortProxyUri: vscodePortProxyUri(opts.accessUrl, opts.wildcardAccessUrl, agent.name, ctx.workspace.name, ctx.ownerUsername),
    motdPath: agent.motd_file,
    disableDirectConnections: opts.disableDirectConnections,
    derpForceWebsockets: opts.derpForceWebsockets,
    // Dev-container sub-agents learn their parent (API 2.5); older agents skip the unknown field.
    ...(agent.parent_id ? { parentId: uuidToBytes(agent.parent_id) } : {}),
    derpMap: derpMapToProto(opts.derpMap),
    scripts,
    apps: apps.map((a) => appToProto(a, ctx)),
    metadata: parseMetadataDescriptions(agent.metadata_descriptions).map((d) => ({
      displayName: d.display_name,
      key: d.key,
      script: d.script,
      interval: durationFromMillis(d.interval * 1000),
      timeout: durationFromMillis(d.timeout * 1000),
    })),
    devcontainers: [],
    secrets: [],
  };
}
