/**
 * A shard server for tests and benches: one Shard (coordinator + Redis bus)
 * behind the same coordinate routes as the in-memory conformance backend,
 * plus a small debug API. Configured by environment; prints "LISTEN <port>"
 * once serving. SIGTERM drains (GOODBYE, 1012 to every socket) then exits.
 *
 *   GET  /debug/state          {ready, stats}
 *   GET  /debug/node?id=<id>   {node: canonical JSON | null}
 *   GET  /debug/peer?id=<id>   where the shard's view of that peer comes from (Shard.explain)
 *   POST /debug/drain          drain now
 *   GET  /debug/proc[?reset=1] {rss, heapUsed, cpuMicros, eldP99Ms, eldMaxMs} (event-loop delay since the last reset; benches)
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { pino } from 'pino';
import { WebSocketServer } from 'ws';
import { COORDINATE_WS_SERVER_OPTIONS } from '../../../src/coordinator/index.js';
import { Shard } from '../../../src/coordinator/shard/shard.js';

const env = process.env;
const num = (v: string | undefined): number | undefined => (v === undefined || v === '' ? undefined : Number(v));

const shard = new Shard({
  // Logs go to stderr (inherited by the test run); stdout carries the LISTEN line.
  logger: pino({ level: env.LOG_LEVEL ?? 'silent', base: { shard: env.SHARD_ID } }, pino.destination(2)),
  redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  prefix: env.PREFIX ?? 'tailnetd:test:',
  ...(env.REDIS_SUB_URL ? { redisSubUrl: env.REDIS_SUB_URL } : {}),
  ...(env.REDIS_CLUSTER === '1' ? { redisCluster: true } : {}),
  ...(env.SHARD_ID ? { shardId: env.SHARD_ID } : {}),
  ...(num(env.HB_MS) ? { heartbeatMs: num(env.HB_MS) as number } : {}),
  ...(num(env.WRITE_TIMEOUT_MS) ? { writeTimeoutMs: num(env.WRITE_TIMEOUT_MS) as number } : {}),
  ...(num(env.QUEUE_SIZE) ? { queueSize: num(env.QUEUE_SIZE) as number } : {}),
  ...(num(env.CLOSE_SPREAD_MS) !== undefined ? { closeSpreadMs: num(env.CLOSE_SPREAD_MS) as number } : {}),
});

const AGENT_PATH = '/api/v2/workspaceagents/me/coordinate';
const CLIENT_PATH = /^\/api\/v2\/workspaceagents\/([0-9a-fA-F-]{36})\/coordinate$/;
const wss = new WebSocketServer(COORDINATE_WS_SERVER_OPTIONS);

const eld = monitorEventLoopDelay({ resolution: 10 });
eld.enable();

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const json = (code: number, body: unknown): void => {
    res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  if (url.pathname === '/debug/state') return json(shard.ready() ? 200 : 503, { ready: shard.ready(), stats: shard.stats() });
  if (url.pathname === '/debug/proc') {
    const cpu = process.cpuUsage();
    const body = { rss: process.memoryUsage.rss(), heapUsed: process.memoryUsage().heapUsed, cpuMicros: cpu.user + cpu.system, eldP99Ms: eld.percentile(99) / 1e6, eldMaxMs: eld.max / 1e6 };
    if (url.searchParams.get('reset') === '1') eld.reset();
    return json(200, body);
  }
  if (url.pathname === '/debug/peer') return json(200, shard.explain(url.searchParams.get('id') ?? ''));
  if (url.pathname === '/debug/node') return json(200, { node: shard.nodeJson(url.searchParams.get('id') ?? '') });
  if (url.pathname === '/debug/drain' && req.method === 'POST') {
    void shard.drain().then(() => json(200, { drained: true }));
    return;
  }
  res.writeHead(404).end();
});
server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const m = CLIENT_PATH.exec(url.pathname);
  if (url.pathname === AGENT_PATH) {
    const agentId = url.searchParams.get('agent') ?? '';
    wss.handleUpgrade(req, socket, head, (ws) => {
      void shard.serveAgent(ws, { agentId, name: `agent-${agentId.slice(0, 8)}` });
    });
  } else if (m) {
    const clientId = url.searchParams.get('client') ?? crypto.randomUUID();
    wss.handleUpgrade(req, socket, head, (ws) => {
      void shard.serveClient(ws, { clientId, agentId: m[1] as string });
    });
  } else {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
  }
});
server.on('connection', (s) => s.setNoDelay(true));

await shard.start();
server.listen(num(env.PORT) ?? 0, '127.0.0.1', () => {
  process.stdout.write(`LISTEN ${(server.address() as AddressInfo).port}\n`);
});

let exiting = false;
process.on('SIGTERM', () => {
  if (exiting) return;
  exiting = true;
  void (async () => {
    await shard.drain(num(env.CLOSE_SPREAD_MS) ?? 500);
    await shard.stop();
    process.exit(0);
  })();
});
process.on('disconnect', () => process.exit(0));

