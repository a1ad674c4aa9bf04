/**
 * Coordinator under test for the v1-vs-v2 benches: one coordinator behind both
 * protocol stacks, as in production, without auth or store (ids come from the
 * URL, like the in-memory conformance backend):
 *
 *   /api/v2/workspaceagents/me/coordinate?agent=ID            v1 agent  (serveAgentV1)
 *   /api/v2/workspaceagents/ID/coordinate                     v1 client (serveClientV1)
 *   /api/v2/workspaceagents/me/rpc?agent=ID&version=2.x       v2 agent  (Tailnet service over yamux + dRPC)
 *   /api/v2/workspaceagents/ID/coordinate?version=2.x         v2 client (same, client auth)
 *
 * Transport options follow src/api/routes/rpc.ts (no compression, ≥ 4 MiB
 * reads, no yamux keepalive on /me/rpc, 15 s WebSocket heartbeat on client
 * coordinate). Bytes read and written on every accepted socket are counted so
 * the bench can report wire bytes per update for either stack.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { WebSocketServer, type WebSocket } from 'ws';
import { COORDINATE_WS_SERVER_OPTIONS, createCoordinator, serveAgentV1, serveClientV1 } from '../../src/coordinator/index.js';
import { createTailnetService, type DerpMapFeed, type TunnelAuth } from '../../src/coordinator/v2/index.js';
import { negotiateVersion, registerTailnetService, RpcMux, serveRpcOverWebSocket } from '../../src/rpc/index.js';

const AGENT_V1 = '/api/v2/workspaceagents/me/coordinate';
const AGENT_V2 = '/api/v2/workspaceagents/me/rpc';
const CLIENT = /^\/api\/v2\/workspaceagents\/([0-9a-fA-F-]{36})\/coordinate$/;
const CLIENT_HEARTBEAT_MS = 15_000;

export interface ProtoServer {
  port: number;
  peers(): number;
  /** Bytes read from / written to every socket accepted so far (closed ones included). */
  wireBytes(): { in: number; out: number };
}

/** One region; Coordinate does not look at it, StreamDERPMaps is not called by the bench. */
const derpMap: DerpMapFeed = {
  current: () => ({ Regions: { '1': { EmbeddedRelay: true, RegionID: 1, RegionCode: 'bench', RegionName: 'bench', Nodes: [] } } }),
  subscribe: () => () => {},
};

export async function startProtoServer(): Promise<ProtoServer> {
  const logger = pino({ level: 'silent' });
  const coordinator = createCoordinator({ logger, registry: new Registry() });
  const wssV1 = new WebSocketServer(COORDINATE_WS_SERVER_OPTIONS);
  const wssV2 = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 4 * 1024 * 1024 + 1024, clientTracking: false });

  const serveV2 = (ws: WebSocket, peerId: string, name: string, auth: TunnelAuth): void => {
    const mux = new RpcMux();
    let conn: ReturnType<typeof serveRpcOverWebSocket> | null = null;
    registerTailnetService(
      mux,
      createTailnetService({ coordinator, derpMap, peerId, name, auth, onCoordinatorClosed: () => conn?.close(1001, 'coordinator closed') }),
    );
    conn =
      auth.kind === 'agent'
        ? serveRpcOverWebSocket(ws, mux, { logger, keepaliveIntervalMs: null })
        : serveRpcOverWebSocket(ws, mux, { logger, wsHeartbeatMs: CLIENT_HEARTBEAT_MS });
  };

  const refuse = (socket: Duplex, status: string): void => {
    socket.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\n\r\n`);
  };

  const server = createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const version = url.searchParams.get('version');
    const agentParam = url.searchParams.get('agent') ?? '';
    const client = CLIENT.exec(url.pathname);
    if (url.pathname === AGENT_V1) {
      wssV1.handleUpgrade(req, socket, head, (ws) => void serveAgentV1(coordinator, ws, { agentId: agentParam, name: `agent-${agentParam.slice(0, 8)}` }));
    } else if (url.pathname === AGENT_V2) {
      if (!negotiateVersion('agent-rpc', version).ok) return refuse(socket, '400 Bad Request');
      wssV2.handleUpgrade(req, socket, head, (ws) => serveV2(ws, agentParam, `agent-${agentParam.slice(0, 8)}`, { kind: 'agent', agentId: agentParam }));
    } else if (client) {
      const agentId = (client[1] as string).toLowerCase();
      const v = negotiateVersion('coordinate', version);
      if (!v.ok) return refuse(socket, '400 Bad Request');
      if (v.version.major >= 2) {
        wssV2.handleUpgrade(req, socket, head, (ws) => serveV2(ws, randomUUID(), 'client', { kind: 'client', agentId }));
      } else {
        wssV1.handleUpgrade(req, socket, head, (ws) => void serveClientV1(coordinator, ws, { clientId: randomUUID(), agentId }));
      }
    } else {
      refuse(socket, '404 Not Found');
    }
  });

  const live = new Set<Socket>();
  let closedIn = 0;
  let closedOut = 0;
  server.on('connection', (s: Socket) => {
    s.setNoDelay(true);
    live.add(s);
    s.once('close', () => {
      live.delete(s);
      closedIn += s.bytesRead;
      closedOut += s.bytesWritten;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    peers: () => coordinator.core.agentCount() + coordinator.core.clientCount(),
    wireBytes: () => {
      let i = closedIn;
      let o = closedOut;
      for (const s of live) {
        i += s.bytesRead;
        o += s.bytesWritten;
      }
      return { in: i, out: o };
    },
  };
}
