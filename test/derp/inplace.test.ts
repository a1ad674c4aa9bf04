import { afterEach, describe, expect, it, vi } from 'vitest';
import { startHarness, next, type Harness } from './helpers.js';
import { Conn } from '../../src/derp/conn.js';

let h: Harness;
afterEach(async () => {
  vi.restoreAllMocks();
  await h?.close();
});

describe('RecvPacket rewritten in place from the SendPacket read chunk', () => {
  for (const websocket of [false, true]) {
    it(`relays intact packets of every size from a ${websocket ? 'WebSocket' : 'DERP'} sender to a TCP receiver, rewriting in place`, async () => {
      const spy = vi.spyOn(Conn.prototype as unknown as { sendInPlace: () => void }, 'sendInPlace');
      // Raw DERP reads into the shared buffer unless told otherwise (shared-read.test.ts).
      h = await startHarness({}, { sharedReadBuffer: false });
      const a = await h.connect({ websocket });
      const b = await h.connect();
      for (const size of [0, 1, 31, 32, 33, 100, 1400, 16_000, 65_536]) {
        const pkt = Buffer.alloc(size);
        for (let i = 0; i < size; i++) pkt[i] = (i * 7 + size) & 0xff;
        a.send(b.publicKey, pkt);
        const m = await next(b);
        if (m.type !== 'packet') throw new Error(`expected packet, got ${m.type}`);
        expect(m.src.equals(a.publicKey)).toBe(true);
        expect(m.data.equals(pkt)).toBe(true);
      }
      expect(spy).toHaveBeenCalled();
    });
  }
});
