/**
 * DERP over plain TCP (raw and WebSocket) reads into one buffer shared by
 * all connections (SocketStream, WsSocketStream with a read buffer).
 * Whatever outlives a read must be copied out of it: packets queued for a
 * receiver that pushed back, and frames the parser holds while a client is
 * rate-limited. Each test makes other connections' reads
 * overwrite that buffer meanwhile and checks every byte that comes out.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startHarness, next, waitFor, type Harness } from './helpers.js';
import { rawPeer, endsWithin } from './raw.js';
import { WebSocket } from 'ws';
import { FrameParser, FrameType, encodeFrame } from '../../src/derp/frame.js';
import { seal } from '../../src/derp/box.js';
import { keyPair } from '../../src/derp/key.js';
import { PacketQueue } from '../../src/derp/queue.js';
import { ManualClock } from '../../src/util/clock.js';
import { DerpServer } from '../../src/derp/server.js';
import type { DerpClient } from '../../src/derp/client.js';

let h: Harness;
afterEach(async () => {
  vi.restoreAllMocks();
  await h?.close();
});

/** A packet whose every byte follows from (sender, seq): any foreign byte shows. */
function patterned(sender: number, seq: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  b.writeUInt32BE(seq, 0);
  b[4] = sender;
  for (let i = 5; i < size; i++) b[i] = (seq * 31 + sender * 7 + i) & 0xff;
  return b;
}

function intact(b: Buffer, size: number): boolean {
  return b.length === size && b.equals(patterned(b[4]!, b.readUInt32BE(0), size));
}

/** A DERP peer over the `ws` library, whose reading can be paused. */
async function wsPeer(port: number): Promise<{ ws: WebSocket; key: Buffer; packets: Buffer[] }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/derp`, 'derp');
  const packets: Buffer[] = [];
  let serverKey: Buffer | null = null;
  let ready: () => void = () => {};
  const gotInfo = new Promise<void>((r) => (ready = r));
  const parser = new FrameParser(
    () => 1 << 20,
    (type, payload) => {
      if (type === FrameType.ServerKey) serverKey = Buffer.from(payload.subarray(8, 40));
      else if (type === FrameType.ServerInfo) ready();
      else if (type === FrameType.RecvPacket) packets.push(Buffer.from(payload.subarray(32)));
      return true;
    },
  );
  ws.on('message', (d: Buffer) => parser.push(d));
  await new Promise((r) => ws.on('open', r));
  await waitFor(() => serverKey !== null);
  const kp = keyPair();
  ws.send(encodeFrame(FrameType.ClientInfo, kp.publicKey, seal(Buffer.from('{"version":2}'), kp.privateKey, serverKey!)));
  await gotInfo;
  return { ws, key: kp.publicKey, packets };
}

/** Keeps other connections' reads going through the shared buffer; 60 per round fill whole 64 KiB reads. */
async function churn(from: DerpClient, to: DerpClient, rounds: number, perRound = 20): Promise<void> {
  let got = 0;
  to.onPacket = () => void got++;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < perRound; i++) from.send(to.publicKey, Buffer.alloc(1200, 0xee));
    await waitFor(() => got === (r + 1) * perRound, 5000);
  }
}

describe('shared read buffer', () => {
  it('takes over raw DERP and WebSocket sockets; the HTTP server still counts them and closes when they end', async () => {
    const accept = vi.spyOn(DerpServer.prototype, 'accept');
    h = await startHarness();
    const a = await h.connect();
    const b = await h.connect({ websocket: true });
    expect(accept.mock.calls.map(([s]) => s.reusesReadBuffer)).toEqual([true, true]);
    for (const size of [0, 1, 33, 1400, 16_000, 65_536]) {
      const pkt = patterned(1, size, Math.max(size, 5)).subarray(0, size);
      a.send(b.publicKey, pkt);
      const m = await next(b);
      if (m.type !== 'packet') throw new Error(`expected packet, got ${m.type}`);
      expect(m.data.equals(pkt)).toBe(true);
    }
    const count = (): Promise<number> => new Promise((r, j) => h.http.getConnections((e, n) => (e ? j(e) : r(n))));
    expect(await count()).toBe(2);
    a.close();
    await waitFor(() => h.derp.connectionCount === 1);
    expect(await count()).toBe(1);
  });

  it('a peer that half-closes (EOF) ends its session', async () => {
    h = await startHarness();
    const p = await rawPeer(h.port);
    await p.handshake();
    expect(h.derp.connectionCount).toBe(1);
    p.sock.end();
    expect(await endsWithin(p, 3000)).toBe(true);
    await waitFor(() => h.derp.connectionCount === 0);
  });

  it('falls back to the Readable stream when disabled', async () => {
    const accept = vi.spyOn(DerpServer.prototype, 'accept');
    h = await startHarness({}, { sharedReadBuffer: false });
    const a = await h.connect();
    const b = await h.connect({ websocket: true });
    a.send(b.publicKey, Buffer.from('x'));
    expect((await next(b)).type).toBe('packet');
    b.send(a.publicKey, Buffer.from('y'));
    expect((await next(a)).type).toBe('packet');
    expect(accept.mock.calls.map(([s]) => s.reusesReadBuffer === true)).toEqual([false, false]);
  });

  for (const websocket of [false, true]) {
    const via = websocket ? 'WebSocket' : 'raw DERP';
    it(`packets queued for a receiver that stopped reading stay intact while later reads reuse the buffer (${via} senders)`, async () => {
      // A WebSocket receiver takes ≤16 KiB per write, so the flush of one
      // 64 KiB read is four writes; when the one that crosses its high-water
      // mark is not the last, the rest stays queued: that must be copied out.
      const copyOut = PacketQueue.prototype.copyOut;
      let pushbacks = 0;
      let heldAtPushback = 0;
      vi.spyOn(PacketQueue.prototype, 'copyOut').mockImplementation(function (this: PacketQueue, mem: ArrayBufferLike) {
        pushbacks++;
        heldAtPushback += this.size;
        copyOut.call(this, mem);
      });
      h = await startHarness({ limits: { queueDepth: 64, writeTimeoutMs: 0 } });
      const senders = [await h.connect({ websocket }), await h.connect({ websocket }), await h.connect({ websocket })];
      const bob = await h.connect();
      const cathy = await wsPeer(h.port);
      const SIZE = 1400;
      let seq = 0;
      const settle = async (): Promise<number> => {
        let n = cathy.packets.length;
        for (;;) {
          await new Promise((r) => setTimeout(r, 300));
          if (cathy.packets.length === n) return n;
          n = cathy.packets.length;
        }
      };
      // Fill the socket buffers towards cathy until she pushes back with
      // packets of that read still queued, then stop: later packets would be
      // copied on arrival (she is blocked) and push those out of her queue.
      // A push-back that left nothing queued: drain her and try again.
      for (let attempt = 0; attempt < 12 && heldAtPushback === 0; attempt++) {
        if (attempt > 0) {
          cathy.ws.resume();
          await settle();
        }
        cathy.ws.pause();
        const before = pushbacks;
        for (let round = 0; round < 400 && pushbacks === before; round++) {
          for (let i = 0; i < 44; i++) senders[round % 3]!.send(cathy.key, patterned(round % 3, seq++, SIZE));
          await churn(senders[0]!, bob, 1);
        }
      }
      expect(heldAtPushback).toBeGreaterThan(0);
      await churn(senders[1]!, bob, 10, 60);
      const before = cathy.packets.length;
      cathy.ws.resume();
      await waitFor(() => cathy.packets.length > before, 5000);
      const n = await settle();
      expect(n).toBeGreaterThan(64);
      expect(cathy.packets.filter((p) => !intact(p, SIZE))).toEqual([]);
    });

    it(`frames held while a client is rate-limited stay intact while other reads reuse the buffer (${via} sender)`, async () => {
      const clock = new ManualClock();
      h = await startHarness({ clock, limits: { perClientBytesPerSec: 65568, perClientBurstBytes: 65568 } });
      const a = await h.connect({ websocket });
      const b = await h.connect();
      const c = await h.connect({ websocket });
      const d = await h.connect();
      const SIZE = 1000;
      const N = 120;
      const got: Buffer[] = [];
      b.onPacket = (_src, data) => void got.push(Buffer.from(data));
      // ~64 frames fit the burst; the rest of that read is held by the paused parser.
      for (let i = 0; i < N; i++) a.send(b.publicKey, patterned(0, i, SIZE));
      await waitFor(() => got.length >= 60);
      await new Promise((r) => setTimeout(r, 100));
      const before = got.length;
      expect(before).toBeLessThan(N);
      await churn(c, d, 2); // c is rate-limited too: stay under its burst
      for (let t = 0; t < 10 && got.length < N; t++) {
        clock.advance(1001);
        await new Promise((r) => setTimeout(r, 50));
      }
      await waitFor(() => got.length === N, 5000);
      expect(got.every((p, i) => intact(p, SIZE) && p.readUInt32BE(0) === i)).toBe(true);
    });
  }
});
