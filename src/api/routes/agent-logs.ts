/**
 * Read side of what agents send over the v2 Agent API, for users with read access:
 * GET /api/v2/workspaceagents/{workspaceagent}/logs (Coder's WorkspaceAgentLog list),
 * /log-sources and /metadata (current values, Coder's WorkspaceAgentMetadata shape).
 */
import { z } from 'zod';
import type { HttpRoute } from '../http/router.js';
import type { ApiDeps } from '../deps.js';
import { apiError } from '../http/errors.js';
import { authenticateUser, loadAgentParam } from '../auth.js';
import { errorSchema } from '../schemas.js';

const logSchema = z.array(z.object({ id: z.number().int(), created_at: z.string(), output: z.string(), level: z.string(), source_id: z.string() }));
const sourceSchema = z.array(z.object({ id: z.string(), workspace_agent_id: z.string(), created_at: z.string(), display_name: z.string(), icon: z.string() }));
const metadataSchema = z.array(
  z.object({
    result: z.object({ collected_at: z.string(), age: z.number().int(), value: z.string(), error: z.string() }),
    description: z.object({ display_name: z.string(), key: z.string(), script: z.string(), interval: z.number().int(), timeout: z.number().int() }),
  }),
);

export function agentLogRoutes(deps: ApiDeps): HttpRoute[] {
  const { store, clock } = deps;
  const err = (description: string) => ({ description, schema: errorSchema });
  const errors = { 400: err('Invalid agent id or query.'), 401: err('Not signed in.'), 404: err('Unknown agent or no access.') };
  const base = '/api/v2/workspaceagents/{workspaceagent}';
  return [
    {
      kind: 'http',
      method: 'GET',
      path: `${base}/logs`,
      doc: {
        summary: 'Get logs by workspace agent',
        tags: ['Agents'],
        auth: 'user',
        query: { after: { description: 'Only lines with an id greater than this' }, limit: { description: 'At most this many lines (default and maximum 10000)' } },
        responses: { 200: { description: 'OK', schema: logSchema }, ...errors },
      },
      async handle(ctx) {
        const session = await authenticateUser(ctx, store, clock);
        const c = await loadAgentParam(ctx, store, session, 'read');
        const afterText = ctx.query.get('after') ?? '0';
        const after = Number(afterText);
        if (!/^\d+$/.test(afterText)) throw apiError(400, 'Query param "after" must be an integer.', undefined, [{ field: 'after', detail: 'Must be an integer' }]);
        const limitText = ctx.query.get('limit') ?? '10000';
        if (!/^\d+$/.test(limitText)) throw apiError(400, 'Query param "limit" must be an integer.', undefined, [{ field: 'limit', detail: 'Must be an integer' }]);
        const limit = Math.min(10_000, Math.max(1, Number(limitText)));
        return { status: 200, body: await store.agentLogs.list(c.agent.id, after, limit) };
      },
    },
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
        const now = clock.now();
        const rows = await store.agentRuntime.metadata(c.agent.id);
        return {
          status: 200,
          body: rows.map((r) => ({
            result: { collected_at: r.collected_at, age: Math.max(0, Math.floor((now - Date.parse(r.collected_at)) / 1000)), value: r.value, error: r.error },
            description: { display_name: '', key: r.key, script: '', interval: 0, timeout: 0 },
          })),
        };
      },
    },
  ];
}
