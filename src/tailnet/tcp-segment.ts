/**
 * TCP header + options codec with checksum (RFC 9293 §3.1–3.2, spec §4.2–4.3).
 * Only MSS is ever emitted (on SYNs); incoming options are walked per
 * MUST-4/6/7 and malformed option lists make the segment invalid. Pure.
 */
import { upperLayerChecksum, verifyUpperLayer } from './checksum.js';
import { NEXT_HEADER_TCP } from './ipv6.js';

export const TCP_HEADER_LEN = 20;
export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;
export const ECE = 0x40;
export const CWR = 0x80;

export interface TcpSegment {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  urgent: number;
  /** MSS option value, if present. */
  mss: number | null;
  payload: Uint8Array;
}

/** Sequence space length: data + SYN + FIN. */
export function segLen(s: TcpSegment): number {
  return s.payload.length + (s.flags & SYN ? 1 : 0) + (s.flags & FIN ? 1 : 0);
}

export function encodeTcp(s: TcpSegment, src: Uint8Array, dst: Uint8Array): Uint8Array {
  const optLen = s.mss !== null ? 4 : 0;
  const hl = TCP_HEADER_LEN + optLen;
  const out = new Uint8Array(hl + s.payload.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, s.srcPort);
  v.setUint16(2, s.dstPort);
  v.setUint32(4, s.seq >>> 0);
  v.setUint32(8, s.ack >>> 0);
  out[12] = (hl / 4) << 4;
  out[13] = s.flags;
  v.setUint16(14, s.window);
  v.setUint16(18, s.urgent);
  if (s.mss !== null) {
    out[20] = 2;
    out[21] = 4;
    v.setUint16(22, s.mss);
  }
  out.set(s.payload, hl);
  v.setUint16(16, upperLayerChecksum(src, dst, NEXT_HEADER_TCP, out));
  return out;
}

/** Decodes and verifies a TCP segment; null on bad checksum, bad offset or malformed options. */
export function decodeTcp(b: Uint8Array, src: Uint8Array, dst: Uint8Array): TcpSegment | null {
  if (b.length < TCP_HEADER_LEN) return null;
  const hl = (b[12]! >> 4) * 4;
  if (hl < TCP_HEADER_LEN || hl > b.length) return null;
  if (!verifyUpperLayer(src, dst, NEXT_HEADER_TCP, b)) return null;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let mss: number | null = null;
  for (let i = TCP_HEADER_LEN; i < hl; ) {
    const kind = b[i]!;
    if (kind === 0) break;
    if (kind === 1) {
      i++;
      continue;
    }
    if (i + 1 >= hl) return null;
    const len = b[i + 1]!;
    if (len < 2 || i + len > hl) return null;
    if (kind === 2) {
      if (len !== 4) return null;
      mss = v.getUint16(i + 2);
    }
    i += len;
  }
  return {
    srcPort: v.getUint16(0),
    dstPort: v.getUint16(2),
    seq: v.getUint32(4),
    ack: v.getUint32(8),
    flags: b[13]!,
    window: v.getUint16(14),
    urgent: v.getUint16(18),
    mss,
    payload: b.subarray(hl),
  };
}

// Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4).
export const seqAdd = (a: number, n: number): number => (a + n) >>> 0;
export const seqDiff = (a: number, b: number): number => (a - b) | 0;
export const seqLt = (a: number, b: number): boolean => ((a - b) | 0) < 0;
export const seqLe = (a: number, b: number): boolean => ((a - b) | 0) <= 0;
export const seqGt = (a: number, b: number): boolean => ((a - b) | 0) > 0;
export const seqGe = (a: number, b: number): boolean => ((a - b) | 0) >= 0;
