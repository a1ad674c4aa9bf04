import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { Kind, encodePacket } from '../../src/rpc/drpc/wire.js';
import { RpcMux, serveRpcOverWebSocket, type RpcConnection } from '../../src/rpc/index.js';
import { Flag, FrameType, encodeFrame, encodeHeader } from '../../src/rpc/yamux/frame.js';
import { MAX_WRITE_CHUNK } from '../../src/rpc/byte-stream.js';
import { silent } from './helpers.js';

const te = new TextEncoder();

async function start(mux: RpcMux, wsHeartbeatMs?: number): Promise<{ server: Server; url: string; conns: RpcConnection[] }> {
  const server = createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  const conns: RpcConnection[] = [];
  wss.on('connection', (ws) => conns.push(serveRpcOverWebSocket(ws, mux, { logger: silent, keepaliveIntervalMs: null, wsHeartbeatMs })));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, conns };
}

function client(url: string): Promise<{ ws: WebSocket; messages: Buffer[]; closed: Promise<number> }> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const messages: Buffer[] = [];
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  ws.on('message', (d: Buffer, isBinary) => {
    expect(isBinary).toBe(true);
    messages.push(d);
  });
  return new Promise((resolve, reject) => {
    ws.on('open', () => resolve({ ws, messages, closed }));
    ws.on('error', reject);
  });
}

async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timeout');
    await new Promise((r) => setTimeout(r, 10));
  }
}

let server: Server | null = null;
afterEach(async () => {
  if (server) await new Promise<void>((r) => server!.close(() => r()));
  server = null;
});

describe('WebSocket byte stream', () => {
  it('treats binary messages as one byte stream (header and body split anywhere) and replies in binary', async () => {
    const mux = new RpcMux().raw('/t/Echo', async (call) => (await call.recv()) ?? new Uint8Array(0));
    const s = await start(mux);
    server = s.server;
    const c = await client(s.url);
    const drpc = Buffer.concat([
      encodePacket({ kind: Kind.Invoke, streamId: 1, messageId: 1, control: false, data: te.encode('/t/Echo') }),
      encodePacket({ kind: Kind.Message, streamId: 1, messageId: 2, control: false, data: te.encode('hey') }),
      encodePacket({ kind: Kind.CloseSend, streamId: 1, messageId: 3, control: false, data: new Uint8Array(0) }),
    ]);
    const bytes = Buffer.concat([
      encodeHeader({ type: FrameType.WindowUpdate, flags: Flag.SYN, streamId: 1, length: 0 }),
      encodeFrame({ type: FrameType.Data, flags: 0, streamId: 1, length: drpc.length }, drpc),
    ]);
    for (let i = 0; i < bytes.length; i += 5) c.ws.send(bytes.subarray(i, i + 5));
    await until(() => Buffer.concat(c.messages).includes(Buffer.from('hey')));
    const all = Buffer.concat(c.messages);
    expect(all.subarray(0, 12).toString('hex')).toBe('000100020000000100000000');
    c.ws.close();
  });

  it('closes with 1003 on a text message', async () => {
    const s = await start(new RpcMux());
    server = s.server;
    const c = await client(s.url);
    c.ws.send('hello');
    expect(await c.closed).toBe(1003);
    expect(await s.conns[0]!.closed).toMatchObject({ code: 'transport_closed' });
  });

  it('never sends a WebSocket message larger than 32 KiB, even for a 1 MiB response', async () => {
    const mux = new RpcMux().raw('/t/Big', async () => new Uint8Array(1 << 20).fill(7));
    const s = await start(mux);
    server = s.server;
    const c = await client(s.url);
    const drpc = Buffer.concat([
      encodePacket({ kind: Kind.Invoke, streamId: 1, messageId: 1, control: false, data: te.encode('/t/Big') }),
      encodePacket({ kind: Kind.Message, streamId: 1, messageId: 2, control: false, data: new Uint8Array(0) }),
    ]);
    c.ws.send(encodeHeader({ type: FrameType.WindowUpdate, flags: Flag.SYN, streamId: 1, length: 0 }));
    c.ws.send(encodeFrame({ type: FrameType.Data, flags: 0, streamId: 1, length: drpc.length }, drpc));
    // Grant a large window so the whole response can flow.
    c.ws.send(encodeHeader({ type: FrameType.WindowUpdate, flags: 0, streamId: 1, length: 4 << 20 }));
    await until(() => c.messages.reduce((n, m) => n + m.length, 0) > (1 << 20));
    expect(Math.max(...c.messages.map((m) => m.length))).toBeLessThanOrEqual(MAX_WRITE_CHUNK);
    c.ws.close();
  });

  it('close() sends GoAway(normal) then a 1000 close', async () => {
    const s = await start(new RpcMux());
    server = s.server;
    const c = await client(s.url);
    await until(() => s.conns.length === 1);
    s.conns[0]!.close(1000, 'bye');
    expect(await c.closed).toBe(1000);
    expect(Buffer.concat(c.messages).toString('hex')).toBe('000300000000000000000000');
  });

  it('sends WebSocket pings when wsHeartbeatMs is set', async () => {
    const s = await start(new RpcMux(), 20);
    server = s.server;
    const c = await client(s.url);
    let pings = 0;
    c.ws.on('ping', () => pings++);
    await until(() => pings >= 2);
    c.ws.close();
  });
});
