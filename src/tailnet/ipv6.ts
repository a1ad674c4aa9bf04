/** IPv6 fixed header codec (RFC 8200 §3); no extension headers (spec §3.1, §4.1). Pure. */
export const IPV6_HEADER_LEN = 40;
export const NEXT_HEADER_TCP = 6;
export const NEXT_HEADER_UDP = 17;
export const IPV6_MIN_MTU = 1280;
const DEFAULT_HOP_LIMIT = 64;

export interface Ipv6Packet {
  src: Uint8Array;
  dst: Uint8Array;
  nextHeader: number;
  hopLimit: number;
  payload: Uint8Array;
}

export function encodeIpv6(src: Uint8Array, dst: Uint8Array, nextHeader: number, payload: Uint8Array, hopLimit = DEFAULT_HOP_LIMIT): Uint8Array {
  const out = new Uint8Array(IPV6_HEADER_LEN + payload.length);
  out[0] = 0x60;
  out[4] = payload.length >> 8;
  out[5] = payload.length & 0xff;
  out[6] = nextHeader;
  out[7] = hopLimit;
  out.set(src, 8);
  out.set(dst, 24);
  out.set(payload, IPV6_HEADER_LEN);
  return out;
}

/** Decodes an IPv6 packet; trailing bytes beyond the payload length are trimmed. Null if malformed. */
export function decodeIpv6(p: Uint8Array): Ipv6Packet | null {
  if (p.length < IPV6_HEADER_LEN || p[0]! >> 4 !== 6) return null;
  const len = (p[4]! << 8) | p[5]!;
  if (IPV6_HEADER_LEN + len > p.length) return null;
  return {
    src: p.subarray(8, 24),
    dst: p.subarray(24, 40),
    nextHeader: p[6]!,
    hopLimit: p[7]!,
    payload: p.subarray(IPV6_HEADER_LEN, IPV6_HEADER_LEN + len),
  };
}

export function equalAddr(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
