import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/util/clock.js';
import { Flag, FrameType, INITIAL_WINDOW, encodeFrame, encodeHeader } from '../../src/rpc/yamux/frame.js';
import { YamuxSession } from '../../src/rpc/yamux/session.js';
import type { YamuxStream } from '../../src/rpc/yamux/stream.js';
import { MAX_WRITE_CHUNK } from '../../src/rpc/byte-stream.js';
import { hex, pipe, pipedSessions, tick, toHex } from './helpers.js';

/** A server session driven by raw bytes from the test. */
function rawServer(opts: ConstructorParameters<typeof YamuxSession>[1] = {}) {
  const [serverEnd, peer] = pipe();
  const got: Uint8Array[] = [];
  peer.attach({ onData: (c) => got.push(c), onEnd: () => undefined, onDrain: () => undefined });
  const streams: YamuxStream[] = [];
  let closedWith: unknown = 'open';
  const session = new YamuxSession(serverEnd, {
    keepaliveIntervalMs: null,
    ...opts,
    onStream: (s) => streams.push(s),
    onClose: (e) => (closedWith = e),
  });
  const send = async (...chunks: Uint8Array[]) => {
    for (const c of chunks) peer.write(c);
    await tick();
  };
  const out = () => toHex(Buffer.concat(got.splice(0)));
  return { session, send, out, streams, serverEnd, peer, closed: () => closedWith };
}

const syn = (id: number) => encodeHeader({ type: FrameType.WindowUpdate, flags: Flag.SYN, streamId: id, length: 0 });

describe('yamux server session', () => {
  it('ACKs a SYN immediately with WindowUpdate|ACK delta 0 (§1.5)', async () => {
    const t = rawServer();
    await t.send(hex('00 01 00 01 00 00 00 01 00 00 00 00'));
    expect(t.out()).toBe('000100020000000100000000');
    expect(t.streams.map((s) => s.id)).toEqual([1]);
  });

  it('answers a ping SYN with an ACK carrying the same opaque value', async () => {
    const t = rawServer();
    await t.send(hex('00 02 00 01 00 00 00 00 00 00 00 07'));
    expect(t.out()).toBe('000200020000000000000007');
  });

  it('answers pings ahead of queued data when the transport is congested', async () => {
    const t = rawServer();
    t.serverEnd.limit = 1; // every write reports backpressure
    await t.send(syn(1));
    const s = t.streams[0]!;
    void s.write(new Uint8Array(100_000));
    await t.send(hex('00 02 00 01 00 00 00 00 00 00 00 09'));
    t.out();
    t.serverEnd.limit = null;
    t.serverEnd.drain();
    await tick();
    // the next frame on the wire after the drain is the ping ACK, not data
    expect(t.out().slice(0, 24)).toBe('000200020000000000000009');
  });

  it('parses headers and bodies split byte by byte across chunks', async () => {
    const t = rawServer();
    const frames = Buffer.concat([syn(1), encodeFrame({ type: FrameType.Data, flags: 0, streamId: 1, length: 5 }, hex('68656c6c6f'))]);
    for (const b of frames) t.peer.write(Uint8Array.of(b));
    await tick(10);
    const s = t.streams[0]!;
    const parts: Uint8Array[] = [];
    for (let c = s.read(); c; c = s.read()) parts.push(c);
    expect(Buffer.concat(parts).toString()).toBe('hello');
  });

  it('rejects an even (server-direction) stream id with GoAway protocol error', async () => {
    const t = rawServer();
    await t.send(syn(2));
    expect(t.out()).toBe('000300000000000000000001');
    expect(t.closed()).toMatchObject({ code: 'wrong_direction' });
  });

  it('rejects a SYN for an open stream with GoAway protocol error', async () => {
    const t = rawServer();
    await t.send(syn(1), syn(1));
    expect(t.out()).toBe('000100020000000100000000' + '000300000000000000000001');
    expect(t.closed()).toMatchObject({ code: 'duplicate_stream' });
  });

  it('treats a bad version as a protocol error', async () => {
    const t = rawServer();
    await t.send(hex('01 00 00 00 00 00 00 01 00 00 00 00'));
    expect(t.out()).toBe('000300000000000000000001');
    expect(t.closed()).toMatchObject({ code: 'bad_version' });
  });

  it('kills the session when the peer exceeds the receive window', async () => {
    const t = rawServer();
    await t.send(syn(1), encodeHeader({ type: FrameType.Data, flags: 0, streamId: 1, length: INITIAL_WINDOW + 1 }));
    expect(t.out()).toBe('000100020000000100000000' + '000300000000000000000001');
    expect(t.closed()).toMatchObject({ code: 'window_exceeded' });
  });

  it('discards data for unknown streams and ignores their window updates', async () => {
    const t = rawServer();
    await t.send(
      encodeFrame({ type: FrameType.Data, flags: 0, streamId: 9, length: 3 }, hex('010203')),
      encodeHeader({ type: FrameType.WindowUpdate, flags: 0, streamId: 11, length: 100 }),
      syn(1),
    );
    expect(t.out()).toBe('000100020000000100000000');
    expect(t.closed()).toBe('open');
  });

  it('RSTs new streams after it sent GoAway', async () => {
    const t = rawServer();
    t.session.goAway();
    await t.send(syn(1));
    expect(t.out()).toBe('000300000000000000000000' + '000100080000000100000000');
    expect(t.streams).toHaveLength(0);
  });

  it('RSTs SYNs beyond maxStreams', async () => {
    const t = rawServer({ maxStreams: 1 });
    await t.send(syn(1), syn(3));
    expect(t.out()).toBe('000100020000000100000000' + '000100080000000300000000');
  });

  it('keeps ping replies flowing under keepalive and reports RTT', async () => {
    const clock = new ManualClock();
    const rtts: number[] = [];
    const t = rawServer({ clock, keepaliveIntervalMs: 30_000, onPingRtt: (r) => rtts.push(r) });
    clock.advance(30_000);
    await tick();
    const ping = t.out();
    expect(ping.slice(0, 16)).toBe('0002000100000000');
    clock.advance(25);
    const reply = hex(ping);
    reply[3] = Flag.ACK;
    await t.send(reply);
    expect(rtts).toEqual([25]);
    expect(t.closed()).toBe('open');
  });

  it('closes the session when a keepalive ping goes unanswered for 10 s', async () => {
    const clock = new ManualClock();
    const t = rawServer({ clock, keepaliveIntervalMs: 30_000 });
    clock.advance(30_000);
    clock.advance(10_000);
    await tick();
    expect(t.closed()).toMatchObject({ code: 'keepalive_timeout' });
  });

  it('delivers data that rides on a Data|FIN frame before EOF', async () => {
    const t = rawServer();
    await t.send(syn(1), encodeFrame({ type: FrameType.Data, flags: Flag.FIN, streamId: 1, length: 2 }, hex('6869')));
    const s = t.streams[0]!;
    expect(Buffer.from(s.read()!).toString()).toBe('hi');
    expect(s.ended).toBe(true);
  });

  it('RST from the peer fails pending writes and reads', async () => {
    const t = rawServer();
    await t.send(syn(1));
    const s = t.streams[0]!;
    const w = s.write(new Uint8Array(INITIAL_WINDOW + 10)).catch((e: unknown) => e); // blocks on window
    await t.send(encodeHeader({ type: FrameType.WindowUpdate, flags: Flag.RST, streamId: 1, length: 0 }));
    expect(await w).toMatchObject({ code: 'stream_reset' });
    expect(s.error?.code).toBe('stream_reset');
    expect(t.session.streamCount).toBe(0);
  });

  it('resets a stream whose peer never FINs within the close timeout', async () => {
    const clock = new ManualClock();
    const t = rawServer({ clock, streamCloseTimeoutMs: 1000 });
    await t.send(syn(1));
    t.streams[0]!.closeWrite();
    await tick();
    expect(t.out()).toBe('000100020000000100000000' + '000100040000000100000000');
    clock.advance(1000);
    await tick();
    expect(t.out()).toBe('000100080000000100000000');
  });
});

describe('yamux sessions back to back', () => {
  it('FIN in both directions removes the stream; half-close keeps the other direction open', async () => {
    const { server, client } = pipedSessions({ onStream: (s) => (accepted = s) });
    let accepted: YamuxStream | null = null;
    const c = client.openStream();
    await c.write(new TextEncoder().encode('ping'));
    c.closeWrite();
    await tick();
    const s = accepted as unknown as YamuxStream;
    expect(Buffer.from(s.read()!).toString()).toBe('ping');
    expect(s.ended).toBe(true);
    await s.write(new TextEncoder().encode('pong'));
    s.closeWrite();
    await tick();
    expect(Buffer.from(c.read()!).toString()).toBe('pong');
    expect(c.ended).toBe(true);
    expect(server.streamCount).toBe(0);
    expect(client.streamCount).toBe(0);
  });

  it('moves > 256 KiB each way with flow control, never exceeding the window and never stalling', async () => {
    let accepted: YamuxStream | null = null;
    const { client, clientEnd } = pipedSessions({ onStream: (s) => (accepted = s) });
    const size = 1024 * 1024 + 123;
    const payload = Uint8Array.from({ length: size }, (_, i) => (i * 7) & 0xff);
    const c = client.openStream();
    const writing = c.write(payload);
    await tick();
    const s = accepted as unknown as YamuxStream;
    // Nothing read yet: the sender stops at the window.
    expect(s.buffered).toBe(INITIAL_WINDOW);
    const got: Uint8Array[] = [];
    let n = 0;
    while (n < size) {
      const chunk = s.read();
      if (!chunk) {
        await tick(2);
        continue;
      }
      expect(s.buffered).toBeLessThanOrEqual(INITIAL_WINDOW);
      got.push(chunk);
      n += chunk.length;
    }
    await writing;
    expect(Buffer.concat(got).equals(Buffer.from(payload))).toBe(true);
    // The server writes back a large body; every transport message stays ≤ 32 KiB.
    const back = s.write(payload);
    let m = 0;
    while (m < size) {
      const chunk = c.read();
      if (!chunk) {
        await tick(2);
        continue;
      }
      m += chunk.length;
    }
    await back;
    expect(Math.max(...clientEnd.peer.written.map((w) => w.length))).toBeLessThanOrEqual(MAX_WRITE_CHUNK);
  });

  it('ping() measures a round trip', async () => {
    const { server } = pipedSessions();
    const rtt = await server.ping();
    expect(rtt).toBeGreaterThanOrEqual(0);
  });

  it('GoAway from the peer blocks new client streams but existing ones continue', async () => {
    let accepted: YamuxStream | null = null;
    const { server, client } = pipedSessions({ onStream: (s) => (accepted = s) });
    const c = client.openStream();
    await tick();
    server.goAway();
    await tick();
    expect(() => client.openStream()).toThrow(/goaway/);
    await (accepted as unknown as YamuxStream).write(Uint8Array.of(1, 2, 3));
    await tick();
    expect(Array.from(c.read()!)).toEqual([1, 2, 3]);
  });

  it('transport end fails every stream with session_closed', async () => {
    const { server, client, clientEnd } = pipedSessions();
    const c = client.openStream();
    await tick();
    clientEnd.close();
    await tick();
    expect(server.isClosed).toBe(true);
    expect(c.error?.code).toBe('session_closed');
  });
});

