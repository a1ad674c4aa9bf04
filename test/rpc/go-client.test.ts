/**
 * A real Go client (coder/websocket + hashicorp/yamux v0.1.2 + storj.io/drpc
 * v0.0.34, one drpcconn per yamux stream as Coder does) against the TS stack
 * over a real WebSocket.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcMux, serveRpcOverWebSocket, type RpcConnection, type RpcContext } from '../../src/rpc/index.js';
import { message, scalar } from '../../src/rpc/proto/schema.js';
import { buildHarness, runHarness } from './go-harness.js';
import { silent } from './helpers.js';

interface Str {
  s: string;
}
const Str = message<Str>('test.Str', [scalar(1, 's', 'string')]);

describe('Go yamux/dRPC client against the TS server', () => {
  let server: Server;
  let url: string;
  const rtts: number[] = [];
  const conns: RpcConnection[] = [];
  let stallCtx: RpcContext | null = null;

  beforeAll(async () => {
    await buildHarness();
    const mux = new RpcMux()
      .unary('/test.Echo/Unary', Str, Str, (req) => ({ s: `echo:${req.s}` }))
      .unary('/test.Echo/Fail', Str, Str, () => {
        throw new Error('boom');
      })
      .serverStream('/test.Echo/Count', Str, Str, async (req, send) => {
        for (let i = 0; i < Number(req.s); i++) await send({ s: String(i) });
      })
      .bidi('/test.Echo/Bidi', Str, Str, async (stream) => {
        for await (const m of stream) await stream.send({ s: m.s.toUpperCase() });
      })
      .bidi('/test.Echo/Stall', Str, Str, async (stream, ctx) => {
        stallCtx = ctx;
        await stream.recv();
        await new Promise<void>((r) => ctx.signal.addEventListener('abort', () => r()));
      })
      .unary('/test.Echo/StallCancelled', Str, Str, () => ({ s: stallCtx?.signal.aborted ? 'yes' : 'no' }))
      .unary('/test.Echo/OpenStreams', Str, Str, () => ({ s: String(conns.at(-1)!.session.streamCount) }));
    server = createServer();
    const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 8 << 20 });
    wss.on('connection', (ws) => {
      conns.push(serveRpcOverWebSocket(ws, mux, { logger: silent, keepaliveIntervalMs: 100, onPingRtt: (r) => rtts.push(r) }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/rpc`;
  }, 300_000);

  afterAll(async () => {
    for (const c of conns) c.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const expected = [
    'OK unary',
    'OK unimplemented-code-12',
    'OK handler-error',
    'OK server-stream',
    'OK bidi-stream',
    'OK large-messages',
    'OK concurrent',
    'OK ping',
    'OK cancel',
    'OK streams-closed',
    'DONE',
  ];

  it('passes unary, unimplemented, errors, streaming, flow control, concurrency, ping and cancel checks', async () => {
    const r = await runHarness(url);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      'OK unary',
      'OK unimplemented-code-12',
      'OK handler-error',
      'OK server-stream',
      'OK bidi-stream',
      'OK large-messages',
      'OK concurrent',
      'OK ping',
      'OK cancel',
      'OK streams-closed',
      'DONE',
    ]);
    // The Go side answered our keepalive pings.
    expect(rtts.length).toBeGreaterThan(0);
    // The session ends when the Go client hangs up (Go's Session.Close drops the socket without GoAway).
    const end = await conns[0]!.closed;
    expect([null, 'transport_closed']).toContain(end?.code ?? null);
  });

  it('works with nhooyr.io/websocket v1.8.7 (32 KiB per-message read limit, Coder clients until mid-2024)', async () => {
    const r = await runHarness(url, 'echo', 'nhooyr');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(expected);
  });
});
