/**
 * Zero-dependency protobuf wire primitives: a cursor Reader and a growable
 * Writer. 64-bit integers are available as bigint (exact) or number (exact up
 * to 2^53, which covers every Coder field except node ids).
 */
import { protoError } from './errors.js';

export const WireType = { Varint: 0, Fixed64: 1, LengthDelimited: 2, StartGroup: 3, EndGroup: 4, Fixed32: 5 } as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8enc = new TextEncoder();
const TWO32 = 4294967296;

export class Reader {
  pos: number;
  /** Current limit; narrowed while a nested message is read (see limit()/restore()). */
  end: number;
  /** Wire-type mismatches on known fields throw instead of being skipped. */
  strict = false;
  private dv: DataView | null = null;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    end = buf.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** Tag as [fieldNumber, wireType]. */
  tag(): [number, number] {
    const t = this.uint32();
    const no = t >>> 3;
    if (no === 0) throw protoError('bad_field_number', 'field number 0');
    return [no, t & 7];
  }

  /** Low 32 bits of a varint (as protobuf does for int32/uint32/enum/tags). */
  uint32(): number {
    const b = this.buf;
    let p = this.pos;
    if (p < this.end && b[p]! < 0x80) {
      this.pos = p + 1;
      return b[p]!;
    }
    let lo = 0;
    for (let shift = 0; shift < 35 && p < this.end; shift += 7) {
      const x = b[p++]!;
      lo |= (x & 0x7f) << shift;
      if (x < 0x80) {
        this.pos = p;
        return lo >>> 0;
      }
    }
    // Bytes 6..10 only carry high bits; they must still terminate within 10 bytes.
    for (let i = 5; i < 10; i++) {
      if (p >= this.end) throw protoError('truncated', 'varint');
      if (b[p++]! < 0x80) {
        this.pos = p;
        return lo >>> 0;
      }
    }
    throw protoError('bad_varint', 'varint longer than 10 bytes');
  }

  int32(): number {
    return this.uint32() | 0;
  }

  /** Full 64-bit varint as [lo, hi] unsigned 32-bit halves. */
  private varint64(): [number, number] {
    const b = this.buf;
    let p = this.pos;
    let lo = 0;
    let hi = 0;
    let i = 0;
    for (; i < 4; i++) {
      if (p >= this.end) throw protoError('truncated', 'varint');
      const x = b[p++]!;
      lo |= (x & 0x7f) << (i * 7);
      if (x < 0x80) {
        this.pos = p;
        return [lo >>> 0, 0];
      }
    }
    if (p >= this.end) throw protoError('truncated', 'varint');
    let x = b[p++]!;
    lo |= (x & 0x7f) << 28;
    hi = (x & 0x7f) >> 4;
    if (x < 0x80) {
      this.pos = p;
      return [lo >>> 0, hi >>> 0];
    }
    for (i = 0; i < 5; i++) {
      if (p >= this.end) throw protoError('truncated', 'varint');
      x = b[p++]!;
      hi |= (x & 0x7f) << (i * 7 + 3);
      if (x < 0x80) {
        this.pos = p;
        return [lo >>> 0, hi >>> 0];
      }
    }
    throw protoError('bad_varint', 'varint longer than 10 bytes');
  }

  uint64(): bigint {
    const [lo, hi] = this.varint64();
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  int64(): bigint {
    return BigInt.asIntN(64, this.uint64());
  }

  /** int64 as a number (two's complement honoured; exact within ±2^53). */
  int64Number(): number {
    const [lo, hi] = this.varint64();
    return hi & 0x80000000 ? -((~hi >>> 0) * TWO32 + (~lo >>> 0) + 1) : hi * TWO32 + lo;
  }

  uint64Number(): number {
    const [lo, hi] = this.varint64();
    return hi * TWO32 + lo;
  }

  sint32(): number {
    const n = this.uint32();
    return (n >>> 1) ^ -(n & 1);
  }

  sint64Number(): number {
    const [lo, hi] = this.varint64();
    const neg = lo & 1;
    const l = ((lo >>> 1) | (hi << 31)) >>> 0;
    const h = hi >>> 1;
    const mag = h * TWO32 + l;
    return neg ? -mag - 1 : mag;
  }

  bool(): boolean {
    const [lo, hi] = this.varint64();
    return lo !== 0 || hi !== 0;
  }

  private need(n: number): number {
    const p = this.pos;
    if (n > this.end - p) throw protoError('truncated', `need ${n} bytes at ${p}`);
    this.pos = p + n;
    return p;
  }

  private view(): DataView {
    return (this.dv ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength));
  }

  fixed32(): number {
    return this.view().getUint32(this.need(4), true);
  }

  sfixed32(): number {
    return this.view().getInt32(this.need(4), true);
  }

  fixed64(): bigint {
    return this.view().getBigUint64(this.need(8), true);
  }

  sfixed64(): bigint {
    return this.view().getBigInt64(this.need(8), true);
  }

  double(): number {
    return this.view().getFloat64(this.need(8), true);
  }

  float(): number {
    return this.view().getFloat32(this.need(4), true);
  }

  /** Length prefix, validated against the remaining bytes. */
  length(): number {
    const n = this.uint32();
    // uint32() truncates to 32 bits; anything beyond the buffer is truncation.
    if (n > this.end - this.pos) throw protoError('truncated', `length ${n} exceeds ${this.end - this.pos} remaining`);
    return n;
  }

  /** A copy: decoded ids/keys outlive the transport chunk they came in (and may be Buffers). */
  bytes(): Uint8Array {
    const n = this.length();
    const p = this.pos;
    this.pos += n;
    const out = new Uint8Array(n);
    out.set(this.buf.subarray(p, p + n));
    return out;
  }

  string(): string {
    const n = this.length();
    const p = this.pos;
    this.pos += n;
    if (n === 0) return '';
    return decodeUtf8(this.buf, p, p + n);
  }

  /** Narrows the reader to the next length-delimited field; returns the outer limit for restore(). */
  limit(): number {
    const n = this.length();
    const outer = this.end;
    this.end = this.pos + n;
    return outer;
  }

  restore(outer: number): void {
    this.pos = this.end;
    this.end = outer;
  }

  /** Sub-reader over a length-delimited field. */
  sub(): Reader {
    const n = this.length();
    const r = new Reader(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }

  /** Skips a field of the given wire type (unknown fields, groups included). */
  skip(wt: number, fieldNo = 0): void {
    switch (wt) {
      case WireType.Varint:
        this.varint64();
        return;
      case WireType.Fixed64:
        this.need(8);
        return;
      case WireType.LengthDelimited: {
        const n = this.length(); // read before touching pos: `pos += length()` would lose the prefix
        this.pos += n;
        return;
      }
      case WireType.Fixed32:
        this.need(4);
        return;
      case WireType.StartGroup:
        for (;;) {
          if (this.done) throw protoError('truncated', `group ${fieldNo} not closed`);
          const [no, w] = this.tag();
          if (w === WireType.EndGroup) {
            if (no !== fieldNo) throw protoError('bad_group', `end group ${no} inside group ${fieldNo}`);
            return;
          }
          this.skip(w, no);
        }
      case WireType.EndGroup:
        throw protoError('bad_group', `unexpected end group ${fieldNo}`);
      default:
        throw protoError('bad_wire_type', `wire type ${wt}`);
    }
  }
}

function decodeUtf8(buf: Uint8Array, start: number, end: number): string {
  // ASCII fast path: most Coder strings are short and ASCII.
  if (end - start < 64) {
    let s = '';
    for (let i = start; i < end; i++) {
      const c = buf[i]!;
      if (c >= 0x80) {
        s = '';
        break;
      }
      s += String.fromCharCode(c);
      if (i === end - 1) return s;
    }
  }
  try {
    return utf8.decode(buf.subarray(start, end));
  } catch {
    throw protoError('invalid_utf8', `string at ${start}`);
  }
}

export class Writer {
  private buf: Uint8Array;
  pos = 0;
  private dv: DataView;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
    this.dv = new DataView(this.buf.buffer);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }

  get capacity(): number {
    return this.buf.length;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  tag(no: number, wt: number): void {
    this.uint32(((no << 3) | wt) >>> 0);
  }

  uint32(v: number): void {
    this.ensure(5);
    v >>>= 0;
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
  }

  /** int32/enum: negative values are sign-extended to 10 bytes, as protobuf requires. */
  int32(v: number): void {
    if (v >= 0) this.uint32(v);
    else this.varint64(v >>> 0, 0xffffffff);
  }

  varint64(lo: number, hi: number): void {
    this.ensure(10);
    lo >>>= 0;
    hi >>>= 0;
    while (hi > 0 || lo >= 0x80) {
      this.buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    this.buf[this.pos++] = lo;
  }

  int64(v: bigint): void {
    const u = BigInt.asUintN(64, v);
    this.varint64(Number(u & 0xffffffffn), Number(u >> 32n));
  }

  uint64(v: bigint): void {
    this.int64(v);
  }

  /** int64 given as a number (must be an integer within ±2^53). */
  int64Number(v: number): void {
    if (v >= 0 && v < TWO32) return this.uint32(v);
    if (v >= 0) return this.varint64(v % TWO32, Math.floor(v / TWO32));
    const m = -v;
    // two's complement of the 64-bit magnitude
    let lo = (~(m % TWO32) + 1) >>> 0;
    let hi = ~Math.floor(m / TWO32) >>> 0;
    if (lo === 0) hi = (hi + 1) >>> 0;
    this.varint64(lo, hi);
  }

  sint32(v: number): void {
    this.uint32(((v << 1) ^ (v >> 31)) >>> 0);
  }

  sint64Number(v: number): void {
    // zigzag: 2v for v >= 0, -2v-1 for v < 0; beyond 2^52 the doubled value is not exact as a number.
    if (Math.abs(v) < 2 ** 52) {
      const z = v >= 0 ? v * 2 : -v * 2 - 1;
      this.varint64(z % TWO32, Math.floor(z / TWO32));
      return;
    }
    const b = BigInt(v);
    this.int64((b << 1n) ^ (b >> 63n));
  }

  bool(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }

  fixed32(v: number): void {
    this.ensure(4);
    this.dv.setUint32(this.pos, v >>> 0, true);
    this.pos += 4;
  }

  sfixed32(v: number): void {
    this.ensure(4);
    this.dv.setInt32(this.pos, v | 0, true);
    this.pos += 4;
  }

  fixed64(v: bigint): void {
    this.ensure(8);
    this.dv.setBigUint64(this.pos, BigInt.asUintN(64, v), true);
    this.pos += 8;
  }

  sfixed64(v: bigint): void {
    this.ensure(8);
    this.dv.setBigInt64(this.pos, BigInt.asIntN(64, v), true);
    this.pos += 8;
  }

  double(v: number): void {
    this.ensure(8);
    this.dv.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  float(v: number): void {
    this.ensure(4);
    this.dv.setFloat32(this.pos, v, true);
    this.pos += 4;
  }

  bytes(v: Uint8Array): void {
    this.uint32(v.length);
    this.ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }

  string(v: string): void {
    const n = v.length;
    if (n < 0x80) {
      // Short ASCII fast path: one length byte, one byte per char.
      this.ensure(1 + n);
      const b = this.buf;
      const start = this.pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = v.charCodeAt(i);
        if (c >= 0x80) break;
        b[start + i] = c;
      }
      if (i === n) {
        b[this.pos] = n;
        this.pos = start + n;
        return;
      }
    }
    // Worst case 3 bytes per UTF-16 unit; encodeInto writes in place.
    const max = v.length * 3;
    const lenSize = max < 0x80 ? 1 : max < 0x4000 ? 2 : max < 0x200000 ? 3 : 5;
    this.ensure(lenSize + max);
    const start = this.pos + lenSize;
    const { written } = utf8enc.encodeInto(v, this.buf.subarray(start));
    this.placeLength(this.pos, lenSize, written);
  }

  /** Starts a length-delimited sub-message; returns a mark for endSub(). */
  beginSub(): number {
    this.ensure(1);
    const mark = this.pos;
    this.pos += 1; // assume a 1-byte length; endSub() shifts if it is longer
    return mark;
  }

  endSub(mark: number): void {
    const len = this.pos - mark - 1;
    this.placeLength(mark, 1, len);
  }

  /** Writes `len` as a varint at `at`, where `reserved` bytes were set aside; shifts the body if needed. */
  private placeLength(at: number, reserved: number, len: number): void {
    const need = len < 0x80 ? 1 : len < 0x4000 ? 2 : len < 0x200000 ? 3 : len < 0x10000000 ? 4 : 5;
    if (need !== reserved) {
      if (need > reserved) {
        this.pos = at + reserved + len;
        this.ensure(need - reserved);
      }
      this.buf.copyWithin(at + need, at + reserved, at + reserved + len);
    }
    let p = at;
    let v = len;
    while (v >= 0x80) {
      this.buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[p++] = v;
    this.pos = at + need + len;
  }
}

let scratch: Writer | null = null;

/**
 * Runs `fn` on a reusable Writer and returns a right-sized copy of the bytes.
 * Encoding is synchronous and never re-entered, so one scratch buffer serves
 * every top-level encode; it is dropped if a huge message grew it.
 */
export function encodeWith(fn: (w: Writer) => void): Uint8Array {
  const w = scratch ?? new Writer(4096);
  scratch = null; // re-entrancy (should it ever happen) gets its own writer
  w.pos = 0;
  try {
    fn(w);
    return w.finish();
  } finally {
    if (w.capacity <= 1 << 20) scratch = w;
  }
}

export function utf8Encode(s: string): Uint8Array {
  return utf8enc.encode(s);
}
