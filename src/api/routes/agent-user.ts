/**
 * User-side agent routes (/api/v2/workspaceagents/{workspaceagent}/*), authenticated by API key.
 */
import type { HttpRoute } from '../http/router.js';
import type { ApiDeps } from '../deps.js';
import { authenticateUser, loadAgentParam, loadAgentView } from '../auth.js';
import { agentJson } from '../serialize.js';
import { connectionInfoSchema, errorSchema, workspaceAgentSchema } from '../schemas.js';
import { apiError } from '../http/errors.js';

const BASE = '/api/v2/workspaceagents/{workspaceagent}';
const err = (description: string) => ({ description, schema: errorSchema });
const userErrors = { 400: err('Invalid agent id.'), 401: err('Not signed in.'), 404: err('Unknown agent or no access.'), 500: err('Internal error.') };

export type LatencyMap = Record<string, { preferred: boolean; latency_ms: number }>;

/** The latency map of GET /{agent}: keys "<regionID>-v4|v6" in seconds → region name → ms. */
export function latencyFromNode(node: { derp_latency?: Record<string, number> | null; preferred_derp?: number } | undefined, regionName: (id: number) => string | undefined): LatencyMap | undefined {
  if (!node?.derp_latency) return undefined;
  const out: LatencyMap = {};
  for (const [key, seconds] of Object.entries(node.derp_latency)) {
    const idText = key.split('-')[0] ?? '';
    const id = /^-?\d+$/.test(idText) ? Number(idText) : NaN;
    if (!Number.isInteger(id)) throw apiError(500, 'Internal error reading workspace agent.', `parse derp latency region id ${JSON.stringify(key)}`);
    const name = regionName(id) ?? `Unnamed ${id}`;
    out[name] = { preferred: node.preferred_derp === id, latency_ms: seconds * 1000 };
  }
  return out;
}

export function agentUserRoutes(deps: ApiDeps): HttpRoute[] {
  const { store, clock } = deps;

  const getAgent: HttpRoute = {
    kind: 'http',
    method: 'GET',
    path: BASE,
    doc: { summary: 'Get workspace agent by ID', tags: ['Agents'], auth: 'user', responses: { 200: { description: 'OK', schema: workspaceAgentSchema }, ...userErrors } },
    async handle(ctx) {
      const session = await authenticateUser(ctx, store, clock);
      const { context: agentCtx, apps } = await loadAgentView(ctx, store, session, 'read');
      const latency = latencyFromNode(deps.coordinator?.agentNode(agentCtx.agent.id), (id) => deps.derpMap.regionName(id));
      let body;
      try {
        body = agentJson(agentCtx, apps, {
          nowMs: clock.now(),
          inactiveTimeoutMs: deps.inactiveTimeoutMs,
          fallbackTroubleshootingUrl: deps.fallbackTroubleshootingUrl,
          ...(latency ? { latency } : {}),
        });
      } catch (e) {
        throw apiError(500, 'Internal error reading workspace agent.', String(e));
      }
      return { status: 200, body };
    },
  };

  const connection: HttpRoute = {
    kind: 'http',
    method: 'GET',
    path: `${BASE}/connection`,
    doc: { summary: 'Get connection info for workspace agent', tags: ['Agents'], auth: 'user', responses: { 200: { description: 'OK', schema: connectionInfoSchema }, ...userErrors } },
    async handle(ctx) {
      const session = await authenticateUser(ctx, store, clock);
      await loadAgentParam(ctx, store, session, 'read');
      return { status: 200, body: { derp_map: deps.derpMap.current() } };
    },
  };

  return [getAgent, connection];
}
