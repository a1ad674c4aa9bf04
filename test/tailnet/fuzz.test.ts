import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ACK, FIN, PSH, RST, SYN } from '../../src/tailnet/index.js';
import { Device, randomPrivateKey } from '../../src/wireguard/index.js';
import { ISS, RISS, established } from './script.js';

const segArb = fc.record({
  seq: fc.oneof(fc.integer({ min: RISS - 10, max: RISS + 70_000 }), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
  ack: fc.oneof(fc.integer({ min: ISS - 10, max: ISS + 200 }), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
  flags: fc.constantFrom(ACK, ACK | PSH, ACK | FIN, RST, RST | ACK, SYN, SYN | ACK, 0, FIN),
  window: fc.integer({ min: 0, max: 65535 }),
  payload: fc.uint8Array({ maxLength: 40 }),
});

describe('robustness under hostile input', () => {
  it('random segments never throw and keep the send sequence invariants', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(segArb, { maxLength: 30 }), async (segs) => {
        const h = await established();
        h.socket.write(Buffer.alloc(3000, 1));
        for (const s of segs) {
          h.inject(s);
          h.clock.advance(50);
        }
        const conn = [...(h.stack as unknown as { conns: Map<number, { conn: Record<string, number> }> }).conns.values()][0]?.conn;
        if (conn) {
          const una = conn['sndUna']!;
          const nxt = conn['sndNxt']!;
          const max = conn['sndMax']!;
          expect(((nxt - una) | 0) >= 0).toBe(true);
          expect(((max - nxt) | 0) >= 0).toBe(true);
        }
        h.socket.destroy();
      }),
      { numRuns: 60 },
    );
  });

  it('Device.receive never throws on arbitrary datagrams', () => {
    const dev = new Device({ privateKey: randomPrivateKey(), send: () => {}, deliver: () => {} });
    dev.addPeer({ publicKey: new Uint8Array(32).fill(9), allowedIps: [] });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(148, 92, 64, 32).chain((n) => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => {
        b[0] = n === 148 ? 1 : n === 92 ? 2 : n === 64 ? 3 : 4;
        b[1] = b[2] = b[3] = 0;
        return b;
      }))), (b) => {
        expect(typeof (dev.receive(b) ?? 'ok')).toBe('string');
      }),
      { numRuns: 300 },
    );
    dev.close();
  });
});
