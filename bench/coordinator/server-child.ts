/**
 * Server under test, one per process: `coord` (tailnetd coordinator, in-memory
 * backend), `ws` (bare ws relay: same paths, forwards bytes untouched — the
 * ceiling), `sio` (socket.io + @socket.io/redis-adapter doing the same fan-out).
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server as SioServer } from 'socket.io';
import { WebSocketServer, type WebSocket } from 'ws';
import { startMemoryServer } from '../../test/coordinator/conformance/memory-backend.js';
import { serveIpc } from './ipc.js';
import { startProtoServer } from './proto-server.js';

const kind = process.argv[2] ?? 'coord';
const redisKey = process.argv[3] ?? `bench-coord-${process.pid}`;
let port = 0;
const eld = monitorEventLoopDelay({ resolution: 10 });
eld.enable();
let peers = (): number => 0;
/** Socket bytes in/out (the `proto` server counts them; others report 0). */
let wireBytes = (): { in: number; out: number } => ({ in: 0, out: 0 });

async function startCoord(): Promise<void> {
  const s = await startMemoryServer({});
  port = s.port;
  peers = () => s.coordinator.core.agentCount() + s.coordinator.core.clientCount();
}

async function startBareWs(): Promise<void> {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 32768, perMessageDeflate: false, clientTracking: false });
  const clientsOf = new Map<string, Set<WebSocket>>();
  const agents = new Map<string, WebSocket>();
  let count = 0;
  const server = createServer();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/api\/v2\/workspaceagents\/([0-9a-f-]{36})\/coordinate$/.exec(url.pathname);
    const agentId = m ? (m[1] as string) : (url.searchParams.get('agent') ?? '');
    wss.handleUpgrade(req, socket, head, (ws) => {
      count++;
      if (m) {
        let set = clientsOf.get(agentId);
        if (!set) clientsOf.set(agentId, (set = new Set()));
        set.add(ws);
        ws.on('message', (d: Buffer) => agents.get(agentId)?.send(d, { binary: true }));
        ws.on('close', () => {
          count--;
          set.delete(ws);
        });
      } else {
        agents.set(agentId, ws);
        ws.on('message', (d: Buffer) => {
          const set = clientsOf.get(agentId);
          if (set) for (const c of set) c.send(d, { binary: true });
        });
        ws.on('close', () => {
          count--;
          if (agents.get(agentId) === ws) agents.delete(agentId);
        });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  peers = () => count;
}

async function startSio(): Promise<void> {
  const pub = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: false });
  const sub = pub.duplicate();
  const server = createServer();
  const io = new SioServer(server, { transports: ['websocket'], perMessageDeflate: false, maxHttpBufferSize: 32768, serveClient: false });
  io.adapter(createAdapter(pub, sub, { key: redisKey }));
  let count = 0;
  io.on('connection', (socket) => {
    count++;
    const q = socket.handshake.query;
    const agentId = String(q.agent ?? '');
    if (q.role === 'agent') {
      void socket.join(`a:${agentId}`);
      socket.on('n', (data: string) => {
        io.to(`c:${agentId}`).emit('n', data);
      });
    } else {
      void socket.join(`c:${agentId}`);
      socket.on('n', (data: string) => {
        io.to(`a:${agentId}`).emit('n', data);
      });
    }
    socket.on('disconnect', () => count--);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  peers = () => count;
}

serveIpc({
  async start() {
    if (kind === 'coord') await startCoord();
    else if (kind === 'proto') {
      const s = await startProtoServer();
      port = s.port;
      peers = s.peers;
      wireBytes = s.wireBytes;
    } else if (kind === 'ws') await startBareWs();
    else await startSio();
    return { port, pid: process.pid };
  },
  stats(p) {
    const cpu = process.cpuUsage();
    const out = {
      cpuMicros: cpu.user + cpu.system,
      rss: process.memoryUsage.rss(),
      heapUsed: process.memoryUsage().heapUsed,
      peers: peers(),
      wireIn: wireBytes().in,
      wireOut: wireBytes().out,
      eldP99: eld.percentile(99) / 1e6,
      eldMax: eld.max / 1e6,
    };
    if ((p as { reset?: boolean } | null)?.reset) eld.reset();
    return out;
  },
  gc() {
    const g = (globalThis as { gc?: () => void }).gc;
    g?.();
    g?.();
    return { rss: process.memoryUsage.rss(), heapUsed: process.memoryUsage().heapUsed };
  },
});
