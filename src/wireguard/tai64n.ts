/**
 * TAI64N timestamps (12 bytes, big-endian) as wireguard-go encodes them
 * (spec §1.9): 2^62 + 10 + seconds, then nanoseconds with the low 24 bits
 * cleared (whitening against timing side channels).
 */
const BASE = 0x400000000000000an;
const WHITENER_MASK = 0xff000000;
const NS_STEP = 0x1000000;

export const TAI64N_LEN = 12;

export function tai64nFromMs(unixMs: number): Uint8Array {
  const secs = Math.floor(unixMs / 1000);
  const ns = Math.floor((unixMs - secs * 1000) * 1e6);
  return tai64nFromParts(BigInt(secs), ns);
}

export function tai64nFromParts(seconds: bigint, nanos: number): Uint8Array {
  const out = new Uint8Array(TAI64N_LEN);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, BASE + seconds);
  v.setUint32(8, (nanos & WHITENER_MASK) >>> 0);
  return out;
}

/** Bytewise comparison: negative, zero or positive. */
export function compareTai64n(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < TAI64N_LEN; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** last + one whitening step (2^24 ns), carrying into the seconds. */
export function bumpTai64n(last: Uint8Array): Uint8Array {
  const v = new DataView(last.buffer, last.byteOffset, TAI64N_LEN);
  let secs = v.getBigUint64(0) - BASE;
  let ns = v.getUint32(8) + NS_STEP;
  if (ns >= 1e9) {
    secs += 1n;
    ns = 0;
  }
  return tai64nFromParts(secs, ns);
}

/** Timestamp for now that is strictly greater than `last` (if any). */
export function monotonicTai64n(unixMs: number, last: Uint8Array | null): Uint8Array {
  const ts = tai64nFromMs(unixMs);
  if (last && compareTai64n(ts, last) <= 0) return bumpTai64n(last);
  return ts;
}
