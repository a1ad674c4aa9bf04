/**
 * User-side agent routes (/api/v2/workspaceagents/{workspaceagent}/*), authenticated by API key.
 */
import type { HttpRoute, Reply } from '../http/router.js';
import type { ApiDeps } from '../deps.js';
import { authenticateUser, cachedAgentView, cachedUserSession, loadAgentParam, loadAgentView } from '../auth.js';
import { agentJson } from '../serialize.js';
import { connectionInfoSchema, errorSchema, workspaceAgentSchema } from '../schemas.js';
import { apiError } from '../http/errors.js';
import { goJsonEncode } from '../../util/go-json.js';
import { statusChangesAt } from '../agent-status.js';
import type { AgentView } from '../../store/read-cache.js';

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

const JSON_TYPE = 'application/json; charset=utf-8';
const ENCODED_TTL_MS = 1000;
const MAX_ENCODED = 10_000;

interface EncodedAgent {
  view: AgentView;
  nodeJson: string | null;
  body: string;
  /** Content-Type and Content-Length, built once per body. */
  headers: Record<string, string>;
  validUntil: number;
}

export function agentUserRoutes(deps: ApiDeps): HttpRoute[] {
  const { store, clock } = deps;
  const encoded = new Map<string, EncodedAgent>();

  /** The response for a loaded view; synchronous so the cached path needs no promise. */
  const agentReply = (view: AgentView): Reply => {
    const agentId = view.context.agent.id;
    const nodeJson = deps.coordinator?.agentNodeJson(agentId) ?? null;
    const now = clock.now();
    // The encoded body depends only on the (cached) view object, the held node and time
    // thresholds of the status rule: reuse it while all three are unchanged.
    const hit = encoded.get(agentId);
    if (hit && hit.view === view && hit.nodeJson === nodeJson && now < hit.validUntil) {
      return { status: 200, raw: hit.body, headers: hit.headers };
    }
    const latency = latencyFromNode(deps.coordinator?.agentNode(agentId), (id) => deps.derpMap.regionName(id));
    let body: string;
    try {
      body = goJsonEncode(
        agentJson(view.context, view.apps, view.reported, {
          nowMs: now,
          inactiveTimeoutMs: deps.inactiveTimeoutMs,
          fallbackTroubleshootingUrl: deps.fallbackTroubleshootingUrl,
          ...(latency ? { latency } : {}),
        }),
      );
    } catch (e) {
      throw apiError(500, 'Internal error reading workspace agent.', String(e));
    }
    const headers = { 'Content-Type': JSON_TYPE, 'Content-Length': String(Buffer.byteLength(body)) };
    if (encoded.size >= MAX_ENCODED) encoded.clear();
    encoded.set(agentId, { view, nodeJson, body, headers, validUntil: Math.min(now + ENCODED_TTL_MS, statusChangesAt(view.context.agent, deps.inactiveTimeoutMs)) });
    return { status: 200, raw: body, headers };
  };

  const getAgent: HttpRoute = {
    kind: 'http',
    method: 'GET',
    path: BASE,
    doc: { summary: 'Get workspace agent by ID', tags: ['Agents'], auth: 'user', responses: { 200: { description: 'OK', schema: workspaceAgentSchema }, ...userErrors } },
    async handle(ctx) {
      const session = await authenticateUser(ctx, store, clock);
      return agentReply(await loadAgentView(ctx, store, session, 'read'));
    },
    fast(ctx) {
      const session = cachedUserSession(ctx, store, clock);
      const view = session && cachedAgentView(ctx, store, session);
      return view ? agentReply(view) : null;
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
      return {
        status: 200,
        body: { derp_map: deps.derpMap.current(), derp_force_websockets: deps.derpForceWebsockets, disable_direct_connections: deps.disableDirectConnections },
      };
    },
  };

  return [getAgent, connection];
}
