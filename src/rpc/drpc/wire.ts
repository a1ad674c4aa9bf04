/**
 * Pure codec for drpcwire frames (storj.io/drpc):
 *   control u8 | stream id uvarint | message id uvarint | length uvarint | data
 *   control = control_bit << 7 | kind << 1 | done
 * A packet is the data of consecutive frames with one (stream, message, kind),
 * ended by a frame with done set.
 */
import { drpcProtocolError } from './errors.js';

export const Kind = {
  Invoke: 1,
  Message: 2,
  Error: 3,
  Cancel: 4,
  Close: 5,
  CloseSend: 6,
  InvokeMetadata: 7,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** Coder's drpcsdk.MaxMessageSize, also the drpc default. */
export const MAX_PACKET_SIZE = 4 << 20;
/** drpcwire writers split packet data into frames of at most this many bytes. */
export const SPLIT_SIZE = 64 * 1024;

export interface Frame {
  kind: number;
  streamId: number;
  messageId: number;
  done: boolean;
  control: boolean;
  data: Uint8Array;
}

export interface Packet {
  kind: number;
  streamId: number;
  messageId: number;
  control: boolean;
  data: Uint8Array;
}

/** Reads a uvarint at `off`. Returns null when more bytes are needed. */
export function readUvarint(buf: Uint8Array, off: number): { value: number; next: number } | null {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (off + i >= buf.length) return null;
    const b = buf[off + i]!;
    value += (b & 0x7f) * mul;
    if (b < 0x80) {
      if (value > Number.MAX_SAFE_INTEGER) throw drpcProtocolError('varint_overflow', 'varint exceeds 2^53');
      return { value, next: off + i + 1 };
    }
    mul *= 128;
  }
  throw drpcProtocolError('varint_too_long', 'varint too long');
}

export function uvarintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function putUvarint(out: Uint8Array, off: number, v: number): number {
  while (v >= 128) {
    out[off++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[off++] = v;
  return off;
}

/**
 * Parses one frame at `off`. Returns null if the buffer does not hold a whole
 * frame yet. A declared length above `maxData` fails immediately (Go fails
 * once its buffer outgrows the limit: same outcome, less memory).
 */
export function parseFrame(buf: Uint8Array, off: number, maxData = MAX_PACKET_SIZE): { frame: Frame; next: number } | null {
  if (buf.length - off < 4) return null;
  const control = buf[off]!;
  const sid = readUvarint(buf, off + 1);
  if (!sid) return null;
  const mid = readUvarint(buf, sid.next);
  if (!mid) return null;
  const len = readUvarint(buf, mid.next);
  if (!len) return null;
  if (len.value > maxData) throw drpcProtocolError('data_overflow', `frame of ${len.value} bytes`);
  const end = len.next + len.value;
  if (end > buf.length) return null;
  return {
    frame: {
      kind: (control & 0x7e) >> 1,
      streamId: sid.value,
      messageId: mid.value,
      done: (control & 1) === 1,
      control: (control & 0x80) !== 0,
      data: buf.subarray(len.next, end),
    },
    next: end,
  };
}

export function frameSize(f: { streamId: number; messageId: number; data: Uint8Array }): number {
  return 1 + uvarintSize(f.streamId) + uvarintSize(f.messageId) + uvarintSize(f.data.length) + f.data.length;
}

export function encodeFrameInto(out: Uint8Array, off: number, f: Frame): number {
  out[off++] = (f.control ? 0x80 : 0) | ((f.kind & 0x3f) << 1) | (f.done ? 1 : 0);
  off = putUvarint(out, off, f.streamId);
  off = putUvarint(out, off, f.messageId);
  off = putUvarint(out, off, f.data.length);
  out.set(f.data, off);
  return off + f.data.length;
}

/** Encodes a packet as one or more frames (split at SPLIT_SIZE, last one done). */
export function encodePacket(p: Packet, splitSize = SPLIT_SIZE): Uint8Array {
  const frames: Frame[] = [];
  let o = 0;
  do {
    const n = Math.min(splitSize, p.data.length - o);
    const last = o + n >= p.data.length;
    frames.push({ kind: p.kind, streamId: p.streamId, messageId: p.messageId, done: last, control: p.control, data: p.data.subarray(o, o + n) });
    o += n;
  } while (o < p.data.length);
  let size = 0;
  for (const f of frames) size += frameSize(f);
  const out = new Uint8Array(size);
  let off = 0;
  for (const f of frames) off = encodeFrameInto(out, off, f);
  return out;
}

/** Error packet body: 8-byte big-endian code, then the UTF-8 message. */
const utf8enc = new TextEncoder();
const utf8dec = new TextDecoder();

export function encodeErrorBody(code: number, message: string): Uint8Array {
  const text = utf8enc.encode(message);
  const out = new Uint8Array(8 + text.length);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt.asUintN(64, BigInt(Math.trunc(code))));
  out.set(text, 8);
  return out;
}

export function decodeErrorBody(data: Uint8Array): { code: number; message: string } {
  const dec = utf8dec;
  if (data.length < 8) return { code: 0, message: `${dec.decode(data)} (drpcwire note: invalid error data)` };
  const code = Number(new DataView(data.buffer, data.byteOffset, 8).getBigUint64(0));
  return { code, message: dec.decode(data.subarray(8)) };
}
