/**
 * In-memory backend: a node:http server that upgrades coordinate requests with
 * the exact ws options the production server must use and hands the sockets
 * to serveAgentV1/serveClientV1. No auth: ids come from the URL.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { WebSocketServer } from 'ws';
import {
  COORDINATE_WS_SERVER_OPTIONS,
  createCoordinator,
  serveAgentV1,
  serveClientV1,
  type AgentConnectionRecorder,
  type Coordinator,
} from '../../../src/coordinator/index.js';
import type { Clock } from '../../../src/util/clock.js';
import type { BackendOptions, CoordinatorBackend, RunningBackend } from './backend.js';

export interface MemoryServerOptions extends BackendOptions {
  clock?: Clock;
  pingIntervalMs?: number;
  recorder?: AgentConnectionRecorder;
  host?: string;
  port?: number;
  registry?: Registry;
}

export interface MemoryServer extends RunningBackend {
  readonly coordinator: Coordinator;
  readonly port: number;
}

const AGENT_PATH = '/api/v2/workspaceagents/me/coordinate';
const CLIENT_PATH = /^\/api\/v2\/workspaceagents\/([0-9a-fA-F-]{36})\/coordinate$/;

export async function startMemoryServer(opts: MemoryServerOptions = {}): Promise<MemoryServer> {
  const coordinator = createCoordinator({
    logger: pino({ level: 'silent' }),
    registry: opts.registry ?? new Registry(),
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.pingIntervalMs ? { pingIntervalMs: opts.pingIntervalMs } : {}),
    ...(opts.writeTimeoutMs ? { writeTimeoutMs: opts.writeTimeoutMs } : {}),
    ...(opts.queueSize ? { queueSize: opts.queueSize } : {}),
  });
  const wss = new WebSocketServer(COORDINATE_WS_SERVER_OPTIONS);
  const server = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const agentMatch = CLIENT_PATH.exec(url.pathname);
    if (url.pathname === AGENT_PATH) {
      const agentId = url.searchParams.get('agent') ?? '';
      wss.handleUpgrade(req, socket, head, (ws) => {
        void serveAgentV1(coordinator, ws, { agentId, name: url.searchParams.get('name') ?? `agent-${agentId.slice(0, 8)}`, ...(opts.recorder ? { recorder: opts.recorder } : {}) });
      });
    } else if (agentMatch) {
      const clientId = url.searchParams.get('client') ?? crypto.randomUUID();
      wss.handleUpgrade(req, socket, head, (ws) => {
        void serveClientV1(coordinator, ws, { clientId, agentId: agentMatch[1] as string });
      });
    } else {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    }
  });
  const sockets = new Set<Duplex>();
  server.on('connection', (s) => {
    s.setNoDelay(true);
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const host = opts.host ?? '127.0.0.1';
  return {
    coordinator,
    port,
    shards: 1,
    agentUrl: (agentId) => `ws://${host}:${port}${AGENT_PATH}?agent=${agentId}`,
    clientUrl: (agentId, clientId) => `ws://${host}:${port}/api/v2/workspaceagents/${agentId}/coordinate?client=${clientId}`,
    inspect: () => ({
      nodeCount: () => coordinator.nodeCount(),
      agentCount: () => coordinator.agentCount(),
      node: (id) => coordinator.nodeJson(id),
    }),
    async stop() {
      await coordinator.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export const memoryBackend: CoordinatorBackend = {
  name: 'in-memory',
  start: (opts) => startMemoryServer(opts),
};
