/**
 * DERP frame codec (pure, no I/O).
 *
 *   frame = type(1) ‖ length(4, BE, payload only) ‖ payload(length)
 *
 * Builders write into caller-provided buffers where it matters for the hot
 * path (RecvPacket, headers); FrameParser turns an arbitrary chunked byte
 * stream (TCP reads or WebSocket messages) into frames, checking each claimed
 * length against a per-type limit before allocating anything.
 */
import { derpError } from './errors.js';

export const FRAME_HEADER_LEN = 5;
export const KEY_LEN = 32;
export const NONCE_LEN = 24;
export const BOX_OVERHEAD = 40; // nonce 24 + poly1305 tag 16
export const PROTOCOL_VERSION = 2;
export const MAX_PACKET_SIZE = 65536;
/** Largest frame a Go client accepts. */
export const MAX_CLIENT_FRAME = 1 << 20;
export const MIN_CLIENT_INFO = KEY_LEN + BOX_OVERHEAD - 16; // 56, as upstream checks
export const MAX_CLIENT_INFO = 256 << 10;
export const MIN_SERVER_KEY = 8 + KEY_LEN;
export const MAX_SERVER_KEY = 1024;
export const MAX_PING = 1000;
export const PING_LEN = 8;
export const KEEPALIVE_MS = 60_000;
export const KEEPALIVE_JITTER_MS = 5_000;

/** UTF-8 "DERP🔑". */
export const MAGIC = Buffer.from([0x44, 0x45, 0x52, 0x50, 0xf0, 0x9f, 0x94, 0x91]);
/** UTF-8 "TS💬": disco packets start with it. */
export const DISCO_MAGIC = Buffer.from([0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac]);
export const DISCO_MIN_LEN = 62;

export const FrameType = {
  ServerKey: 0x01, // magic(8) ‖ serverPub(32)
  ClientInfo: 0x02, // clientPub(32) ‖ nonce(24) ‖ box(json)
  ServerInfo: 0x03, // nonce(24) ‖ box(json)
  SendPacket: 0x04, // dst(32) ‖ packet
  RecvPacket: 0x05, // src(32) ‖ packet
  KeepAlive: 0x06, // empty
  NotePreferred: 0x07, // 1 byte
  PeerGone: 0x08, // key(32) ‖ reason(1)
  PeerPresent: 0x09, // key(32) [‖ ip16 ‖ port2] [‖ flags1]
  ForwardPacket: 0x0a, // src(32) ‖ dst(32) ‖ packet
  WatchConns: 0x10, // empty
  ClosePeer: 0x11, // key(32)
  Ping: 0x12, // 8 bytes
  Pong: 0x13, // 8 bytes
  Health: 0x14, // utf-8 text
  Restarting: 0x15, // reconnectInMs(4) ‖ tryForMs(4)
} as const;
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];

export const PeerGoneReason = { Disconnected: 0x00, NotHere: 0x01, MeshConnBroke: 0xf0 } as const;
export const PeerPresentFlags = { IsRegular: 0x01, IsMeshPeer: 0x02, IsProber: 0x04, NotIdeal: 0x08 } as const;

export function writeFrameHeader(out: Buffer, off: number, type: number, len: number): number {
  out[off] = type;
  out.writeUInt32BE(len >>> 0, off + 1);
  return off + FRAME_HEADER_LEN;
}

export function frameHeader(type: number, len: number): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER_LEN);
  writeFrameHeader(b, 0, type, len);
  return b;
}

export function readFrameHeader(b: Uint8Array, off = 0): { type: number; len: number } {
  if (b.length - off < FRAME_HEADER_LEN) throw derpError('frame_too_short', 'short frame header');
  const type = b[off]!;
  const len = ((b[off + 1]! << 24) | (b[off + 2]! << 16) | (b[off + 3]! << 8) | b[off + 4]!) >>> 0;
  return { type, len };
}

/** A whole frame: header ‖ parts. */
export function encodeFrame(type: number, ...parts: Uint8Array[]): Buffer {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = Buffer.allocUnsafe(FRAME_HEADER_LEN + len);
  let o = writeFrameHeader(out, 0, type, len);
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function isDisco(b: Uint8Array, off = 0, end = b.length): boolean {
  return (
    end - off >= DISCO_MIN_LEN &&
    b[off] === 0x54 &&
    b[off + 1] === 0x53 &&
    b[off + 2] === 0xf0 &&
    b[off + 3] === 0x9f &&
    b[off + 4] === 0x92 &&
    b[off + 5] === 0xac
  );
}

export function isZeroKey(k: Uint8Array, off = 0): boolean {
  let acc = 0;
  for (let i = 0; i < KEY_LEN; i++) acc |= k[off + i]!;
  return acc === 0;
}

// ---- builders ---------------------------------------------------------------

export function serverKeyFrame(serverPub: Uint8Array): Buffer {
  return encodeFrame(FrameType.ServerKey, MAGIC, serverPub);
}

export function sendPacketFrame(dst: Uint8Array, packet: Uint8Array): Buffer {
  return encodeFrame(FrameType.SendPacket, dst, packet);
}

export function forwardPacketFrame(src: Uint8Array, dst: Uint8Array, packet: Uint8Array): Buffer {
  return encodeFrame(FrameType.ForwardPacket, src, dst, packet);
}

/** Writes RecvPacket(src ‖ packet[pOff..]) at out[off]; returns the new offset. */
export function writeRecvPacket(out: Buffer, off: number, src: Buffer, packet: Buffer, pOff: number): number {
  const n = packet.length - pOff;
  const len = KEY_LEN + n;
  out[off] = FrameType.RecvPacket;
  out[off + 1] = len >>> 24;
  out[off + 2] = (len >>> 16) & 0xff;
  out[off + 3] = (len >>> 8) & 0xff;
  out[off + 4] = len & 0xff;
  let o = off + FRAME_HEADER_LEN;
  // Plain loops/TypedArray#set: Buffer#copy's argument checks cost more than 32 bytes of copying.
  for (let i = 0; i < KEY_LEN; i++) out[o + i] = src[i]!;
  o += KEY_LEN;
  if (n > 0) out.set(new Uint8Array(packet.buffer, packet.byteOffset + pOff, n), o);
  return o + n;
}

/** a[aOff..aOff+32) == b[bOff..bOff+32) */
export function keyEquals(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): boolean {
  for (let i = 0; i < KEY_LEN; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}

export function recvPacketFrame(src: Uint8Array, packet: Uint8Array): Buffer {
  return encodeFrame(FrameType.RecvPacket, src, packet);
}

export const KEEPALIVE_FRAME: Buffer = frameHeader(FrameType.KeepAlive, 0);
export const WATCH_CONNS_FRAME: Buffer = frameHeader(FrameType.WatchConns, 0);

export function notePreferredFrame(preferred: boolean): Buffer {
  return encodeFrame(FrameType.NotePreferred, Uint8Array.of(preferred ? 1 : 0));
}

export function peerGoneFrame(key: Uint8Array, reason: number): Buffer {
  return encodeFrame(FrameType.PeerGone, key, Uint8Array.of(reason));
}

/**
 * 51-byte PeerPresent (key ‖ ip16 ‖ port ‖ flags). Old and Coder-fork readers
 * only look at the first 32 bytes, so the long form is safe for all of them.
 */
export function peerPresentFrame(key: Uint8Array, ip16: Uint8Array | null, port: number, flags: number): Buffer {
  const out = Buffer.alloc(FRAME_HEADER_LEN + 51);
  writeFrameHeader(out, 0, FrameType.PeerPresent, 51);
  out.set(key.subarray(0, KEY_LEN), 5);
  if (ip16) out.set(ip16.subarray(0, 16), 5 + 32);
  out.writeUInt16BE(port & 0xffff, 5 + 48);
  out[5 + 50] = flags;
  return out;
}

export function closePeerFrame(key: Uint8Array): Buffer {
  return encodeFrame(FrameType.ClosePeer, key);
}

export function pingFrame(data: Uint8Array): Buffer {
  return encodeFrame(FrameType.Ping, data.subarray(0, PING_LEN));
}

export function pongFrame(data: Uint8Array): Buffer {
  return encodeFrame(FrameType.Pong, data.subarray(0, PING_LEN));
}

export function healthFrame(problem: string): Buffer {
  return encodeFrame(FrameType.Health, Buffer.from(problem, 'utf8'));
}

export function restartingFrame(reconnectInMs: number, tryForMs: number): Buffer {
  const p = Buffer.allocUnsafe(8);
  p.writeUInt32BE(reconnectInMs >>> 0, 0);
  p.writeUInt32BE(tryForMs >>> 0, 4);
  return encodeFrame(FrameType.Restarting, p);
}

// ---- IP helpers for PeerPresent --------------------------------------------

/** Parses a textual IPv4/IPv6 address into 16 bytes (IPv4 → ::ffff:a.b.c.d); null if unparsable. */
export function ipTo16(addr: string | undefined): Buffer | null {
  if (!addr) return null;
  const out = Buffer.alloc(16);
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/i.exec(addr);
  if (v4) {
    out[10] = 0xff;
    out[11] = 0xff;
    for (let i = 0; i < 4; i++) {
      const n = Number(v4[i + 1]);
      if (n > 255) return null;
      out[12 + i] = n;
    }
    return out;
  }
  const pct = addr.indexOf('%');
  const a = pct >= 0 ? addr.slice(0, pct) : addr;
  if (!/^[0-9a-f:]+$/i.test(a)) return null;
  const halves = a.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  if (halves.length === 1 && head.length !== 8) return null;
  if (head.length + tail.length > 8) return null;
  const groups = [...head, ...new Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  for (let i = 0; i < 8; i++) {
    const g = groups[i]!;
    if (g.length === 0 || g.length > 4) return null;
    out.writeUInt16BE(parseInt(g, 16), i * 2);
  }
  return out;
}

// ---- incremental parser -----------------------------------------------------

/** Per-type payload limit: a max length, or SKIP to discard the payload unread. */
export const SKIP = -1;
export type FrameLimits = (type: number) => number;

/**
 * Called per frame; the payload is valid only until the parser is fed again
 * unless the handler keeps a reference (buffers are never reused, so keeping
 * one is safe). Return false to pause: the parser holds the rest until resume().
 */
export type FrameHandler = (type: number, payload: Buffer) => boolean;

const EMPTY = Buffer.alloc(0);
const S_HEADER = 0;
const S_BODY = 1;
const S_SKIP = 2;

export class FrameParser {
  private state = S_HEADER;
  private readonly head = Buffer.allocUnsafe(FRAME_HEADER_LEN);
  private headLen = 0;
  private type = 0;
  private body: Buffer = EMPTY;
  private bodyLen = 0;
  private skipLeft = 0;
  private held: Buffer[] = [];
  private _paused = false;
  /** Number of frames whose payload was discarded (SKIP limit). */
  skipped = 0;
  /**
   * During onFrame: the frame's 5-byte header sits right before its payload
   * in the same buffer (the frame arrived whole in one chunk).
   */
  inline = false;

  constructor(
    private readonly limits: FrameLimits,
    private readonly onFrame: FrameHandler,
  ) {}

  get paused(): boolean {
    return this._paused;
  }

  /** Bytes held in the parser (partial frame plus paused input). */
  get buffered(): number {
    let n = this.headLen + (this.state === S_BODY ? this.bodyLen : 0);
    for (const h of this.held) n += h.length;
    return n;
  }

  /** Feeds chunk[start..end); throws DerpError on a length violation. */
  push(chunk: Buffer, start = 0, end = chunk.length): void {
    if (this._paused) {
      this.held.push(start === 0 && end === chunk.length ? chunk : chunk.subarray(start, end));
      return;
    }
    this.run(chunk, start, end);
  }

  pause(): void {
    this._paused = true;
  }

  /** Replaces held input that lives in `mem` by copies (that read buffer is about to be reused). */
  copyHeld(mem: ArrayBufferLike): void {
    const held = this.held;
    for (let i = 0; i < held.length; i++) if (held[i]!.buffer === mem) held[i] = Buffer.from(held[i]!);
  }

  /** Continues with bytes held while paused. */
  resume(): void {
    if (!this._paused) return;
    this._paused = false;
    while (!this._paused && this.held.length > 0) {
      const c = this.held.shift()!;
      this.run(c, 0, c.length);
    }
  }

  private run(c: Buffer, o: number, n: number): void {
    while (o < n) {
      if (this._paused) {
        this.held.unshift(c.subarray(o, n));
        return;
      }
      if (this.state === S_HEADER) {
        let type: number;
        let len: number;
        let headInline = false;
        if (this.headLen === 0 && n - o >= FRAME_HEADER_LEN) {
          type = c[o]!;
          len = ((c[o + 1]! << 24) | (c[o + 2]! << 16) | (c[o + 3]! << 8) | c[o + 4]!) >>> 0;
          o += FRAME_HEADER_LEN;
          headInline = true;
        } else {
          const take = Math.min(FRAME_HEADER_LEN - this.headLen, n - o);
          c.copy(this.head, this.headLen, o, o + take);
          this.headLen += take;
          o += take;
          if (this.headLen < FRAME_HEADER_LEN) return;
          this.headLen = 0;
          type = this.head[0]!;
          len = this.head.readUInt32BE(1);
        }
        const max = this.limits(type);
        if (max === SKIP) {
          this.skipped++;
          if (len > 0) {
            this.state = S_SKIP;
            this.skipLeft = len;
          }
          continue;
        }
        if (len > max) {
          throw derpError('frame_too_large', `frame type 0x${type.toString(16)} length ${len} exceeds ${max}`);
        }
        if (len === 0) {
          this.inline = false;
          if (!this.onFrame(type, EMPTY)) this._paused = true;
          continue;
        }
        if (n - o >= len) {
          const p = c.subarray(o, o + len);
          o += len;
          this.inline = headInline;
          if (!this.onFrame(type, p)) this._paused = true;
          continue;
        }
        // Partial payload: allocate exactly the (already bounded) length.
        this.type = type;
        this.body = Buffer.allocUnsafe(len);
        this.bodyLen = n - o;
        c.copy(this.body, 0, o, n);
        this.state = S_BODY;
        return;
      } else if (this.state === S_BODY) {
        const need = this.body.length - this.bodyLen;
        const take = Math.min(need, n - o);
        c.copy(this.body, this.bodyLen, o, o + take);
        this.bodyLen += take;
        o += take;
        if (this.bodyLen < this.body.length) return;
        const p = this.body;
        this.body = EMPTY;
        this.bodyLen = 0;
        this.state = S_HEADER;
        this.inline = false;
        if (!this.onFrame(this.type, p)) this._paused = true;
      } else {
        const take = Math.min(this.skipLeft, n - o);
        this.skipLeft -= take;
        o += take;
        if (this.skipLeft === 0) this.state = S_HEADER;
      }
    }
  }
}
