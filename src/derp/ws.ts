/**
 * Minimal server-side WebSocket (RFC 6455) codec for DERP-over-WebSocket
 * (pure, no I/O). DERP treats the binary messages as one byte stream, so
 * the reader never assembles messages: it unmasks each data frame's payload
 * in place, as it arrives, and hands the bytes on. Server frames are unmasked,
 * so a writer only needs a 2/4-byte header in front of bytes it already has.
 *
 *   socket bytes ─→ WsReader ─┬─ data(payload bytes, in place) ─→ DERP FrameParser
 *                             ├─ control(ping/pong/close payload)
 *                             └─ error(close code, reason)
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const KEY_RE = /^[+/0-9A-Za-z]{22}==$/;

export const WS_OP_CONT = 0x0;
export const WS_OP_TEXT = 0x1;
export const WS_OP_BINARY = 0x2;
export const WS_OP_CLOSE = 0x8;
export const WS_OP_PING = 0x9;
export const WS_OP_PONG = 0xa;

/** Largest header a server frame of ≤ 65535 bytes needs (FIN/opcode, 126, 16-bit length). */
export const WS_MAX_SMALL_HEADER = 4;

/** Sec-WebSocket-Accept for a client key; null when the key is malformed. */
export function wsAcceptKey(key: string | undefined): string | null {
  if (!key || !KEY_RE.test(key)) return null;
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** The 101 response (header block only). */
export function wsHandshakeResponse(accept: string, protocol: string | null): Buffer {
  return Buffer.from(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${accept}\r\n` +
      (protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : '') +
      '\r\n',
    'latin1',
  );
}

/** Header length of an unmasked frame carrying `len` payload bytes. */
export function wsHeaderLen(len: number): number {
  return len < 126 ? 2 : len < 65536 ? 4 : 10;
}

/** Writes an unmasked FIN frame header ending exactly at out[end]; returns its start. */
export function writeWsHeaderBefore(out: Buffer, end: number, opcode: number, len: number): number {
  if (len < 126) {
    out[end - 2] = 0x80 | opcode;
    out[end - 1] = len;
    return end - 2;
  }
  if (len < 65536) {
    out[end - 4] = 0x80 | opcode;
    out[end - 3] = 126;
    out[end - 2] = len >>> 8;
    out[end - 1] = len & 0xff;
    return end - 4;
  }
  out[end - 10] = 0x80 | opcode;
  out[end - 9] = 127;
  out.writeUInt32BE(Math.floor(len / 2 ** 32), end - 8);
  out.writeUInt32BE(len >>> 0, end - 4);
  return end - 10;
}

/** A whole unmasked frame (control frames, small messages). */
export function wsFrame(opcode: number, payload: Uint8Array): Buffer {
  const h = wsHeaderLen(payload.length);
  const out = Buffer.allocUnsafe(h + payload.length);
  writeWsHeaderBefore(out, h, opcode, payload.length);
  out.set(payload, h);
  return out;
}

export function wsCloseFrame(code: number, reason = ''): Buffer {
  const r = Buffer.from(reason, 'utf8').subarray(0, 123);
  const p = Buffer.allocUnsafe(2 + r.length);
  p.writeUInt16BE(code, 0);
  r.copy(p, 2);
  return wsFrame(WS_OP_CLOSE, p);
}

interface MaskLib {
  unmask(buf: Buffer, mask: Buffer): void;
}

/** The native unmasker `ws` uses (bufferutil) when it is installed; JS otherwise. */
const nativeMask: MaskLib | null = (() => {
  try {
    const lib = createRequire(import.meta.url)('bufferutil') as Partial<MaskLib>;
    return typeof lib.unmask === 'function' ? (lib as MaskLib) : null;
  } catch {
    return null;
  }
})();

/** XORs b[start..end) with the 4-byte mask rotated by `phase` (payload offset mod 4). */
function unmaskRange(b: Buffer, start: number, end: number, mask: Buffer, phase: number, rot: Buffer): void {
  const n = end - start;
  if (n >= 64 && nativeMask) {
    rot[0] = mask[phase & 3]!;
    rot[1] = mask[(phase + 1) & 3]!;
    rot[2] = mask[(phase + 2) & 3]!;
    rot[3] = mask[(phase + 3) & 3]!;
    nativeMask.unmask(b.subarray(start, end), rot);
    return;
  }
  for (let i = 0; i < n; i++) b[start + i]! ^= mask[(phase + i) & 3]!;
}

export interface WsReaderEvents {
  /** Unmasked binary payload bytes chunk[start..end) (the pushed chunk itself). */
  data(chunk: Buffer, start: number, end: number): void;
  /** A complete control frame. */
  control(opcode: number, payload: Buffer): void;
  /** A protocol violation: close with `code`; the reader stops. */
  error(code: number, reason: string): void;
}

const R_HEAD = 0;
const R_PAYLOAD = 1;
const R_DEAD = 2;

/**
 * Incremental reader of client frames (which must be masked). Data frames are
 * streamed; text messages, reserved bits, unknown opcodes and bad
 * fragmentation are errors; a data message over `maxMessage` bytes is 1009.
 */
export class WsReader {
  private state = R_HEAD;
  private readonly head = Buffer.allocUnsafe(14);
  private headLen = 0;
  private readonly mask = Buffer.allocUnsafe(4);
  private readonly rot = Buffer.allocUnsafe(4);
  private opcode = 0;
  private left = 0;
  private phase = 0;
  /** A fragmented data message is open (its continuation frames are data too). */
  private inMessage = false;
  private messageLen = 0;
  private ctrl: Buffer | null = null;
  private ctrlLen = 0;

  constructor(
    private readonly ev: WsReaderEvents,
    private readonly maxMessage: number,
  ) {}

  get dead(): boolean {
    return this.state === R_DEAD;
  }

  /** Feeds socket bytes chunk[0..n); they are unmasked in place. */
  push(chunk: Buffer, n = chunk.length): void {
    let o = 0;
    while (o < n && this.state !== R_DEAD) {
      if (this.state === R_HEAD) {
        o = this.readHead(chunk, o, n);
        continue;
      }
      const take = Math.min(this.left, n - o);
      unmaskRange(chunk, o, o + take, this.mask, this.phase, this.rot);
      this.phase = (this.phase + take) & 3;
      this.left -= take;
      if (this.ctrl) {
        chunk.copy(this.ctrl, this.ctrlLen, o, o + take);
        this.ctrlLen += take;
      } else if (take > 0) {
        this.ev.data(chunk, o, o + take);
      }
      o += take;
      if (this.left === 0) this.endFrame();
    }
  }

  private fail(code: number, reason: string): number {
    this.state = R_DEAD;
    this.ev.error(code, reason);
    return Number.MAX_SAFE_INTEGER;
  }

  /** Parses as much of a frame header as `c[o..n)` holds; returns the new offset. */
  private readHead(c: Buffer, o: number, n: number): number {
    // Fast path: the whole header is in this chunk.
    if (this.headLen === 0 && n - o >= 2) {
      const need = headerNeed(c[o + 1]!);
      if (n - o >= need) return this.startFrame(c, o, o + need);
    }
    const h = this.head;
    let need = this.headLen < 2 ? 2 : headerNeed(h[1]!);
    while (this.headLen < need && o < n) {
      const take = Math.min(need - this.headLen, n - o);
      c.copy(h, this.headLen, o, o + take);
      this.headLen += take;
      o += take;
      if (this.headLen >= 2) need = headerNeed(h[1]!);
    }
    if (this.headLen < need) return o;
    this.headLen = 0;
    return this.startFrame(h, 0, o);
  }

  private startFrame(h: Buffer, ho: number, o: number): number {
    const b0 = h[ho]!;
    const b1 = h[ho + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if ((b0 & 0x70) !== 0) return this.fail(1002, 'reserved bits set');
    if ((b1 & 0x80) === 0) return this.fail(1002, 'client frame not masked');
    let len = b1 & 0x7f;
    let mo = ho + 2;
    if (len === 126) {
      len = (h[ho + 2]! << 8) | h[ho + 3]!;
      mo = ho + 4;
    } else if (len === 127) {
      const hi = h.readUInt32BE(ho + 2);
      if (hi > 0x1fffff) return this.fail(1009, 'frame too large');
      len = hi * 2 ** 32 + h.readUInt32BE(ho + 6);
      mo = ho + 10;
    }
    this.mask[0] = h[mo]!;
    this.mask[1] = h[mo + 1]!;
    this.mask[2] = h[mo + 2]!;
    this.mask[3] = h[mo + 3]!;
    if (opcode >= 0x8) {
      if (!fin || len > 125 || opcode > WS_OP_PONG) return this.fail(1002, 'bad control frame');
      this.ctrl = Buffer.allocUnsafe(len);
      this.ctrlLen = 0;
    } else {
      if (opcode === WS_OP_TEXT || (opcode === WS_OP_CONT && !this.inMessage)) {
        return this.fail(opcode === WS_OP_TEXT ? 1003 : 1002, opcode === WS_OP_TEXT ? 'binary only' : 'unexpected continuation');
      }
      if (opcode === WS_OP_BINARY) {
        if (this.inMessage) return this.fail(1002, 'new message inside a fragmented one');
        this.messageLen = 0;
      } else if (opcode !== WS_OP_CONT) return this.fail(1002, 'unknown opcode');
      this.messageLen += len;
      if (this.messageLen > this.maxMessage) return this.fail(1009, 'message too big');
      this.inMessage = !fin;
    }
    this.opcode = opcode;
    this.left = len;
    this.phase = 0;
    this.state = R_PAYLOAD;
    if (len === 0) this.endFrame();
    return o;
  }

  private endFrame(): void {
    this.state = R_HEAD;
    const c = this.ctrl;
    if (c) {
      this.ctrl = null;
      this.ev.control(this.opcode, c);
    }
  }
}

/** Total header bytes implied by the second header byte (mask included). */
function headerNeed(b1: number): number {
  const l = b1 & 0x7f;
  return (l === 126 ? 4 : l === 127 ? 10 : 2) + ((b1 & 0x80) !== 0 ? 4 : 0);
}
