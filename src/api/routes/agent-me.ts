/**
 * Agent-side REST routes (/api/v2/workspaceagents/me/*), authenticated by the agent token.
 */
import type { HttpRoute, Reply } from '../http/router.js';
import type { RequestContext } from '../http/context.js';
import { apiError, Msg } from '../http/errors.js';
import type { ApiDeps } from '../deps.js';
import { authenticateAgent } from '../auth.js';
import { readGoBody } from '../read-body.js';
import { appJson, parseEnv } from '../serialize.js';
import {
  agentMetadataSchema, appHealthRequestSchema, errorSchema, gitAuthResponseSchema, gitSshKeySchema, lifecycleRequestSchema,
  lifecycleStates, startupRequestSchema, statsRequestSchema, statsResponseSchema,
} from '../schemas.js';
import { isUuid } from '../../store/ids.js';
import { formatCredentials, matchProvider } from '../../gitauth/format.js';
import { GITAUTH_CHANNEL } from '../../gitauth/service.js';
import { z } from 'zod';
import { appStatusRoutes } from './app-status.js';

const ME = '/api/v2/workspaceagents/me';
const NS_PER_MS = 1_000_000;
const err = (description: string) => ({ description, schema: errorSchema });
const agentErrors = { 401: err('Missing or invalid agent token.'), 500: err('Internal error.') };

export function workspaceChannel(workspaceId: string): string {
  return `workspace:${workspaceId}`;
}

export function agentMeRoutes(deps: ApiDeps): HttpRoute[] {
  const { store } = deps;

  const metadata: HttpRoute = {
    kind: 'http',
    method: 'GET',
    path: `${ME}/metadata`,
    doc: { summary: 'Get authorized workspace agent metadata', tags: ['Agents'], auth: 'agent', responses: { 200: { description: 'OK', schema: agentMetadataSchema }, ...agentErrors } },
    async handle(ctx) {
      const agent = await authenticateAgent(ctx, store);
      const context = await store.agents.context(agent.id);
      if (!context) throw apiError(500, 'Internal error fetching workspace.');
      let env: Record<string, string> | null;
      try {
        env = parseEnv(agent.environment_variables);
      } catch (e) {
        throw apiError(500, 'Internal error reading workspace agent.', String(e));
      }
      const apps = await store.agents.apps(agent.id);
      return {
        status: 200,
        body: {
          git_auth_configs: await store.gitauth.countProviders(),
          vscode_port_proxy_uri: vscodePortProxyUri(deps, agent.name, context.workspace.name, context.ownerUsername),
          apps: apps.map((app) => appJson(app)),
          derpmap: deps.derpMap.current(),
          environment_variables: env,
          startup_script: agent.startup_script,
          startup_script_timeout: Number(agent.startup_script_timeout_seconds) * 1000 * NS_PER_MS,
          directory: agent.directory,
          motd_file: agent.motd_file,
        },
      };
    },
  };

  const reportStats: HttpRoute = {
    kind: 'http',
    method: 'POST',
    path: `${ME}/report-stats`,
    doc: {
      summary: 'Submit workspace agent stats',
      tags: ['Agents'],
      auth: 'agent',
      request: statsRequestSchema,
      responses: { 200: { description: 'OK', schema: statsResponseSchema }, 400: err('Bad request.'), ...agentErrors },
    },
    async handle(ctx) {
      const agent = await authenticateAgent(ctx, store);
      const workspace = await store.workspaces.byId(agent.workspace_id).catch(() => undefined);
      if (!workspace) throw apiError(400, 'Failed to get workspace.');
      const stats = await readGoBody(ctx, statsRequestSchema);
      const reply = { status: 200, body: { report_interval: deps.statsIntervalMs * NS_PER_MS } };
      const rxBytes = stats.rx_bytes ?? 0;
      const txBytes = stats.tx_bytes ?? 0;
      // An empty report only asks for the interval: no side effects.
      if (rxBytes === 0 && txBytes === 0) return reply;
      // Activity bump runs inline but is best effort, as in coderd: logged, never failing the report.
      if (workspace.ttl_ms) {
        await store.workspaces.bumpDeadline(workspace.id).catch((e: unknown) => {
          deps.logger.warn({ err: String(e), workspace_id: workspace.id }, 'activity bump failed');
        });
      }
      await store.stats.insert({
        agentId: agent.id,
        workspaceId: workspace.id,
        userId: workspace.owner_id,
        connectionsByProto: stats.conns_by_proto ?? {},
        connectionCount: stats.num_comms ?? 0,
        rxPackets: stats.rx_packets ?? 0,
        rxBytes,
        txPackets: stats.tx_packets ?? 0,
        txBytes,
      });
      return reply;
    },
  };

  const appHealth: HttpRoute = {
    kind: 'http',
    method: 'POST',
    path: `${ME}/app-health`,
    doc: {
      summary: 'Submit workspace agent application health',
      tags: ['Agents'],
      auth: 'agent',
      request: appHealthRequestSchema,
      responses: { 200: { description: 'OK (body null)' }, 400: err('Bad request.'), 404: err('Unknown app or health checking disabled.'), ...agentErrors },
    },
    async handle(ctx) {
      const agent = await authenticateAgent(ctx, store);
      const body = await readGoBody(ctx, z.object({ healths: z.record(z.string(), z.unknown()).nullable().optional() }));
      const healths = body.healths ?? {};
      for (const key of Object.keys(healths)) {
        if (!isUuid(key)) throw apiError(400, Msg.invalidJson, `invalid UUID length: ${key.length}`);
      }
      if (Object.keys(healths).length === 0) throw apiError(400, 'Health field is empty');
      const apps = await store.agents.apps(agent.id).catch((e: unknown) => {
        throw apiError(500, 'Error getting agent apps', String(e));
      });
      const byId = new Map(apps.map((a) => [a.id, a]));
      const updates: { id: string; health: string }[] = [];
      // All entries are validated before any write.
      for (const [id, value] of Object.entries(healths)) {
        const app = byId.get(id.toLowerCase());
        if (!app) throw apiError(404, 'Error setting workspace app health', `workspace app name ${id} not found`);
        if (!app.healthcheck_url) throw apiError(404, 'Error setting workspace app health', `health checking is disabled for workspace app ${id}`);
        if (value !== 'initializing' && value !== 'healthy' && value !== 'unhealthy') {
          throw apiError(400, 'Error setting workspace app health', `workspace app health ${String(value)} is not a valid value`);
        }
        if (app.health !== value) updates.push({ id: app.id, health: value });
      }
      await store.agents.setAppHealths(agent.id, updates).catch((e: unknown) => {
        throw apiError(500, 'Error setting workspace app health', String(e));
      });
      deps.pubsub.publish(workspaceChannel(agent.workspace_id), '');
      return { status: 200, body: null };
    },
  };

  const gitSshKey: HttpRoute = {
    kind: 'http',
    method: 'GET',
    path: `${ME}/gitsshkey`,
    doc: { summary: "Get the workspace owner's git SSH key", tags: ['Agents'], auth: 'agent', responses: { 200: { description: 'OK', schema: gitSshKeySchema }, ...agentErrors } },
    async handle(ctx) {
      const agent = await authenticateAgent(ctx, store);
      const workspace = await store.workspaces.byId(agent.workspace_id);
      if (!workspace) throw apiError(500, 'Internal error fetching workspace.');
      const key = await store.gitauth.sshKey(workspace.owner_id).catch((e: unknown) => {
        throw apiError(500, 'Internal error fetching git SSH key.', String(e));
      });
      return { status: 200, body: { public_key: key.public_key, private_key: key.private_key } };
    },
  };

  const gitAuth: HttpRoute = {
    kind: 'http',
    method: 'GET',
    path: `${ME}/gitauth`,
    doc: {
      summary: 'Get git credentials for a repository URL',
      tags: ['Agents'],
      auth: 'agent',
      query: { url: { description: 'Git remote URL', required: true }, listen: { description: 'Long-poll until the user has authenticated' } },
      responses: { 200: { description: 'OK', schema: gitAuthResponseSchema }, 400: err('Missing url.'), 404: err('No provider matches.'), ...agentErrors },
    },
    async handle(ctx) {
      const agent = await authenticateAgent(ctx, store);
      const url = ctx.query.get('url') ?? '';
      if (!url) throw apiError(400, "Missing 'url' query parameter!");
      const provider = matchProvider(await store.gitauth.providers(), url);
      if (!provider) throw apiError(404, `No git provider found for URL "${url}"`);
      const workspace = await store.workspaces.byId(agent.workspace_id);
      if (!workspace) throw apiError(500, 'Failed to get workspace.');
      const userId = workspace.owner_id;
      if (ctx.query.has('listen')) return listenForToken(ctx, deps, provider.id, userId);
      const link = await store.gitauth.link(provider.id, userId);
      const loginUrl = new URL(`/gitauth/${encodeURIComponent(provider.id)}`, deps.accessUrl).toString();
      if (!link) return { status: 200, body: { username: '', password: '', url: loginUrl } };
      let check;
      try {
        check = await deps.gitauth.refresh(provider, link);
      } catch (e) {
        throw apiError(500, 'Failed to refresh git auth token.', String(e));
      }
      if (!check.usable) return { status: 200, body: { username: '', password: '', url: loginUrl } };
      return { status: 200, body: formatCredentials(provider.type, check.token) };
    },
  };

  const startup: HttpRoute = {
    kind: 'http',
    method: 'POST',
    path: `${ME}/startup`,
    doc: { summary: 'Submit workspace agent startup', tags: ['Agents'], auth: 'agent', request: startupRequestSchema, responses: { 200: { description: 'OK (body null)' }, 400: err('Invalid version.'), ...agentErrors } },
    async handle(ctx) {
      const agent = await authenticateAgent(ctx, store);
      const body = await readGoBody(ctx, startupRequestSchema);
      if (!isSemver(body.version)) throw apiError(400, 'Invalid workspace agent version provided.', `invalid semver version: "${body.version}"`);
      await store.agents.setStartup(agent.id, body.version, body.expanded_directory ?? '').catch((e: unknown) => {
        throw apiError(500, 'Error setting agent version', String(e));
      });
      return { status: 200, body: null };
    },
  };

  const lifecycle: HttpRoute = {
    kind: 'http',
    method: 'POST',
    path: `${ME}/report-lifecycle`,
    doc: { summary: 'Submit workspace agent lifecycle state', tags: ['Agents'], auth: 'agent', request: lifecycleRequestSchema, responses: { 204: { description: 'No Content' }, 400: err('Invalid state.'), ...agentErrors } },
    async handle(ctx) {
      const agent = await authenticateAgent(ctx, store);
      const body = await readGoBody(ctx, lifecycleRequestSchema);
      if (!(lifecycleStates as readonly string[]).includes(body.state)) throw apiError(400, 'Invalid lifecycle state.', `invalid lifecycle state: "${body.state}"`);
      await store.agents.setLifecycle(agent.id, body.state).catch((e: unknown) => {
        throw apiError(500, 'Failed to update lifecycle state.', String(e));
      });
      deps.pubsub.publish(workspaceChannel(agent.workspace_id), '');
      return { status: 204 };
    },
  };

  return [metadata, reportStats, appHealth, gitSshKey, gitAuth, startup, lifecycle, ...appStatusRoutes(deps)];
}

/** golang.org/x/mod/semver.IsValid: a leading "v", then MAJOR[.MINOR[.PATCH[-pre][+build]]]. */
export function isSemver(v: string): boolean {
  return /^v(0|[1-9]\d*)(\.(0|[1-9]\d*)(\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?)?)?$/.test(v) &&
    // Pre-release and build are only valid after a full MAJOR.MINOR.PATCH.
    !/^v\d+(\.\d+)?[-+]/.test(v);
}

function vscodePortProxyUri(deps: ApiDeps, agentName: string, workspaceName: string, owner: string): string {
  const access = deps.accessUrl;
  let uri = '';
  if (deps.wildcardAccessUrl) {
    const scheme = access.protocol.replace(':', '');
    uri = deps.wildcardAccessUrl.replaceAll('*', `${scheme}://{{port}}--${agentName}--${workspaceName}--${owner}`);
  }
  if (access.port) uri += `:${access.port}`;
  return uri;
}

/** The `listen` long-poll: re-check every second or when a link for this provider/user changes. */
async function listenForToken(ctx: RequestContext, deps: ApiDeps, providerId: string, userId: string): Promise<Reply> {
  const { store } = deps;
  return new Promise<Reply>((resolve, reject) => {
    let done = false;
    let checking = false;
    let again = false;
    const finish = (r: Reply | Error): void => {
      if (done) return;
      done = true;
      unsubscribe();
      timer.cancel();
      ctx.req.socket.off('close', onClose);
      if (r instanceof Error) reject(r);
      else resolve(r);
    };
    const check = async (): Promise<void> => {
      if (done) return;
      if (checking) {
        again = true;
        return;
      }
      checking = true;
      try {
        const link = await store.gitauth.link(providerId, userId);
        // coderd 2023 treated a missing expiry as expired here, so GitHub links (no expiry) never
        // released the long-poll; we treat a missing expiry as "does not expire".
        if (link && (link.oauth_expiry === null || Date.parse(link.oauth_expiry) > deps.clock.now())) {
          const provider = await store.gitauth.provider(providerId);
          if (provider) {
            let valid = false;
            try {
              valid = await deps.gitauth.validate(provider, link.oauth_access_token);
            } catch (e) {
              deps.logger.debug({ provider: providerId, err: String(e) }, 'git auth validate failed');
            }
            if (valid) finish({ status: 200, body: formatCredentials(provider.type, link.oauth_access_token) });
          }
        }
      } catch (e) {
        finish(apiError(500, 'Failed to get git auth link.', String(e)));
      } finally {
        checking = false;
        if (again && !done) {
          again = false;
          void check();
        }
      }
    };
    const onClose = (): void => finish({ status: 499 });
    const unsubscribe = deps.pubsub.subscribe(GITAUTH_CHANNEL, (message) => {
      if (message === `${providerId}|${userId}`) void check();
    });
    const timer = deps.clock.setInterval(() => void check(), 1000);
    ctx.req.socket.on('close', onClose);
    void check();
  });
}
