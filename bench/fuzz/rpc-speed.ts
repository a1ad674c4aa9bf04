/**
 * Throughput of the v2 stack (not part of npm test; numbers, no assertions):
 *
 *   node --import tsx bench/fuzz/rpc-speed.ts
 *
 * 1. protobuf encode/decode of a CoordinateRequest carrying a full Node;
 * 2. unary RPCs/s over a real localhost WebSocket (yamux client in TS);
 * 3. one-stream bulk transfer MB/s through the yamux window.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import { RpcMux, serveRpcOverWebSocket } from '../../src/rpc/index.js';
import { WsByteStream } from '../../src/rpc/ws-stream.js';
import { YamuxSession } from '../../src/rpc/yamux/session.js';
import { PacketReassembler } from '../../src/rpc/drpc/reassembler.js';
import { Kind, encodePacket } from '../../src/rpc/drpc/wire.js';
import * as tailnet from '../../src/rpc/proto/tailnet.js';
import type { YamuxStream } from '../../src/rpc/yamux/stream.js';

const logger = pino({ level: 'silent' });

function protoBench(): void {
  const req: tailnet.CoordinateRequest = {
    updateSelf: {
      node: {
        id: 0x1234567890abcdefn,
        asOf: { seconds: 1700000000, nanos: 123 },
        key: new Uint8Array(34).fill(7),
        disco: 'discokey:' + 'ab'.repeat(32),
        preferredDerp: 999,
        derpLatency: new Map([['999-v4', 0.01], ['999-v6', 0.02], ['1-v4', 0.05]]),
        derpForcedWebsocket: new Map(),
        addresses: ['fd7a:115c:a1e0:49d6:b259:b7ac:b1b2:48f4/128'],
        allowedIps: ['fd7a:115c:a1e0:49d6:b259:b7ac:b1b2:48f4/128'],
        endpoints: ['192.0.2.1:41641', '[2001:db8::1]:41641', '10.0.0.2:41641'],
      },
    },
    readyForHandshake: [],
  };
  const n = 200_000;
  let t0 = performance.now();
  let bytes: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < n; i++) bytes = tailnet.CoordinateRequest.encode(req);
  const enc = n / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  for (let i = 0; i < n; i++) tailnet.CoordinateRequest.decode(bytes);
  const dec = n / ((performance.now() - t0) / 1000);
  console.log(`proto CoordinateRequest (${bytes.length} B): encode ${Math.round(enc).toLocaleString()}/s, decode ${Math.round(dec).toLocaleString()}/s`);
}

async function wsBench(): Promise<void> {
  const mux = new RpcMux()
    .raw('/b/Echo', async (call) => (await call.recv()) ?? new Uint8Array(0))
    .raw('/b/Bulk', async (call) => {
      const size = Number(new TextDecoder().decode((await call.recv()) ?? new Uint8Array(0)));
      const chunk = new Uint8Array(64 * 1024);
      for (let sent = 0; sent < size; sent += chunk.length) await call.send(chunk);
    });
  const server = createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', (ws) => serveRpcOverWebSocket(ws, mux, { logger, keepaliveIntervalMs: null }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, { perMessageDeflate: false });
  await new Promise((r) => ws.on('open', r));
  const client = new YamuxSession(new WsByteStream(ws), { role: 'client', keepaliveIntervalMs: null });

  const call = (method: string, body: Uint8Array, onPacket: (kind: number, data: Uint8Array) => boolean): Promise<void> =>
    new Promise((resolve) => {
      const s: YamuxStream = client.openStream();
      const r = new PacketReassembler();
      s.onReadable = () => {
        for (let c = s.read(); c; c = s.read()) r.push(c);
        for (let p = r.next(); p; p = r.next()) {
          if (!onPacket(p.kind, p.data)) {
            s.closeWrite();
            resolve();
            return;
          }
        }
      };
      void s.write(Buffer.concat([
        encodePacket({ kind: Kind.Invoke, streamId: 1, messageId: 1, control: false, data: new TextEncoder().encode(method) }),
        encodePacket({ kind: Kind.Message, streamId: 1, messageId: 2, control: false, data: body }),
        encodePacket({ kind: Kind.CloseSend, streamId: 1, messageId: 3, control: false, data: new Uint8Array(0) }),
      ]));
    });

  const total = 5000;
  const parallel = 32;
  let t0 = performance.now();
  let cpu0 = process.cpuUsage();
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next++ < total) await call('/b/Echo', new Uint8Array(100), (k) => k !== Kind.CloseSend);
    }),
  );
  let cpu = process.cpuUsage(cpu0);
  console.log(
    `unary echo over WebSocket (${parallel} in flight): ${Math.round(total / ((performance.now() - t0) / 1000)).toLocaleString()} calls/s wall, ` +
      `${((cpu.user + cpu.system) / total).toFixed(0)} µs CPU per call (client + server in one process)`,
  );

  const size = 64 * 1024 * 1024;
  let got = 0;
  t0 = performance.now();
  cpu0 = process.cpuUsage();
  await call('/b/Bulk', new TextEncoder().encode(String(size)), (k, d) => {
    if (k === Kind.Message) got += d.length;
    return k !== Kind.CloseSend;
  });
  const s = (performance.now() - t0) / 1000;
  cpu = process.cpuUsage(cpu0);
  console.log(
    `bulk server→client on one stream: ${(got / 1048576 / s).toFixed(0)} MiB/s wall, ` +
      `${(got / 1048576 / ((cpu.user + cpu.system) / 1e6)).toFixed(0)} MiB per CPU-second (${got / 1048576} MiB)`,
  );
  client.close();
  ws.close();
  server.close();
  wss.close();
}

protoBench();
await wsBench();
