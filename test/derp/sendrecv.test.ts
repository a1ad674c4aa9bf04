import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, next, quiet, waitFor, metric, type Harness } from './helpers.js';
import { PeerGoneReason } from '../../src/derp/frame.js';
import { DISCO_MAGIC } from '../../src/derp/frame.js';
import { ManualClock } from '../../src/util/clock.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

for (const websocket of [false, true]) {
  describe(`send/recv over ${websocket ? 'WebSocket' : 'Upgrade: DERP'}`, () => {
    it('relays packets both ways with the sender key as source', async () => {
      h = await startHarness();
      const a = await h.connect({ websocket });
      const b = await h.connect({ websocket });
      a.send(b.publicKey, Buffer.from('hello'));
      const m = await next(b);
      expect(m).toMatchObject({ type: 'packet' });
      if (m.type !== 'packet') throw new Error();
      expect(m.src.equals(a.publicKey)).toBe(true);
      expect(m.data.toString()).toBe('hello');
      b.send(a.publicKey, Buffer.from('world'));
      const r = await next(a);
      if (r.type !== 'packet') throw new Error('expected packet');
      expect(r.src.equals(b.publicKey)).toBe(true);
      expect(r.data.toString()).toBe('world');
    });

    it('delivers hundreds of large packets intact and in order (write buffers are recycled)', async () => {
      h = await startHarness();
      const a = await h.connect({ websocket });
      const b = await h.connect({ websocket });
      const seen: number[] = [];
      let bad = 0;
      b.onPacket = (_src, data) => {
        const i = data.readUInt32BE(0);
        if (data.length !== 20_000 + (i % 1000) || data[data.length - 1] !== (i & 0xff)) bad++;
        seen.push(i);
      };
      for (let round = 0; round < 10; round++) {
        for (let k = 0; k < 30; k++) {
          const i = round * 30 + k;
          const p = Buffer.alloc(20_000 + (i % 1000), i & 0xff);
          p.writeUInt32BE(i, 0);
          a.send(b.publicKey, p);
        }
        await waitFor(() => seen.length === (round + 1) * 30, 10_000);
      }
      expect(bad).toBe(0);
      expect(seen).toEqual(Array.from({ length: 300 }, (_, i) => i));
    });

    it('carries a 64 KiB packet intact', async () => {
      h = await startHarness();
      const a = await h.connect({ websocket });
      const b = await h.connect({ websocket });
      const big = Buffer.alloc(65536);
      for (let i = 0; i < big.length; i++) big[i] = i * 7;
      a.send(b.publicKey, big);
      const m = await next(b);
      if (m.type !== 'packet') throw new Error('expected packet');
      expect(m.data.equals(big)).toBe(true);
    });
  });
}

describe('peer gone', () => {
  it('tells receivers when a sender leaves, and nobody when a non-sender leaves', async () => {
    h = await startHarness();
    const c1 = await h.connect();
    const c2 = await h.connect();
    const c3 = await h.connect();
    c1.send(c2.publicKey, Buffer.from('x'));
    await next(c2);
    c1.close();
    const g = await next(c2);
    expect(g).toEqual({ type: 'peerGone', key: c1.publicKey, reason: PeerGoneReason.Disconnected });
    c2.close();
    expect(await quiet(c3)).toBe(true);
    await waitFor(() => h.derp.connectionCount === 1);
  });

  it('answers disco to an unknown key with NotHere, limited to a burst of 3', async () => {
    h = await startHarness({ clock: new ManualClock() }); // the limiter never refills
    const c = await h.connect();
    const unknown = Buffer.alloc(32, 9);
    const disco = Buffer.concat([DISCO_MAGIC, Buffer.alloc(32, 1), Buffer.alloc(24)]);
    c.send(unknown, Buffer.from('not disco'));
    for (let i = 0; i < 6; i++) c.send(unknown, disco);
    await c.ping(); // control frames are FIFO: the pong comes after every PeerGone
    const got = [];
    for (;;) {
      try {
        got.push(await c.recv(50));
      } catch {
        break;
      }
    }
    const gone = got.filter((m) => m.type === 'peerGone');
    expect(gone).toHaveLength(3);
    expect(gone[0]).toEqual({ type: 'peerGone', key: unknown, reason: PeerGoneReason.NotHere });
    expect(await metric(h.registry, 'coder_derp_peer_gone_not_here_total')).toBe(3);
    expect(await metric(h.registry, 'coder_derp_packets_dropped_reason_total', { reason: 'unknown_dest' })).toBe(7);
  });
});
