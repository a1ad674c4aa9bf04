/**
 * JSON as Go's encoding/json reads and writes it, so Go clients see the same bytes
 * coderd would send and we accept what they send.
 */

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
 * Decodes the first JSON value of a body, ignoring trailing bytes as json.Decoder does.
 * The error detail mimics Go's messages closely enough for humans; clients only read the status.
 */
export function goJsonDecodeFirst(text: string): JsonDecodeResult {
  let start = 0;
  while (start < text.length && isSpace(text.charCodeAt(start))) start++;
  if (start >= text.length) return { ok: false, detail: 'EOF' };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    // Fall through: maybe trailing bytes after a complete value.
  }
  const end = firstValueEnd(text, start);
  if (end < 0) return { ok: false, detail: describeInvalid(text, start) };
  try {
    return { ok: true, value: JSON.parse(text.slice(start, end)) };
  } catch {
    return { ok: false, detail: describeInvalid(text, start) };
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Index just past the first complete JSON value starting at `start`, or -1. */
function firstValueEnd(text: string, start: number): number {
  const first = text[start];
  if (first === '{' || first === '[') {
    let depth = 0;
    let inString = false;
    for (let i = start; i < text.length; i++) {
      const c = text[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') inString = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) return i + 1;
      }
    }
    return -1;
  }
  if (first === '"') {
    for (let i = start + 1; i < text.length; i++) {
      if (text[i] === '\\') i++;
      else if (text[i] === '"') return i + 1;
    }
    return -1;
  }
  const m = /^(?:true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(start, start + 64));
  return m ? start + m[0].length : -1;
}

function describeInvalid(text: string, start: number): string {
  const ch = text[start] ?? '';
  if ('{["tfn-0123456789'.includes(ch)) return 'unexpected EOF';
  return `invalid character '${ch}' looking for beginning of value`;
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
      out[key] = src[key];
      continue;
    }
    const target = byLower.get(key.toLowerCase());
    if (target !== undefined) {
      if (!(target in src)) out[target] = src[key];
    } else {
      out[key] = src[key];
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
