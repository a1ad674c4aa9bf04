/**
 * GET /api/v2/workspaceagents/{workspaceagent}/listening-ports (coder-agents-api §2.14):
 * asks the agent's HTTP API (port 4) over the server tailnet, then drops
 * ports < 9, ports of the agent's apps and the ignore list. Never `null`.
 */
import type { HttpRoute } from '../http/router.js';
import type { ApiDeps } from '../deps.js';
import { apiError } from '../http/errors.js';
import { authenticateUser, loadAgentView } from '../auth.js';
import { errorSchema } from '../schemas.js';
import { deriveAgentStatus } from '../agent-status.js';
import { AGENT_PORT_HTTP_API, fetchListeningPorts, type AgentDialer, type ListeningPort } from '../../peer/index.js';
import { z } from 'zod';

export interface ListeningPortsDeps extends ApiDeps {
  tailnet: AgentDialer;
}

/** coderd's ignored ports: privileged/system services users never want to forward. */
export const IGNORED_PORTS: ReadonlySet<number> = new Set([
  0, 1, 2, 3, 4, 5, 6, 7, 8, 20, 21, 22, 23, 25, 53, 110, 143, 179, 389, 636, 465, 587, 989, 990, 993, 995, 3306, 3389, 5432, 27017, 27018, 27019, 28017,
]);

/** Port of an app URL when it names one explicitly (1–65535), as coderd's url.Parse + u.Port(). */
export function appPort(url: string): number | null {
  const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*):([^/?#]*)/.exec(url);
  if (!m || !m[2] || !/^\d+$/.test(m[2])) return null;
  const n = Number(m[2]);
  return n >= 1 && n <= 65535 ? n : null;
}

/** Agent status gate shared with /pty. */
export function statusGate(deps: ApiDeps, agent: Parameters<typeof deriveAgentStatus>[0]): void {
  let status: string;
  try {
    status = deriveAgentStatus(agent, deps.clock.now(), deps.inactiveTimeoutMs).status;
  } catch (e) {
    throw apiError(500, 'Internal error reading workspace agent.', String(e));
  }
  if (status !== 'connected') throw apiError(400, `Agent state is "${status}", it must be in the "connected" state.`);
}

const portsSchema = z.object({ ports: z.array(z.object({ process_name: z.string(), network: z.string(), port: z.number().int() })) });

export function listeningPortsRoutes(deps: ListeningPortsDeps): HttpRoute[] {
  const { store, clock } = deps;
  const err = (description: string) => ({ description, schema: errorSchema });
  return [
    {
      kind: 'http',
      method: 'GET',
      path: '/api/v2/workspaceagents/{workspaceagent}/listening-ports',
      doc: {
        summary: 'Get listening ports for workspace agent',
        tags: ['Agents'],
        auth: 'user',
        responses: {
          200: { description: 'OK', schema: portsSchema },
          400: err('Invalid agent id, or the agent is not connected.'),
          401: err('Not signed in.'),
          404: err('Unknown agent or no read permission.'),
          500: err('Dialing the agent or reading its ports failed.'),
        },
      },
      async handle(ctx) {
        const session = await authenticateUser(ctx, store, clock);
        const { context, apps } = await loadAgentView(ctx, store, session, 'read');
        statusGate(deps, context.agent);
        let ports: ListeningPort[];
        let socket;
        try {
          socket = await deps.tailnet.dial(context.agent.id, AGENT_PORT_HTTP_API);
        } catch (e) {
          deps.logger.warn({ agent_id: context.agent.id, err: e instanceof Error ? e.message : String(e) }, 'listening-ports: dialing the agent failed');
          throw apiError(500, 'Internal error dialing workspace agent.', e instanceof Error ? e.message : String(e));
        }
        try {
          ports = await fetchListeningPorts(socket);
        } catch (e) {
          deps.logger.warn({ agent_id: context.agent.id, err: e instanceof Error ? e.message : String(e) }, 'listening-ports: agent HTTP API failed');
          throw apiError(500, 'Internal error fetching listening ports.', e instanceof Error ? e.message : String(e));
        } finally {
          socket.destroy();
        }
        const appPorts = new Set<number>();
        for (const app of apps) {
          const p = app.url ? appPort(app.url) : null;
          if (p !== null) appPorts.add(p);
        }
        const out = ports.filter((p) => p.port >= 9 && !IGNORED_PORTS.has(p.port) && !appPorts.has(p.port));
        return { status: 200, body: { ports: out } };
      },
    },
  ];
}
