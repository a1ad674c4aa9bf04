import { describe, expect, it } from 'vitest';
import { DrpcServerConn } from '../../src/rpc/drpc/server-conn.js';
import { RpcError } from '../../src/rpc/drpc/errors.js';
import { RpcMux, type RpcContext } from '../../src/rpc/drpc/mux.js';
import { Kind, decodeErrorBody, encodePacket } from '../../src/rpc/drpc/wire.js';
import { INITIAL_WINDOW } from '../../src/rpc/yamux/frame.js';
import { YamuxSession } from '../../src/rpc/yamux/session.js';
import type { YamuxStream } from '../../src/rpc/yamux/stream.js';
import { message, scalar } from '../../src/rpc/proto/schema.js';
import { hex, pipe, pipedSessions, TestDrpcClient, tick, toHex } from './helpers.js';

interface Str {
  s: string;
}
const Str = message<Str>('test.Str', [scalar(1, 's', 'string')]);
const te = new TextEncoder();
const enc = (s: string) => Str.encode({ s });
const dec = (b: Uint8Array) => Str.decode(b).s;

function testMux(seen: { ctx?: RpcContext; ended?: 'null' | 'done' } = {}): RpcMux {
  return new RpcMux()
    .unary('/test.Echo/Unary', Str, Str, (req, ctx) => {
      seen.ctx = ctx;
      return { s: `echo:${req.s}` };
    })
    .unary('/test.Echo/Fail', Str, Str, () => {
      throw new Error('boom');
    })
    .unary('/test.Echo/Unimpl', Str, Str, () => {
      throw RpcError.unimplemented();
    })
    .serverStream('/test.Echo/Count', Str, Str, async (req, send) => {
      for (let i = 0; i < Number(req.s); i++) await send({ s: String(i) });
    })
    .serverStream('/test.Echo/Big', Str, Str, async (req, send) => {
      await send({ s: 'x'.repeat(Number(req.s)) });
    })
    .bidi('/test.Echo/Bidi', Str, Str, async (stream, ctx) => {
      seen.ctx = ctx;
      for (;;) {
        const m = await stream.recv();
        if (m === null) {
          seen.ended = 'null';
          return;
        }
        await stream.send({ s: m.s.toUpperCase() });
      }
    })
    .bidi('/test.Echo/Stall', Str, Str, async (_stream, ctx) => {
      seen.ctx = ctx;
      await new Promise<void>((r) => ctx.signal.addEventListener('abort', () => r()));
    });
}

function setup(seen: Parameters<typeof testMux>[0] = {}) {
  const mux = testMux(seen);
  const p = pipedSessions({ onStream: (s) => new DrpcServerConn(s, mux) });
  return { ...p, rpc: new TestDrpcClient(p.client) };
}

describe('dRPC server over yamux', () => {
  it('answers the §1.5 byte sequence with Message + CloseSend and FIN after the client FIN', async () => {
    const mux = new RpcMux().raw('/coder.agent.v2.Agent/GetManifest', async (call) => {
      expect(await call.recv()).toEqual(new Uint8Array(0));
      return hex('0a10' + '11'.repeat(16)); // a Manifest with agent_id
    });
    const [serverEnd, peer] = pipe();
    const got: Uint8Array[] = [];
    peer.attach({ onData: (c) => got.push(c), onEnd: () => undefined, onDrain: () => undefined });
    new YamuxSession(serverEnd, { keepaliveIntervalMs: null, onStream: (s) => new DrpcServerConn(s, mux) });
    peer.write(hex('00 01 00 01 00 00 00 01 00 00 00 00'));
    peer.write(hex('00 00 00 00 00 00 00 01 00 00 00 2d'));
    peer.write(
      hex('03 01 01 21' + Buffer.from('/coder.agent.v2.Agent/GetManifest').toString('hex') + '05 01 02 00' + '0d 01 03 00'),
    );
    await tick();
    const body = '05010112' + '0a10' + '11'.repeat(16) + '0d010200';
    expect(toHex(Buffer.concat(got.splice(0)))).toBe('000100020000000100000000' + '0000000000000001' + (body.length / 2).toString(16).padStart(8, '0') + body);
    peer.write(hex('00 01 00 04 00 00 00 01 00 00 00 00'));
    await tick();
    expect(toHex(Buffer.concat(got.splice(0)))).toBe('000100040000000100000000');
  });

  it('serves unary calls with message ids starting at 1', async () => {
    const seen: { ctx?: RpcContext } = {};
    const { rpc } = setup(seen);
    const pkts = await rpc.unary('/test.Echo/Unary', enc('hi'));
    expect(pkts.map((p) => [p.kind, p.streamId, p.messageId])).toEqual([
      [Kind.Message, 1, 1],
      [Kind.CloseSend, 1, 2],
    ]);
    expect(dec(pkts[0]!.data)).toBe('echo:hi');
    expect(seen.ctx?.method).toBe('/test.Echo/Unary');
  });

  it('answers unknown methods with code 12 so Go clients back off', async () => {
    const { rpc } = setup();
    const [p] = await rpc.unary('/coder.agent.v2.Agent/PushContextState', new Uint8Array(0));
    expect(p!.kind).toBe(Kind.Error);
    expect(decodeErrorBody(p!.data)).toEqual({ code: 12, message: 'protocol error: unknown rpc: "/coder.agent.v2.Agent/PushContextState"' });
  });

  it('sends handler errors as Error packets: RpcError keeps its code, plain errors use 0', async () => {
    const { rpc } = setup();
    const [a] = await rpc.unary('/test.Echo/Fail', enc(''));
    expect(decodeErrorBody(a!.data)).toEqual({ code: 0, message: 'boom' });
    const [b] = await rpc.unary('/test.Echo/Unimpl', enc(''));
    expect(decodeErrorBody(b!.data)).toEqual({ code: 12, message: 'Unimplemented' });
  });

  it('serves server-streaming calls', async () => {
    const { rpc } = setup();
    const pkts = await rpc.unary('/test.Echo/Count', enc('3'));
    expect(pkts.map((p) => (p.kind === Kind.Message ? dec(p.data) : p.kind))).toEqual(['0', '1', '2', Kind.CloseSend]);
  });

  it('streams a response larger than the yamux window', async () => {
    const { rpc } = setup();
    const pkts = await rpc.unary('/test.Echo/Big', enc(String(3 * INITIAL_WINDOW)));
    expect(dec(pkts[0]!.data).length).toBe(3 * INITIAL_WINDOW);
  });

  it('serves bidirectional streams; CloseSend ends the handler input', async () => {
    const seen: { ended?: 'null' | 'done' } = {};
    const { rpc } = setup(seen);
    const call = rpc.open();
    await call.send([{ kind: Kind.Invoke, data: te.encode('/test.Echo/Bidi') }]);
    await call.send([{ kind: Kind.Message, data: enc('a') }]);
    let got = await call.until((p) => p.kind === Kind.Message);
    expect(dec(got[0]!.data)).toBe('A');
    await call.send([{ kind: Kind.Message, data: enc('b') }, { kind: Kind.CloseSend, data: new Uint8Array(0) }]);
    got = await call.until((p) => p.kind === Kind.CloseSend);
    expect(got.map((p) => p.kind)).toEqual([Kind.Message, Kind.CloseSend]);
    expect(seen.ended).toBe('null');
  });

  it('client FIN mid-stream cancels the handler and the server closes its side', async () => {
    const seen: { ctx?: RpcContext } = {};
    const { rpc, server } = setup(seen);
    const call = rpc.open();
    await call.send([{ kind: Kind.Invoke, data: te.encode('/test.Echo/Stall') }]);
    await tick();
    expect(seen.ctx?.signal.aborted).toBe(false);
    call.stream.closeWrite();
    await call.waitEof();
    expect(seen.ctx?.signal.aborted).toBe(true);
    await tick();
    expect(server.streamCount).toBe(0);
  });

  it('client RST mid-stream cancels the handler and frees the stream', async () => {
    const seen: { ctx?: RpcContext } = {};
    const { rpc, server } = setup(seen);
    const call = rpc.open();
    await call.send([{ kind: Kind.Invoke, data: te.encode('/test.Echo/Stall') }]);
    await tick();
    call.stream.reset();
    await tick();
    expect(seen.ctx?.signal.aborted).toBe(true);
    expect(server.streamCount).toBe(0);
  });

  it('a Cancel packet (control bit) cancels the call without an error', async () => {
    const seen: { ctx?: RpcContext } = {};
    const { rpc } = setup(seen);
    const call = rpc.open();
    await call.send([{ kind: Kind.Invoke, data: te.encode('/test.Echo/Stall') }]);
    await call.send([{ kind: Kind.Cancel, data: new Uint8Array(0), control: true }]);
    await tick();
    expect(seen.ctx?.signal.aborted).toBe(true);
  });

  it('passes InvokeMetadata to the handler and ignores unknown control packets', async () => {
    const seen: { ctx?: RpcContext } = {};
    const { rpc } = setup(seen);
    const call = rpc.open();
    const entry = hex('0a' + '08' + '0a01' + '6b' + '1203' + '76616c'); // {1:"k",2:"val"}
    await call.send([
      { kind: Kind.InvokeMetadata, data: entry },
      { kind: Kind.Invoke, data: te.encode('/test.Echo/Unary') },
      { kind: 40, data: hex('ff'), control: true },
      { kind: Kind.Message, data: enc('m') },
      { kind: Kind.CloseSend, data: new Uint8Array(0) },
    ]);
    const pkts = await call.until((p) => p.kind === Kind.CloseSend);
    expect(dec(pkts[0]!.data)).toBe('echo:m');
    expect([...seen.ctx!.metadata]).toEqual([['k', 'val']]);
  });

  it('serves sequential RPCs on one yamux stream (stream ids 1 then 2)', async () => {
    const { rpc } = setup();
    const call = rpc.open();
    for (const word of ['one', 'two']) {
      await call.send([
        { kind: Kind.Invoke, data: te.encode('/test.Echo/Unary') },
        { kind: Kind.Message, data: enc(word) },
        { kind: Kind.CloseSend, data: new Uint8Array(0) },
      ]);
      const pkts = await call.until((p) => p.kind === Kind.CloseSend);
      expect(pkts[0]!.streamId).toBe(call.streamId);
      expect(dec(pkts[0]!.data)).toBe(`echo:${word}`);
      call.nextStream();
    }
  });

  it('a protocol violation resets only that yamux stream', async () => {
    const { rpc, client } = setup();
    const bad = rpc.open();
    await bad.stream.write(Buffer.concat([
      encodePacket({ kind: Kind.Invoke, streamId: 1, messageId: 5, control: false, data: te.encode('/test.Echo/Bidi') }),
      encodePacket({ kind: Kind.Message, streamId: 1, messageId: 3, control: false, data: enc('x') }),
    ]));
    await bad.waitEof();
    expect(bad.stream.error?.code).toBe('stream_reset');
    const pkts = await rpc.unary('/test.Echo/Unary', enc('still fine'));
    expect(dec(pkts[0]!.data)).toBe('echo:still fine');
    expect(client.isClosed).toBe(false);
  });

  it('an oversize packet (> 4 MiB) resets the stream', async () => {
    const { rpc } = setup();
    const call = rpc.open();
    const big = new Uint8Array(4 * 1024 * 1024 + 1);
    void call.send([{ kind: Kind.Invoke, data: te.encode('/test.Echo/Bidi') }, { kind: Kind.Message, data: big }]).catch(() => undefined);
    await call.waitEof(10_000);
    expect(call.stream.error?.code).toBe('stream_reset');
  });

  it('stops reading while a handler does not consume, holding unread data within the window', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let serverStream: YamuxStream | null = null;
    let received = 0;
    const mux = new RpcMux().bidi('/test.Echo/Slow', Str, Str, async (stream) => {
      await gate;
      for await (const _ of stream) received++;
    });
    const p = pipedSessions({
      onStream: (s) => {
        serverStream = s;
        new DrpcServerConn(s, mux);
      },
    });
    const call = new TestDrpcClient(p.client).open();
    await call.send([{ kind: Kind.Invoke, data: te.encode('/test.Echo/Slow') }]);
    const msg = enc('y'.repeat(16 * 1024));
    const items = Array.from({ length: 64 }, () => ({ kind: Kind.Message, data: msg }));
    const writing = call.send([...items, { kind: Kind.CloseSend, data: new Uint8Array(0) }]);
    await tick(10);
    const s = serverStream as unknown as YamuxStream;
    expect(s.buffered).toBeLessThanOrEqual(INITIAL_WINDOW);
    expect(s.buffered).toBeGreaterThan(INITIAL_WINDOW / 2);
    release();
    await writing;
    await call.until((pk) => pk.kind === Kind.CloseSend);
    expect(received).toBe(64);
  });

  it('reports call outcomes and protocol errors through the metric hooks', async () => {
    const outcomes: string[] = [];
    const protocol: string[] = [];
    const mux = testMux();
    const p = pipedSessions({
      onStream: (st) => new DrpcServerConn(st, mux, { onCallEnd: (m, o) => outcomes.push(`${m} ${o}`), onProtocolError: (c) => protocol.push(c) }),
    });
    const rpc = new TestDrpcClient(p.client);
    await rpc.unary('/test.Echo/Unary', enc('x'));
    await rpc.unary('/test.Echo/Fail', enc('x'));
    await rpc.unary('/nope/Nope', enc('x'));
    const bad = rpc.open();
    await bad.stream.write(hex('05 ff ff ff ff ff ff ff ff ff ff 01 01 00'));
    await bad.waitEof();
    expect(outcomes).toEqual(['/test.Echo/Unary ok', '/test.Echo/Fail error', '/nope/Nope unimplemented']);
    expect(protocol).toEqual(['varint_too_long']);
  });
});
