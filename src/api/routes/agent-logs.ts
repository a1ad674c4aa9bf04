/**
 * Read side of what agents send over the v2 Agent API, for users with read access:
 * GET /api/v2/workspaceagents/{workspaceagent}/logs (Coder's WorkspaceAgentLog list; as a
 * WebSocket with `follow`, JSON text messages each holding an array of new lines, woken by the
 * agent-logs:<agent> channel the Agent API publishes on),
 * /log-sources and /metadata (current values, Coder's WorkspaceAgentMetadata shape).
 */
import { z } from 'zod';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Route, UpgradeRoute } from '../http/router.js';
import { agentLogsChannel, appendAgentLogs, LOG_LEVELS } from '../../agentapi/logs.js';
import { authenticateAgent } from '../auth.js';
import { readGoBody } from '../read-body.js';
import { isUuid, nowIso } from '../../store/ids.js';
import type { HttpRoute } from '../http/router.js';
import type { RequestContext } from '../http/context.js';
import type { Store } from '../../store/index.js';
import type { Pubsub } from '../../pubsub/pubsub.js';
import type { ApiDeps } from '../deps.js';
import { apiError } from '../http/errors.js';
import { authenticateUser, loadAgentParam } from '../auth.js';
import { errorSchema } from '../schemas.js';
import { notAnUpgrade } from '../http/ws-accept.js';
import { rejectUpgrade } from '../http/server.js';
import { metadataJson, parseMetadataDescriptions } from '../../agentapi/metadata.js';

const logSchema = z.array(z.object({ id: z.number().int(), created_at: z.string(), output: z.string(), level: z.string(), source_id: z.string() }));
const sourceSchema = z.array(z.object({ id: z.string(), workspace_agent_id: z.string(), created_at: z.string(), display_name: z.string(), icon: z.string() }));
const metadataSchema = z.array(
  z.object({
    result: z.object({ collected_at: z.string(), age: z.number().int(), value: z.string(), error: z.string() }),
    description: z.object({ display_name: z.string(), key: z.string(), script: z.string(), interval: z.number().int(), timeout: z.number().int() }),
  }),
);

export function agentLogRoutes(deps: ApiDeps): Route[] {
  const { store, clock } = deps;
  const err = (description: string) => ({ description, schema: errorSchema });
  const errors = { 400: err('Invalid agent id or query.'), 401: err('Not signed in.'), 404: err('Unknown agent or no access.') };
  const base = '/api/v2/workspaceagents/{workspaceagent}';
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false, maxPayload: 4096 });
  const load = async (ctx: RequestContext): Promise<{ agentId: string; after: number; limit: number }> => {
    const session = await authenticateUser(ctx, store, clock);
    const c = await loadAgentParam(ctx, store, session, 'read');
    const afterText = ctx.query.get('after') || '0';
    if (!/^\d+$/.test(afterText)) throw apiError(400, 'Query param "after" must be an integer.', undefined, [{ field: 'after', detail: 'Must be an integer' }]);
    const limitText = ctx.query.get('limit') || '10000';
    if (!/^\d+$/.test(limitText)) throw apiError(400, 'Query param "limit" must be an integer.', undefined, [{ field: 'limit', detail: 'Must be an integer' }]);
    return { agentId: c.agent.id, after: Number(afterText), limit: Math.min(10_000, Math.max(1, Number(limitText))) };
  };
  const logsRoute: UpgradeRoute = {
    kind: 'upgrade',
    method: 'GET',
    path: `${base}/logs`,
    doc: {
      summary: 'Get logs by workspace agent (JSON; with follow, a WebSocket of JSON arrays of new lines)',
      tags: ['Agents'],
      auth: 'user',
      query: {
        after: { description: 'Only lines with an id greater than this' },
        limit: { description: 'At most this many lines (default and maximum 10000; JSON only)' },
        follow: { description: 'Upgrade to a WebSocket and stream new lines as they arrive' },
      },
      responses: { 200: { description: 'OK', schema: logSchema }, 101: { description: 'Switching protocols (follow)' }, ...errors },
    },
    async plain(ctx) {
      const q = await load(ctx);
      const rows = await store.agentLogs.list(q.agentId, q.after, q.limit);
      // With follow coderd goes on to accept a WebSocket, which a plain request fails (426 text + JSON).
      if (ctx.query.has('follow')) return notAnUpgrade(ctx.req);
      return { status: 200, body: rows };
    },
    async prepare(ctx) {
      const q = await load(ctx);
      if (!ctx.query.has('follow')) {
        // coderd only accepts a WebSocket with follow; otherwise the list is the answer, upgrade or not.
        const rows = await store.agentLogs.list(q.agentId, q.after, q.limit);
        return (_req, socket) => rejectUpgrade(socket, 200, rows);
      }
      return (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => followLogs(ws, store, deps.pubsub, q.agentId, q.after));
    },
  };
  return [
    logsRoute,
    {
      kind: 'http',
      method: 'GET',
      path: `${base}/log-sources`,
      doc: { summary: 'Get log sources by workspace agent', tags: ['Agents'], auth: 'user', responses: { 200: { description: 'OK', schema: sourceSchema }, ...errors } },
      async handle(ctx) {
        const session = await authenticateUser(ctx, store, clock);
        const c = await loadAgentParam(ctx, store, session, 'read');
        const rows = await store.agentLogs.sources(c.agent.id);
        return { status: 200, body: rows.map((r) => ({ id: r.id, workspace_agent_id: c.agent.id, created_at: r.created_at, display_name: r.display_name, icon: r.icon })) };
      },
    },
    {
      kind: 'http',
      method: 'GET',
      path: `${base}/metadata`,
      doc: { summary: 'Get current metadata values by workspace agent', tags: ['Agents'], auth: 'user', responses: { 200: { description: 'OK', schema: metadataSchema }, ...errors } },
      async handle(ctx) {
        const session = await authenticateUser(ctx, store, clock);
        const c = await loadAgentParam(ctx, store, session, 'read');
        return { status: 200, body: metadataJson(parseMetadataDescriptions(c.agent.metadata_descriptions), await store.agentRuntime.metadata(c.agent.id), clock.now()) };
      },
    },
  ];
}

/** Streams lines after `after` and every later batch until the socket closes. */
function followLogs(ws: WebSocket, store: Store, pubsub: Pubsub, agentId: string, after: number): void {
  let last = after;
  let busy = false;
  let again = false;
  let closed = false;
  const flush = async (): Promise<void> => {
    if (closed) return;
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      for (;;) {
        const rows = await store.agentLogs.list(agentId, last, 1000);
        if (rows.length === 0 || closed) break;
        ws.send(JSON.stringify(rows));
        last = rows[rows.length - 1]!.id;
        if (rows.length < 1000) break;
      }
    } catch {
      ws.close(1011, 'failed to read logs');
    } finally {
      busy = false;
      if (again) {
        again = false;
        void flush();
      }
    }
  };
  const unsubscribe = pubsub.subscribe(agentLogsChannel(agentId), () => void flush());
  const heartbeat = setInterval(() => ws.ping(), 15_000);
  ws.on('close', () => {
    closed = true;
    unsubscribe();
    clearInterval(heartbeat);
  });
  ws.on('error', () => ws.terminate());
  void flush();
}

const patchLogsSchema = z.object({
  log_source_id: z.string().optional(),
  logs: z
    .array(z.object({ created_at: z.string().optional(), output: z.string(), level: z.string().optional() }))
    .nullable()
    .optional(),
});
const logSourceRequestSchema = z.object({ id: z.string(), display_name: z.string(), icon: z.string().optional() });
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

/**
 * Agent-token REST routes for logs that Coder kept next to v2 (tailnet-v2.md §4.5):
 * PATCH /me/logs (envbuilder, logstream-kube) and POST /me/log-source.
 */
export function agentMeLogRoutes(deps: ApiDeps): HttpRoute[] {
  const { store, clock } = deps;
  const err = (description: string) => ({ description, schema: errorSchema });
  const agentErrors = { 401: err('Missing or invalid agent token.'), 500: err('Internal error.') };
  return [
    {
      kind: 'http',
      method: 'PATCH',
      path: '/api/v2/workspaceagents/me/logs',
      doc: {
        summary: 'Patch workspace agent logs',
        tags: ['Agents'],
        auth: 'agent',
        request: patchLogsSchema,
        responses: { 200: { description: 'OK' }, 400: err('No logs, bad level or bad source id.'), 413: err('Logs limit exceeded.'), ...agentErrors },
      },
      async handle(ctx) {
        const agent = await authenticateAgent(ctx, store);
        const body = await readGoBody(ctx, patchLogsSchema);
        const logs = body.logs ?? [];
        if (logs.length === 0) throw apiError(400, 'No logs provided.');
        const src = body.log_source_id ?? '';
        if (src && !isUuid(src)) throw apiError(400, 'Invalid log source id.', `invalid UUID length: ${src.length}`);
        const now = clock.now();
        const rows = logs.map((l) => {
          const level = (l.level || 'info').toLowerCase();
          if (!(LOG_LEVELS as readonly string[]).includes(level)) throw apiError(400, 'Invalid log level provided.', `invalid log level: "${l.level ?? ''}"`);
          const t = l.created_at ? Date.parse(l.created_at) : NaN;
          return { createdAt: nowIso(Number.isNaN(t) ? now : t), output: l.output, level };
        });
        const ok = await appendAgentLogs(deps, { id: agent.id, workspaceId: agent.workspace_id }, src && src !== ZERO_UUID ? src.toLowerCase() : null, rows);
        if (!ok) throw apiError(413, 'Logs limit exceeded');
        return { status: 200, body: { message: 'Appended logs.' } };
      },
    },
    {
      kind: 'http',
      method: 'POST',
      path: '/api/v2/workspaceagents/me/log-source',
      doc: {
        summary: 'Post workspace agent log source',
        tags: ['Agents'],
        auth: 'agent',
        request: logSourceRequestSchema,
        responses: { 201: { description: 'Created', schema: sourceSchema.element }, 400: err('Invalid id.'), ...agentErrors },
      },
      async handle(ctx) {
        const agent = await authenticateAgent(ctx, store);
        const body = await readGoBody(ctx, logSourceRequestSchema);
        if (!isUuid(body.id)) throw apiError(400, 'Invalid log source id.', `invalid UUID length: ${body.id.length}`);
        const id = body.id.toLowerCase();
        await store.agentLogs.ensureSource(agent.id, { id, displayName: body.display_name, icon: body.icon ?? '' });
        const row = (await store.agentLogs.sources(agent.id)).find((r) => r.id === id)!;
        return { status: 201, body: { workspace_agent_id: agent.id, id, created_at: row.created_at, display_name: row.display_name, icon: row.icon } };
      },
    },
  ];
}
