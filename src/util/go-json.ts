/**
 * JSON as Go's encoding/json reads and writes it, so Go clients see the same bytes
 * coderd would send and we accept what they send.
 */
import { isUtf8 } from 'node:buffer';
import { GO_MAX_DEPTH, hasSurrogateEscape, nestsDeeperThanGo, scanFirstValue } from './go-json-scan.js';
import { setOwn } from './own-property.js';

const GO_ESCAPES: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};
const ESCAPE_ALL = /[<>&\u2028\u2029]/g;
const HAS_ESCAPE = /[<>&\u2028\u2029]/;

/** Encodes like json.NewEncoder(w).Encode(v): HTML-safe escapes and a trailing newline. */
export function goJsonEncode(value: unknown): string {
  const text = JSON.stringify(value ?? null);
  return (HAS_ESCAPE.test(text) ? text.replace(ESCAPE_ALL, (c) => GO_ESCAPES[c] ?? c) : text) + '\n';
}

export type JsonDecodeResult = { ok: true; value: unknown } | { ok: false; detail: string };

/**
 * Decodes the first JSON value of a body as json.NewDecoder(body).Decode does: trailing bytes
 * are ignored, and a syntax error's detail is Go's own text (see go-json-scan.ts).
 * `text` is the body already decoded as UTF-8; goJsonDecodeFirstBytes is exact for bodies
 * that are not valid UTF-8.
 */
export function goJsonDecodeFirst(text: string): JsonDecodeResult {
  const whole = parseWhole(text);
  if (whole !== null) return whole;
  const scan = scanFirstValue(text);
  if (!scan.ok) return { ok: false, detail: scan.detail };
  return parseSlice(text.slice(scan.start, scan.end));
}

/**
 * The hot path: a body that is one JSON value with only space around it is what Go would
 * read too, so JSON.parse alone decides, unless it could nest deeper than Go allows
 * (10001 open and 10001 close brackets). Null means "not that simple: scan".
 */
function parseWhole(text: string): JsonDecodeResult | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (text.length > 2 * GO_MAX_DEPTH + 1 && nestsDeeperThanGo(text)) return null;
  return { ok: true, value: fixSurrogates(text, value) };
}

/**
 * goJsonDecodeFirst on the raw body. Go reads bytes: an offending byte outside a string is
 * named as the byte itself, and inside a string each byte that does not start a valid UTF-8
 * sequence decodes to one U+FFFD (TextDecoder would fold a truncated sequence into one).
 */
export function goJsonDecodeFirstBytes(body: Uint8Array): JsonDecodeResult {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const valid = isUtf8(buf);
  const text = valid ? buf.toString('utf8') : buf.toString('latin1');
  if (valid) {
    const whole = parseWhole(text);
    if (whole !== null) return whole;
  }
  const scan = scanFirstValue(text, !valid);
  // In valid UTF-8 the first byte of the offending character is exact; otherwise the scan was of the bytes.
  if (!scan.ok) return { ok: false, detail: scan.detail };
  return parseSlice(valid ? text.slice(scan.start, scan.end) : decodeUtf8LikeGo(buf, scan.start, scan.end));
}


function parseSlice(json: string): JsonDecodeResult {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    // Unreachable when the scanner agrees with JSON.parse (fuzzed in the tests); never a 500.
    return { ok: false, detail: err instanceof Error ? err.message : 'invalid JSON' };
  }
  return { ok: true, value: fixSurrogates(json, value) };
}

/** Go's decoder turns a surrogate escape without its pair into U+FFFD; JSON.parse keeps the lone half. */
function fixSurrogates(json: string, value: unknown): unknown {
  return hasSurrogateEscape(json) ? wellFormed(value) : value;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function wellFormed(v: unknown): unknown {
  if (typeof v === 'string') return v.replace(LONE_SURROGATE, '\ufffd');
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = wellFormed(v[i]);
    return v;
  }
  // In place: JSON.parse made "__proto__" an own property, which a fresh object would not keep.
  const obj = v as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    const value = wellFormed(obj[key]);
    const fixed = key.replace(LONE_SURROGATE, '\ufffd');
    if (fixed !== key) delete obj[key];
    obj[fixed] = value;
  }
  return obj;
}

/** utf8.DecodeRune's rule: a byte that does not start a valid sequence becomes one U+FFFD. */
function decodeUtf8LikeGo(buf: Buffer, start: number, end: number): string {
  let out = '';
  let run = start;
  let i = start;
  while (i < end) {
    const b = buf[i] ?? 0;
    if (b < 0x80) {
      i++;
      continue;
    }
    const size = utf8SequenceLength(buf, i, end);
    if (size > 0) {
      i += size;
      continue;
    }
    out += buf.toString('utf8', run, i) + '\ufffd';
    i++;
    run = i;
  }
  return out + buf.toString('utf8', run, end);
}

/** Length of the valid UTF-8 sequence at `i` (no overlongs, surrogates or values past U+10FFFF), or 0. */
function utf8SequenceLength(buf: Buffer, i: number, end: number): number {
  const b0 = buf[i] ?? 0;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => i + k < end && (buf[i + k] ?? 0) >= lo && (buf[i + k] ?? 0) <= hi;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const lo = b0 === 0xe0 ? 0xa0 : 0x80;
    const hi = b0 === 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const lo = b0 === 0xf0 ? 0x90 : 0x80;
    const hi = b0 === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/**
 * Go matches JSON object keys to struct fields case-insensitively (exact match preferred).
 * Returns a shallow copy of `input` whose keys that fold to a known field are renamed to it.
 */
export function foldKeys(input: unknown, fields: readonly string[]): unknown {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return input;
  const byLower = new Map<string, string>();
  for (const f of fields) byLower.set(f.toLowerCase(), f);
  const out: Record<string, unknown> = {};
  const src = input as Record<string, unknown>;
  for (const key of Object.keys(src)) {
    if (fields.includes(key)) {
      setOwn(out, key, src[key]);
      continue;
    }
    const target = byLower.get(key.toLowerCase());
    if (target !== undefined) {
      if (!Object.hasOwn(src, target)) setOwn(out, target, src[key]);
    } else {
      setOwn(out, key, src[key]);
    }
  }
  return out;
}

/** RFC 3339 timestamp as Go prints time.Time (UTC, fractional seconds without trailing zeros). */
export function goTime(iso: string | Date): string {
  const d = typeof iso === 'string' ? iso : iso.toISOString();
  // ISO from JS is always ms precision with Z; Go trims trailing zeros of the fraction.
  return d.replace(/\.(\d*?)0+Z$/, (_m, frac: string) => (frac ? `.${frac}Z` : 'Z'));
}
