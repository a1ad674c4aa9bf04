/**
 * Coder's v2 protocol endpoints (tailnet-v2.md §3.10, §5):
 *
 *   GET /api/v2/workspaceagents/me/rpc?version=2.x         agent token → Agent + Tailnet services
 *   GET /api/v2/workspaceagents/{agent}/coordinate?version=2.x   user session → Tailnet service
 *        (dispatched from coordinate.ts through `clientCoordinateV2`; no version / 1.x stays v1 JSON)
 *
 *   auth ─► version (400) ─► [resume token (401)] ─► upgrade ─► yamux server ─► RpcMux
 *   /me/rpc monitor: yamux ping every update period; silent > inactive timeout ⇒ close "ping timeout";
 *   build superseded ⇒ close "build is outdated"; connection rows as the v1 agent socket writes them.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Route, UpgradeRoute } from '../http/router.js';
import { agentLogRoutes, agentMeLogRoutes } from './agent-logs.js';
import type { RequestContext } from '../http/context.js';
import { ApiError, apiError } from '../http/errors.js';
import { authenticateAgent } from '../auth.js';
import { errorSchema } from '../schemas.js';
import { storeRecorder, type CoordinateDeps } from './coordinate.js';
import { AgentConnectionMonitor } from '../../coordinator/agent-connection.js';
import { truncateCloseReason } from '../../coordinator/errors.js';
import { createTailnetService, type DerpMapFeed, type ResumeTokenProvider } from '../../coordinator/v2/index.js';
import { createAgentService } from '../../agentapi/index.js';
import { createRpcMetrics, type RpcMetrics } from '../../metrics/rpc.js';
import { Registry } from 'prom-client';
import { negotiateVersion, registerAgentService, registerTailnetService, RpcMux, serveRpcOverWebSocket, type RpcConnection } from '../../rpc/index.js';

export interface RpcDeps extends CoordinateDeps {
  derpMapFeed: DerpMapFeed;
  resumeTokens: ResumeTokenProvider;
  /** Deployment "block direct" (Manifest.disable_direct_connections). */
  blockDirect: boolean;
  derpForceWebsockets: boolean;
  /** Metrics of the v2 endpoints (createRpcMetrics(registry)); omitted = not recorded. */
  rpcMetrics?: RpcMetrics;
}

/** Same option set as Coder's: no compression, reads ≥ one 4 MiB dRPC packet. */
const RPC_WS_SERVER_OPTIONS = { noServer: true, perMessageDeflate: false, maxPayload: 4 * 1024 * 1024 + 1024, clientTracking: false } as const;

/** Client /coordinate WebSocket heartbeat (httpapi.Heartbeat). */
const CLIENT_HEARTBEAT_MS = 15_000;

/** Live v2 connections, so shutdown can close them (coordinator sessions end on their own). */
export class RpcConnections {
  private readonly conns = new Set<RpcConnection>();
  private readonly perAgent = new Map<string, number>();
  private readonly kickers = new Map<string, Set<() => void>>();

  add(c: RpcConnection): void {
    this.conns.add(c);
    void c.closed.then(() => this.conns.delete(c));
  }

  agentUp(id: string): void {
    this.perAgent.set(id, (this.perAgent.get(id) ?? 0) + 1);
  }

  /** Returns how many agent connections remain for `id`. */
  agentDown(id: string): number {
    const n = (this.perAgent.get(id) ?? 1) - 1;
    if (n <= 0) this.perAgent.delete(id);
    else this.perAgent.set(id, n);
    return Math.max(0, n);
  }

  /** Registers how to close one live connection of `id`; returns the unregister function. */
  onKick(id: string, kick: () => void): () => void {
    let set = this.kickers.get(id);
    if (!set) this.kickers.set(id, (set = new Set()));
    set.add(kick);
    return () => {
      set.delete(kick);
      if (set.size === 0 && this.kickers.get(id) === set) this.kickers.delete(id);
    };
  }

  /** Closes this replica's live connections of an agent (a deleted sub-agent); other replicas' monitors see the row gone. */
  kickAgent(id: string): number {
    const set = [...(this.kickers.get(id) ?? [])];
    for (const kick of set) kick();
    return set.length;
  }

  get size(): number {
    return this.conns.size;
  }

  /** Closes every connection (GoAway, then WebSocket close 1001) and waits for them to end. */
  async closeAll(reason = 'server shutting down'): Promise<void> {
    const all = [...this.conns];
    for (const c of all) c.close(1001, reason);
    await Promise.allSettled(all.map((c) => c.closed));
  }
}

function versionError(body: { message: string; validations: { field: string; detail: string }[] }): ApiError {
  return new ApiError(400, body.message, undefined, body.validations);
}

export type ClientCoordinateV2 = (ctx: RequestContext, agentId: string, version: string) => Promise<(req: IncomingMessage, socket: Duplex, head: Buffer) => void>;

export interface RpcEndpoints {
  /** /me/rpc, the read routes for what agents report (logs, log sources, metadata), PATCH /me/logs, POST /me/log-source. */
  routes: Route[];
  /** For coordinate.ts: serve a client's ?version=2.x on /{agent}/coordinate. */
  clientCoordinateV2: ClientCoordinateV2;
  connections: RpcConnections;
}

export function rpcEndpoints(deps: RpcDeps, connections = new RpcConnections()): RpcEndpoints {
  const wss = new WebSocketServer(RPC_WS_SERVER_OPTIONS);
  const recorder = storeRecorder(deps);
  const coord = deps.coordinatorImpl;
  const logger = deps.logger.child({ component: 'rpc' });
  const agentPath = '/api/v2/workspaceagents/me/rpc';
  const clientPath = '/api/v2/workspaceagents/{workspaceagent}/coordinate';
  const err = (description: string) => ({ description, schema: errorSchema });
  const metrics = deps.rpcMetrics ?? createRpcMetrics(new Registry());
  const serveOpts = {
    logger,
    clock: deps.clock,
    onCallEnd: (method: string, outcome: 'ok' | 'error' | 'unimplemented' | 'cancelled') => metrics.call(method, outcome),
    onProtocolError: (code: string) => metrics.protocolError(code),
  };
  const track = (route: string, conn: RpcConnection): void => {
    connections.add(conn);
    metrics.connections.inc({ route });
    void conn.closed.then(() => metrics.connections.dec({ route }));
  };

  const upgradeTo = (path: string, serve: (ws: WebSocket) => Promise<unknown>) => (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      deps.websockets.inc({ path });
      void serve(ws).finally(() => deps.websockets.dec({ path }));
    });
  };

  /**
   * With Redis the coordinator is a shard: a v2 connection is refused with 1012 while the shard
   * is fenced or draining, and fencing and drain close it (GoAway, then 1012) like a v1 socket.
   * Returns the release to call once the connection ended, or null when refused.
   */
  const admit = (ws: WebSocket, conn: () => RpcConnection | null): (() => void) | null => {
    if (!deps.shard) return () => undefined;
    return deps.shard.admit(ws, 'v2', (code, reason) => {
      const c = conn();
      if (c !== null) c.close(code, reason);
      else if (ws.readyState === ws.OPEN) ws.close(code, reason);
    });
  };

  const serveAgent = async (ws: WebSocket, a: { agentId: string; workspaceId: string; name: string; apiVersion: string; isAgent: boolean }): Promise<void> => {
    let conn: RpcConnection | null = null;
    const release = admit(ws, () => conn);
    if (release === null) return;
    const mux = new RpcMux();
    registerAgentService(
      mux,
      createAgentService(
        {
          store: deps.store,
          pubsub: deps.pubsub,
          clock: deps.clock,
          logger,
          accessUrl: deps.accessUrl,
          wildcardAccessUrl: deps.wildcardAccessUrl,
          statsIntervalMs: deps.statsIntervalMs,
          derpMap: () => deps.derpMapFeed.current(),
          disableDirectConnections: deps.blockDirect,
          derpForceWebsockets: deps.derpForceWebsockets,
          onSubAgentDeleted: (id) => connections.kickAgent(id),
        },
        { agentId: a.agentId, workspaceId: a.workspaceId, apiVersion: a.apiVersion },
      ),
    );
    registerTailnetService(
      mux,
      createTailnetService({
        coordinator: coord,
        derpMap: deps.derpMapFeed,
        peerId: a.agentId,
        name: a.name,
        auth: { kind: 'agent', agentId: a.agentId },
        onCoordinatorClosed: () => conn?.close(1001, 'coordinator closed'),
        onTelemetry: (n) => metrics.telemetryEvents(n),
      }),
    );
    const timing = coord.settings.agentConnection;
    conn = serveRpcOverWebSocket(ws, mux, { ...serveOpts, keepaliveIntervalMs: null });
    track('agent', conn);
    let closing = false;
    const closeWith = (code: number, reason: string): void => {
      if (closing) return;
      closing = true;
      conn.close(code, reason);
    };
    const unkick = connections.onKick(a.agentId, () => closeWith(1001, 'workspace agent deleted'));
    let monitor: AgentConnectionMonitor | null = null;
    let lastPong = deps.clock.now();
    const ticker = deps.clock.setInterval(() => {
      if (deps.clock.now() - lastPong > timing.inactiveTimeoutMs) {
        if (!closing) metrics.monitorClose('ping_timeout');
        closeWith(1001, 'ping timeout');
        return;
      }
      conn.ping().then(
        () => (lastPong = deps.clock.now()),
        () => undefined,
      );
    }, timing.updateFrequencyMs);
    if (a.isAgent) {
      connections.agentUp(a.agentId);
      monitor = new AgentConnectionMonitor(a.agentId, recorder, deps.clock, timing, (f) => {
        if (closing) return;
        metrics.monitorClose(f.kind === 'not_latest_build' ? 'build_outdated' : 'recorder_error');
        if (f.kind === 'not_latest_build') closeWith(1001, 'build is outdated');
        else closeWith(1011, truncateCloseReason(f.message));
      });
      monitor.start();
    }
    const cause = await conn.closed;
    unkick();
    release();
    ticker.cancel();
    if (cause) logger.debug({ agent_id: a.agentId, err: cause.message }, 'agent rpc connection ended');
    if (monitor !== null) {
      // A newer socket of the same agent keeps the row fresh: only the last one records the disconnect.
      const remaining = connections.agentDown(a.agentId);
      await monitor.stop(remaining === 0);
    }
  };

  const agentRoute: UpgradeRoute = {
    kind: 'upgrade',
    method: 'GET',
    path: agentPath,
    doc: {
      summary: 'Workspace agent RPC (WebSocket: yamux + dRPC, coder.agent.v2.Agent and coder.tailnet.v2.Tailnet)',
      tags: ['Agents'],
      auth: 'agent',
      query: { version: { description: 'API version "2.x" (default 2.0)' }, role: { description: 'Connection role: "agent" (default); any other role is a side connection that does not change the agent connection status' } },
      responses: { 400: err('Unknown or unsupported API version.'), 401: err('Missing or invalid agent token, or not the latest build.'), 500: err('Internal error.') },
    },
    async prepare(ctx) {
      const agent = await authenticateAgent(ctx, deps.store);
      let context;
      try {
        context = await deps.store.agents.context(agent.id);
      } catch (e) {
        throw apiError(500, 'Internal error checking workspace agent authorization.', String(e));
      }
      if (!context || context.workspace.latest_build_id !== context.build.id) throw apiError(401, 'Workspace agent not authorized.');
      const v = negotiateVersion('agent-rpc', ctx.query.get('version'));
      if (!v.ok) throw versionError(v.body);
      const role = ctx.query.get('role') ?? '';
      const info = {
        agentId: agent.id,
        workspaceId: context.workspace.id,
        name: `${context.ownerUsername}-${context.workspace.name}-${agent.name}`,
        apiVersion: v.raw,
        isAgent: role === '' || role === 'agent',
      };
      return upgradeTo(agentPath, (ws) => serveAgent(ws, info));
    },
  };

  const clientCoordinateV2: ClientCoordinateV2 = async (ctx, agentId) => {
    let peerId: string = randomUUID();
    const token = ctx.query.get('resume_token');
    if (token) {
      const r = deps.resumeTokens.verify(token, agentId);
      if (!r.ok) throw apiError(401, 'Invalid resume token', r.reason, [{ field: 'resume_token', detail: 'Invalid resume token' }]);
      peerId = r.peerId;
    }
    return upgradeTo(clientPath, async (ws) => {
      let conn: RpcConnection | null = null;
      const release = admit(ws, () => conn);
      if (release === null) return;
      const mux = new RpcMux();
      registerTailnetService(
        mux,
        createTailnetService({
          coordinator: coord,
          derpMap: deps.derpMapFeed,
          peerId,
          name: 'client',
          auth: { kind: 'client', agentId },
          resumeTokens: deps.resumeTokens,
          onCoordinatorClosed: () => conn?.close(1001, 'coordinator closed'),
          onTelemetry: (n) => metrics.telemetryEvents(n),
        }),
      );
      conn = serveRpcOverWebSocket(ws, mux, { ...serveOpts, wsHeartbeatMs: CLIENT_HEARTBEAT_MS });
      track('client', conn);
      await conn.closed;
      release();
    });
  };

  return { routes: [agentRoute, ...agentLogRoutes(deps), ...agentMeLogRoutes(deps)], clientCoordinateV2, connections };
}
