/** Internet checksum (RFC 1071) with the IPv6 pseudo-header (RFC 8200 §8.1). */

/** Adds the 16-bit big-endian words of `b` to `sum` (odd length padded with a zero byte). */
export function sumWords(b: Uint8Array, sum = 0): number {
  const n = b.length & ~1;
  for (let i = 0; i < n; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (b.length & 1) sum += b[n]! << 8;
  // Fold periodically to stay well inside the safe integer range.
  return sum;
}

export function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

export function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, upperLength: number, nextHeader: number): number {
  let s = sumWords(src);
  s = sumWords(dst, s);
  s += Math.floor(upperLength / 0x10000) + (upperLength & 0xffff);
  s += nextHeader;
  return s;
}

/** Checksum of an upper-layer message whose checksum field is zero. */
export function upperLayerChecksum(src: Uint8Array, dst: Uint8Array, nextHeader: number, body: Uint8Array): number {
  return ~fold(sumWords(body, pseudoHeaderSum(src, dst, body.length, nextHeader))) & 0xffff;
}

/** True when the message (checksum included) sums to 0xffff with its pseudo-header. */
export function verifyUpperLayer(src: Uint8Array, dst: Uint8Array, nextHeader: number, body: Uint8Array): boolean {
  return fold(sumWords(body, pseudoHeaderSum(src, dst, body.length, nextHeader))) === 0xffff;
}
