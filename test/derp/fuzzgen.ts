/** fast-check generators shared by the fuzz tests and bench/fuzz/derp-frame.ts. */
import fc from 'fast-check';
import { encodeFrame } from '../../src/derp/frame.js';

export interface GenFrame {
  type: number;
  payload: Buffer;
}

export const fuzzFrame: fc.Arbitrary<GenFrame> = fc
  .record({
    type: fc.oneof(fc.constantFrom(0x04, 0x06, 0x07, 0x0a, 0x10, 0x11, 0x12, 0x13, 0x14), fc.integer({ min: 0, max: 255 })),
    payload: fc.uint8Array({ maxLength: 300 }),
  })
  .map(({ type, payload }) => ({ type, payload: Buffer.from(payload) }));

export const fuzzFrames = fc.array(fuzzFrame, { maxLength: 12 });

export function frameStream(frames: GenFrame[]): Buffer {
  return Buffer.concat(frames.map((f) => encodeFrame(f.type, f.payload)));
}

/** Splits `b` into chunks whose sizes cycle through `cuts`. */
export function chunked(b: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let o = 0;
  let i = 0;
  while (o < b.length) {
    const n = cuts[i++ % cuts.length]!;
    out.push(b.subarray(o, o + n));
    o += n;
  }
  return out;
}
