/**
 * Pure codec for the 12-byte yamux header (hashicorp/yamux protocol version 0):
 *   version u8 | type u8 | flags u16 BE | stream id u32 BE | length u32 BE
 * `length` is the body size for Data, the window delta for WindowUpdate, the
 * opaque value for Ping and the reason code for GoAway.
 */
import { yamuxError } from './errors.js';

export const HEADER_SIZE = 12;
export const PROTOCOL_VERSION = 0;

export const FrameType = { Data: 0, WindowUpdate: 1, Ping: 2, GoAway: 3 } as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const Flag = { SYN: 0x1, ACK: 0x2, FIN: 0x4, RST: 0x8 } as const;
const KNOWN_FLAGS = 0xf;

/** Default per-stream window in both directions (yamux DefaultConfig MaxStreamWindowSize). */
export const INITIAL_WINDOW = 256 * 1024;

export interface YamuxHeader {
  type: FrameType;
  flags: number;
  streamId: number;
  length: number;
}

export function encodeHeader(h: YamuxHeader, out: Uint8Array = new Uint8Array(HEADER_SIZE), off = 0): Uint8Array {
  out[off] = PROTOCOL_VERSION;
  out[off + 1] = h.type;
  out[off + 2] = (h.flags >>> 8) & 0xff;
  out[off + 3] = h.flags & 0xff;
  writeU32(out, off + 4, h.streamId);
  writeU32(out, off + 8, h.length);
  return out;
}

/**
 * Decodes a header at `off`; the caller guarantees 12 bytes are available.
 * Unknown versions and types are protocol errors; unknown flag bits are
 * ignored (hashicorp/yamux ignores them too), so they are masked off.
 */
export function decodeHeader(buf: Uint8Array, off = 0): YamuxHeader {
  const version = buf[off]!;
  if (version !== PROTOCOL_VERSION) throw yamuxError('bad_version', `version ${version}`);
  const type = buf[off + 1]!;
  if (type > FrameType.GoAway) throw yamuxError('bad_type', `type ${type}`);
  const flags = ((buf[off + 2]! << 8) | buf[off + 3]!) & KNOWN_FLAGS;
  return { type: type as FrameType, flags, streamId: readU32(buf, off + 4), length: readU32(buf, off + 8) };
}

/** Header followed by an optional body, as one buffer (one transport message). */
export function encodeFrame(h: YamuxHeader, body?: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + (body?.length ?? 0));
  encodeHeader(h, out, 0);
  if (body) out.set(body, HEADER_SIZE);
  return out;
}

function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 0xff;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

function readU32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) >>> 0) + (b[off + 1]! << 16) + (b[off + 2]! << 8) + b[off + 3]!;
}
