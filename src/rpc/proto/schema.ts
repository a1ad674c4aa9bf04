/**
 * Table-driven proto3 codec. Each message is declared once as a list of
 * fields (number, property name, type); `message()` turns that into a codec
 * with encode/decode. Decoding fills proto3 defaults, keeps unknown enum
 * values as numbers, skips unknown fields, accepts packed and unpacked
 * repeated scalars, and throws ProtoDecodeError on malformed input.
 */
import { protoError } from './errors.js';
import { Reader, WireType, Writer, encodeWith } from './wire.js';

export type ScalarType =
  | 'int32' | 'uint32' | 'sint32' | 'fixed32' | 'sfixed32' | 'enum'
  /** 64-bit as number (exact within ±2^53). */
  | 'int64' | 'uint64' | 'sint64'
  /** 64-bit as bigint (exact). */
  | 'int64big' | 'uint64big' | 'fixed64' | 'sfixed64'
  | 'bool' | 'string' | 'bytes' | 'double' | 'float';

export interface DecodeOptions {
  /** Fail with `wrong_wire_type` instead of skipping a known field sent with another wire type (Go skips). */
  strict?: boolean;
}

export interface MessageCodec<T> {
  readonly typeName: string;
  encode(v: T): Uint8Array;
  decode(b: Uint8Array, opts?: DecodeOptions): T;
  /** Writes the fields of `v` (no length prefix). */
  write(w: Writer, v: T): void;
  /** Reads fields until the reader's end. */
  read(r: Reader): T;
  /** A message with every field at its proto3 default, overridden by `init`. */
  create(init?: Partial<T>): T;
}

type Lazy = () => MessageCodec<never>;

export type FieldDef =
  | { no: number; name: string; kind: 'scalar'; type: ScalarType; rep: 'single' | 'optional' | 'repeated' }
  | { no: number; name: string; kind: 'message'; msg: Lazy; rep: 'single' | 'repeated' }
  | { no: number; name: string; kind: 'map'; key: ScalarType; value: ScalarType | Lazy };

/** Singular scalar (omitted on the wire when default). */
export const scalar = (no: number, name: string, type: ScalarType): FieldDef => ({ no, name, kind: 'scalar', type, rep: 'single' });
/** proto3 `optional` scalar: undefined when absent. */
export const optional = (no: number, name: string, type: ScalarType): FieldDef => ({ no, name, kind: 'scalar', type, rep: 'optional' });
export const repeated = (no: number, name: string, type: ScalarType): FieldDef => ({ no, name, kind: 'scalar', type, rep: 'repeated' });
export const msg = <T>(no: number, name: string, m: () => MessageCodec<T>): FieldDef => ({ no, name, kind: 'message', msg: m as Lazy, rep: 'single' });
export const msgs = <T>(no: number, name: string, m: () => MessageCodec<T>): FieldDef => ({ no, name, kind: 'message', msg: m as Lazy, rep: 'repeated' });
export const map = <T>(no: number, name: string, key: ScalarType, value: ScalarType | (() => MessageCodec<T>)): FieldDef => ({
  no,
  name,
  kind: 'map',
  key,
  value: value as ScalarType | Lazy,
});

function wireTypeOf(t: ScalarType): number {
  switch (t) {
    case 'fixed32': case 'sfixed32': case 'float':
      return WireType.Fixed32;
    case 'fixed64': case 'sfixed64': case 'double':
      return WireType.Fixed64;
    case 'string': case 'bytes':
      return WireType.LengthDelimited;
    default:
      return WireType.Varint;
  }
}

function defaultOf(t: ScalarType): unknown {
  switch (t) {
    case 'int64big': case 'uint64big': case 'fixed64': case 'sfixed64':
      return 0n;
    case 'bool':
      return false;
    case 'string':
      return '';
    case 'bytes':
      return EMPTY_BYTES; // zero-length, so sharing it is safe
    default:
      return 0;
  }
}

const EMPTY_BYTES = new Uint8Array(0);

function isDefault(t: ScalarType, v: unknown): boolean {
  switch (t) {
    case 'string':
      return v === '';
    case 'bytes':
      return (v as Uint8Array).length === 0;
    case 'bool':
      return v === false;
    case 'double': case 'float':
      return v === 0 && !Object.is(v, -0);
    default:
      return v === 0 || v === 0n;
  }
}

function readScalar(r: Reader, t: ScalarType): unknown {
  switch (t) {
    case 'int32': case 'enum': return r.int32();
    case 'uint32': return r.uint32();
    case 'sint32': return r.sint32();
    case 'fixed32': return r.fixed32();
    case 'sfixed32': return r.sfixed32();
    case 'int64': return r.int64Number();
    case 'uint64': return r.uint64Number();
    case 'sint64': return r.sint64Number();
    case 'int64big': return r.int64();
    case 'uint64big': return r.uint64();
    case 'fixed64': return r.fixed64();
    case 'sfixed64': return r.sfixed64();
    case 'bool': return r.bool();
    case 'string': return r.string();
    case 'bytes': return r.bytes();
    case 'double': return r.double();
    case 'float': return r.float();
  }
}

function writeScalar(w: Writer, t: ScalarType, v: unknown): void {
  switch (t) {
    case 'int32': case 'enum': return w.int32(v as number);
    case 'uint32': return w.uint32(v as number);
    case 'sint32': return w.sint32(v as number);
    case 'fixed32': return w.fixed32(v as number);
    case 'sfixed32': return w.sfixed32(v as number);
    case 'int64': return w.int64Number(v as number);
    case 'uint64': return w.int64Number(v as number);
    case 'sint64': return w.sint64Number(v as number);
    case 'int64big': return w.int64(v as bigint);
    case 'uint64big': return w.uint64(v as bigint);
    case 'fixed64': return w.fixed64(v as bigint);
    case 'sfixed64': return w.sfixed64(v as bigint);
    case 'bool': return w.bool(v as boolean);
    case 'string': return w.string(v as string);
    case 'bytes': return w.bytes(v as Uint8Array);
    case 'double': return w.double(v as number);
    case 'float': return w.float(v as number);
  }
}

/**
 * Wire type check for a known field. protobuf-go treats a mismatch as an
 * unknown field (skips it), and so do we unless the reader is strict.
 */
function expect(r: Reader, wt: number, want: number, f: FieldDef): boolean {
  if (wt === want) return true;
  if (r.strict) throw protoError('wrong_wire_type', `field ${f.name} (${f.no}): wire type ${wt}, want ${want}`);
  r.skip(wt, f.no);
  return false;
}

function readValue(r: Reader, v: ScalarType | Lazy, wt: number, f: FieldDef): unknown {
  if (typeof v === 'function') {
    return expect(r, wt, WireType.LengthDelimited, f) ? readNested(r, codecOf(v)) : undefined;
  }
  return expect(r, wt, wireTypeOf(v), f) ? readScalar(r, v) : undefined;
}

/** Reads a length-delimited nested message in place (no sub-reader allocation). */
function readNested(r: Reader, c: MessageCodec<unknown>): unknown {
  const outer = r.limit();
  const v = c.read(r);
  r.restore(outer);
  return v;
}

function defaultValue(v: ScalarType | Lazy): unknown {
  return typeof v === 'function' ? codecOf(v).create() : defaultOf(v);
}

/** Resolves (once) the codec behind a lazy reference; lazies exist only for declaration order. */
const resolved = new WeakMap<Lazy, MessageCodec<unknown>>();
function codecOf(l: Lazy): MessageCodec<unknown> {
  let c = resolved.get(l);
  if (!c) {
    c = l() as MessageCodec<unknown>;
    resolved.set(l, c);
  }
  return c;
}

class TableCodec<T> implements MessageCodec<T> {
  private byNo: (FieldDef | undefined)[] = [];

  constructor(
    readonly typeName: string,
    private readonly fields: FieldDef[],
  ) {
    for (const f of fields) this.byNo[f.no] = f;
  }

  /**
   * Every decoded message of this type is a spread of one template, so all
   * instances share a hidden class (fast property access); only the mutable
   * collections are created per instance. Absent message fields are present
   * as undefined.
   */
  private template: Record<string, unknown> | null = null;
  private collections: FieldDef[] = [];

  create(init?: Partial<T>): T {
    if (!this.template) {
      const t: Record<string, unknown> = {};
      for (const f of this.fields) {
        if (f.kind === 'map' || f.rep === 'repeated') {
          t[f.name] = null;
          this.collections.push(f);
        } else t[f.name] = f.kind === 'scalar' && f.rep === 'single' ? defaultOf(f.type) : undefined;
      }
      this.template = t;
    }
    const o: Record<string, unknown> = { ...this.template };
    for (const f of this.collections) o[f.name] = f.kind === 'map' ? new Map() : [];
    return (init ? Object.assign(o, init) : o) as T;
  }

  encode(v: T): Uint8Array {
    return encodeWith((w) => this.write(w, v));
  }

  decode(b: Uint8Array, opts?: DecodeOptions): T {
    const r = new Reader(b);
    if (opts?.strict) r.strict = true;
    return this.read(r);
  }

  write(w: Writer, v: T): void {
    const o = v as Record<string, unknown>;
    for (const f of this.fields) {
      const val = o[f.name];
      if (val === undefined || val === null) continue;
      if (f.kind === 'scalar') {
        if (f.rep === 'repeated') {
          const arr = val as unknown[];
          if (arr.length === 0) continue;
          const wt = wireTypeOf(f.type);
          if (wt === WireType.LengthDelimited) {
            for (const x of arr) {
              w.tag(f.no, wt);
              writeScalar(w, f.type, x);
            }
          } else {
            w.tag(f.no, WireType.LengthDelimited);
            const mark = w.beginSub();
            for (const x of arr) writeScalar(w, f.type, x);
            w.endSub(mark);
          }
        } else {
          if (f.rep === 'single' && isDefault(f.type, val)) continue;
          w.tag(f.no, wireTypeOf(f.type));
          writeScalar(w, f.type, val);
        }
      } else if (f.kind === 'message') {
        const codec = codecOf(f.msg);
        const items = f.rep === 'repeated' ? (val as unknown[]) : [val];
        for (const x of items) {
          w.tag(f.no, WireType.LengthDelimited);
          const mark = w.beginSub();
          codec.write(w, x);
          w.endSub(mark);
        }
      } else {
        for (const [k, x] of val as Map<unknown, unknown>) {
          w.tag(f.no, WireType.LengthDelimited);
          const mark = w.beginSub();
          w.tag(1, wireTypeOf(f.key));
          writeScalar(w, f.key, k);
          if (typeof f.value === 'function') {
            w.tag(2, WireType.LengthDelimited);
            const m2 = w.beginSub();
            codecOf(f.value).write(w, x);
            w.endSub(m2);
          } else {
            w.tag(2, wireTypeOf(f.value));
            writeScalar(w, f.value, x);
          }
          w.endSub(mark);
        }
      }
    }
  }

  read(r: Reader): T {
    const o = this.create() as Record<string, unknown>;
    while (r.pos < r.end) {
      const t = r.uint32();
      const no = t >>> 3;
      const wt = t & 7;
      if (no === 0) throw protoError('bad_field_number', 'field number 0');
      const f = this.byNo[no];
      if (!f) {
        r.skip(wt, no);
        continue;
      }
      if (f.kind === 'scalar') {
        const want = wireTypeOf(f.type);
        if (f.rep === 'repeated') {
          const arr = o[f.name] as unknown[];
          if (wt === WireType.LengthDelimited && want !== WireType.LengthDelimited) {
            const outer = r.limit();
            while (r.pos < r.end) arr.push(readScalar(r, f.type));
            r.restore(outer);
          } else if (expect(r, wt, want, f)) {
            arr.push(readScalar(r, f.type));
          }
        } else if (expect(r, wt, want, f)) {
          o[f.name] = readScalar(r, f.type);
        }
      } else if (f.kind === 'message') {
        if (!expect(r, wt, WireType.LengthDelimited, f)) continue;
        const value = readNested(r, codecOf(f.msg));
        if (f.rep === 'repeated') (o[f.name] as unknown[]).push(value);
        else o[f.name] = value;
      } else {
        if (!expect(r, wt, WireType.LengthDelimited, f)) continue;
        const outer = r.limit();
        let k: unknown;
        let v: unknown;
        while (r.pos < r.end) {
          const [eno, ewt] = r.tag();
          if (eno === 1) k = readValue(r, f.key, ewt, f);
          else if (eno === 2) v = readValue(r, f.value, ewt, f);
          else r.skip(ewt, eno);
        }
        r.restore(outer);
        (o[f.name] as Map<unknown, unknown>).set(k ?? defaultOf(f.key), v ?? defaultValue(f.value));
      }
    }
    return o as T;
  }
}

export function message<T>(typeName: string, fields: FieldDef[]): MessageCodec<T> {
  return new TableCodec<T>(typeName, fields);
}
