import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PacketQueue } from '../../src/derp/queue.js';

describe('PacketQueue', () => {
  it('behaves like a bounded FIFO through growth and wrap-around', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(fc.boolean(), { maxLength: 300 }), (cap, ops) => {
        const q = new PacketQueue(cap);
        const model: number[] = [];
        let n = 0;
        const src = Buffer.alloc(32);
        for (const push of ops) {
          if (push && !q.full) {
            const b = Buffer.alloc(40 + (n % 7));
            b.writeUInt32BE(n, 32);
            q.push(b, 32, src, n);
            model.push(n++);
          } else if (!push && q.size > 0) {
            const h = q.head;
            expect(q.pay[h]!.readUInt32BE(q.off[h]!)).toBe(model[0]);
            expect(q.at[h]).toBe(model[0]);
            expect(q.frontFrameLen()).toBe(37 + q.pay[h]!.length - 32);
            q.dropFront();
            model.shift();
          }
          expect(q.size).toBe(model.length);
          expect(q.full).toBe(model.length >= cap);
        }
        const seen: number[] = [];
        q.clear((p, off) => seen.push(p.readUInt32BE(off)));
        expect(seen).toEqual(model);
        expect(q.size).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});
