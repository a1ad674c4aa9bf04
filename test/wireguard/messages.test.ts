import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bumpTai64n,
  classify,
  compareTai64n,
  decodeInitiation,
  encodeInitiation,
  monotonicTai64n,
  tai64nFromMs,
} from '../../src/wireguard/index.js';
import { V, toHex } from './vectors.js';

const withHead = (len: number, head: number[]): Uint8Array => {
  const b = new Uint8Array(len);
  b.set(head);
  return b;
};

describe('message classification (§1.3 size rules, §2.2)', () => {
  it('classifies exact sizes', () => {
    expect(classify(V.initiation)).toBe('initiation');
    expect(classify(V.response)).toBe('response');
    expect(classify(V.cookieReply)).toBe('cookie');
    expect(classify(V.keepaliveIR)).toBe('transport');
    expect(classify(V.dataIR1)).toBe('transport');
  });

  it('rejects wrong sizes, short messages and non-zero reserved bytes', () => {
    expect(classify(withHead(147, [1]))).toBe('junk');
    expect(classify(withHead(149, [1]))).toBe('junk');
    expect(classify(withHead(148, [1, 0, 0, 1]))).toBe('junk');
    expect(classify(withHead(93, [2]))).toBe('junk');
    expect(classify(withHead(65, [3]))).toBe('junk');
    expect(classify(withHead(31, [4]))).toBe('junk');
    expect(classify(withHead(32, [4]))).toBe('transport');
    expect(classify(withHead(148, [5]))).toBe('junk');
    expect(classify(withHead(1332, [5]))).toBe('junk');
  });

  it('recognises disco frames by magic and minimum length', () => {
    const magic = [0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac];
    expect(classify(withHead(38, magic))).toBe('disco');
    expect(classify(withHead(37, magic))).toBe('junk');
  });

  it('initiation decode/encode round-trips', () => {
    expect(toHex(encodeInitiation(decodeInitiation(V.initiation)))).toBe(toHex(V.initiation));
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const k = classify(b);
        expect(['initiation', 'response', 'cookie', 'transport', 'disco', 'junk']).toContain(k);
      }),
      { numRuns: 200 },
    );
  });
});

describe('TAI64N', () => {
  it('encodes a fixed time like wireguard-go (vector timestamp)', () => {
    const secs = 0x6b0b15db - 10;
    expect(toHex(tai64nFromMs(secs * 1000 + 580))).toBe(toHex(V.timestamp));
  });

  it('whitens nanoseconds to 2^24 ns buckets', () => {
    expect(compareTai64n(tai64nFromMs(1000), tai64nFromMs(1010))).toBe(0);
    expect(compareTai64n(tai64nFromMs(1000), tai64nFromMs(1020))).toBeLessThan(0);
  });

  it('bumps into the next bucket and carries into seconds', () => {
    const t = tai64nFromMs(1000);
    const b = bumpTai64n(t);
    expect(compareTai64n(b, t)).toBeGreaterThan(0);
    const late = tai64nFromMs(1999);
    const carried = bumpTai64n(late);
    expect(toHex(carried.subarray(0, 8))).toBe(toHex(tai64nFromMs(2000).subarray(0, 8)));
    expect(compareTai64n(carried, late)).toBeGreaterThan(0);
  });

  it('monotonicTai64n is strictly increasing even with a frozen or stepped-back clock', () => {
    let last: Uint8Array | null = null;
    for (const ms of [5000, 5000, 5001, 4000, 6000]) {
      const t = monotonicTai64n(ms, last);
      if (last) expect(compareTai64n(t, last)).toBeGreaterThan(0);
      last = t;
    }
  });
});
