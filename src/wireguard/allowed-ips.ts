/** IPv6 prefixes a peer may source packets from (cryptokey routing, receive side). */
import { wgError } from './errors.js';

export interface Prefix6 {
  addr: Uint8Array;
  bits: number;
}

/** Parses "addr/bits" (IPv6 only; a bare address means /128). */
export function parsePrefix6(text: string): Prefix6 {
  const [a, b] = text.split('/');
  const bits = b === undefined ? 128 : Number(b);
  if (!Number.isInteger(bits) || bits < 0 || bits > 128) throw wgError('bad_packet', `bad prefix length in ${text}`);
  return { addr: parseIpv6(a ?? ''), bits };
}

export function parseIpv6(text: string): Uint8Array {
  const out = new Uint8Array(16);
  const halves = text.split('::');
  if (halves.length > 2 || text.includes('.')) throw wgError('bad_packet', `not an IPv6 address: ${text}`);
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  if (halves.length === 1 && head.length !== 8) throw wgError('bad_packet', `not an IPv6 address: ${text}`);
  if (head.length + tail.length > (halves.length === 2 ? 7 : 8)) throw wgError('bad_packet', `not an IPv6 address: ${text}`);
  const put = (groups: string[], start: number): void => {
    groups.forEach((g, i) => {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw wgError('bad_packet', `not an IPv6 address: ${text}`);
      const v = parseInt(g, 16);
      out[(start + i) * 2] = v >> 8;
      out[(start + i) * 2 + 1] = v & 0xff;
    });
  };
  put(head, 0);
  put(tail, 8 - tail.length);
  return out;
}

export function formatIpv6(a: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((a[i]! << 8) | a[i + 1]!);
  // RFC 5952: compress the longest run (≥ 2) of zero groups.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function prefixContains(p: Prefix6, addr: Uint8Array): boolean {
  let bits = p.bits;
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((p.addr[i]! & mask) !== (addr[i]! & mask)) return false;
  }
  return true;
}
