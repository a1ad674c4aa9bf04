/**
 * The v1 coordinate WebSockets: agents at /me/coordinate, clients at /{workspaceagent}/coordinate.
 * Auth and build checks run before the upgrade so failures are JSON, as in coderd.
 */
import { randomUUID } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { UpgradeRoute } from '../http/router.js';
import type { RequestContext } from '../http/context.js';
import type { ApiDeps } from '../deps.js';
import { ApiError, apiError } from '../http/errors.js';
import { API_VERSION_MISMATCH_MESSAGE, negotiateVersion } from '../../rpc/version.js';
import { authenticateAgent, authenticateUser, loadAgentParam } from '../auth.js';
import { errorSchema } from '../schemas.js';
import { workspaceChannel } from './agent-me.js';
import { nowIso } from '../../store/ids.js';
import {
  COORDINATE_WS_SERVER_OPTIONS, serveAgentV1, serveClientV1, type AgentConnectionRecorder, type Coordinator,
} from '../../coordinator/index.js';
import type { Gauge } from 'prom-client';
import type { Shard } from '../../coordinator/shard/shard.js';

export interface CoordinateDeps extends ApiDeps {
  coordinatorImpl: Coordinator;
  /** With Redis: serve through the shard so peers are published to, and fenced with, the other replicas. */
  shard?: Shard | null;
  replicaId: string;
  websockets: Gauge<'path'>;
  /** Serves ?version=2.x on the client route (rpc.ts rpcEndpoints().clientCoordinateV2). */
  coordinateV2?: (ctx: RequestContext, agentId: string, version: string) => Promise<(req: IncomingMessage, socket: Duplex, head: Buffer) => void>;
}

export function storeRecorder(deps: CoordinateDeps): AgentConnectionRecorder {
  const { store, pubsub } = deps;
  const publish = async (agentId: string): Promise<void> => {
    const agent = await store.agents.byId(agentId);
    if (agent) pubsub.publish(workspaceChannel(agent.workspace_id), '');
  };
  return {
    async connected(agentId, at) {
      await store.agents.recordConnected(agentId, nowIso(at.getTime()), deps.replicaId);
      await publish(agentId);
    },
    async heartbeat(agentId, at) {
      await store.agents.recordHeartbeat(agentId, nowIso(at.getTime()), deps.replicaId);
      return { latest: await store.agents.isLatestBuild(agentId) };
    },
    async disconnected(agentId, at) {
      await store.agents.recordDisconnected(agentId, nowIso(at.getTime()), deps.replicaId);
      await publish(agentId);
    },
  };
}

export function coordinateRoutes(deps: CoordinateDeps): UpgradeRoute[] {
  const wss = new WebSocketServer(COORDINATE_WS_SERVER_OPTIONS);
  const recorder = storeRecorder(deps);
  const upgradeTo = (path: string, serve: (ws: WebSocket) => Promise<unknown>) => (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      deps.websockets.inc({ path });
      void serve(ws).finally(() => deps.websockets.dec({ path }));
    });
  };
  const err = (description: string) => ({ description, schema: errorSchema });

  const agentPath = '/api/v2/workspaceagents/me/coordinate';
  const clientPath = '/api/v2/workspaceagents/{workspaceagent}/coordinate';
  return [
    {
      kind: 'upgrade',
      method: 'GET',
      path: agentPath,
      doc: {
        summary: 'Coordinate workspace agent via Tailnet (WebSocket, v1 JSON nodes)',
        tags: ['Agents'],
        auth: 'agent',
        responses: { 401: err('Missing or invalid agent token.'), 403: err('Agent trying to connect from non-latest build.') },
      },
      async prepare(ctx) {
        const agent = await authenticateAgent(ctx, deps.store);
        const context = await deps.store.agents.context(agent.id);
        if (!context) throw apiError(400, 'Internal error fetching workspace.');
        if (context.workspace.latest_build_id !== context.build.id) {
          throw apiError(403, 'Agent trying to connect from non-latest build.', 'build is outdated');
        }
        const name = `${context.ownerUsername}-${context.workspace.name}-${agent.name}`;
        const opts = { agentId: agent.id, name, recorder };
        return upgradeTo(agentPath, (ws) => (deps.shard ? deps.shard.serveAgent(ws, opts) : serveAgentV1(deps.coordinatorImpl, ws, opts)));
      },
    },
    {
      kind: 'upgrade',
      method: 'GET',
      path: clientPath,
      doc: {
        summary: 'Coordinate a client with a workspace agent (WebSocket: v1 JSON nodes without version or 1.x; yamux + dRPC coder.tailnet.v2.Tailnet for 2.x)',
        tags: ['Agents'],
        auth: 'user',
        query: { version: { description: 'API version: absent or 1.x = v1 JSON, 2.x = dRPC' }, resume_token: { description: 'Resume token from RefreshResumeToken (2.x): keeps the peer ID' } },
        responses: {
          400: err('Invalid agent id or unsupported API version.'),
          401: err('Not signed in, or invalid resume token.'),
          404: err('Unknown agent or no execute permission.'),
        },
      },
      async prepare(ctx) {
        const session = await authenticateUser(ctx, deps.store, deps.clock);
        const context = await loadAgentParam(ctx, deps.store, session, 'execute');
        const agentId = context.agent.id;
        const v = negotiateVersion('coordinate', ctx.query.get('version'));
        if (!v.ok) throw new ApiError(400, v.body.message, undefined, v.body.validations);
        if (v.version.major >= 2) {
          if (!deps.coordinateV2) throw apiError(400, API_VERSION_MISMATCH_MESSAGE, undefined, [{ field: 'version', detail: `version ${v.raw} is not served` }]);
          return deps.coordinateV2(ctx, agentId, v.raw);
        }
        const opts = { clientId: randomUUID(), agentId };
        return upgradeTo(clientPath, (ws) => (deps.shard ? deps.shard.serveClient(ws, opts) : serveClientV1(deps.coordinatorImpl, ws, opts)));
      },
    },
  ];
}
