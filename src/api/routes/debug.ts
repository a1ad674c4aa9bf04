import type { HttpRoute } from '../http/router.js';
import type { ApiDeps } from '../deps.js';
import { authenticateUser } from '../auth.js';
import { apiError, Msg } from '../http/errors.js';
import { errorSchema } from '../schemas.js';

/** GET /api/v2/debug/coordinator: HTML snapshot of the coordinator (site admins; others 403 as current coderd). */
export function debugRoutes(deps: ApiDeps, render: () => string): HttpRoute[] {
  return [
    {
      kind: 'http',
      method: 'GET',
      path: '/api/v2/debug/coordinator',
      doc: {
        summary: 'Debug info for the tailnet coordinator (HTML)',
        tags: ['Debug'],
        auth: 'admin',
        responses: { 200: { description: 'HTML page', contentType: 'text/html' }, 401: { description: 'Not signed in', schema: errorSchema }, 403: { description: 'Not a site admin', schema: errorSchema } },
      },
      async handle(ctx) {
        const session = await authenticateUser(ctx, deps.store, deps.clock);
        if (!session.user.is_admin) throw apiError(403, Msg.forbidden);
        return { status: 200, raw: render(), headers: { 'Content-Type': 'text/html; charset=utf-8' } };
      },
    },
  ];
}
