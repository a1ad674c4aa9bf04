/**
 * Finds the first JSON value of a request body the way Go's json.Decoder does, or the exact
 * error Go would return. The states and messages follow encoding/json's byte scanner
 * (scanner.go) and Decoder.readValue (stream.go), in one forward pass. go-json.ts only scans
 * when JSON.parse rejects the whole body (trailing bytes or an error), so well-formed bodies
 * never pay for it.
 *
 *   leading space → value → done (a top-level value ends without looking further, except a
 *                           number, which ends at the first byte that cannot continue it)
 *   value: { … }  [ … ]  "…"  true false null  -?int frac? exp?
 *   input ends inside a value → "unexpected EOF"; only space → "EOF"
 *
 * Go scans bytes, and names the offending byte with quoteChar: the byte is taken as a rune
 * (0xC3 reads as 'Ã'), so a multi-byte UTF-8 character is reported by its first byte.
 */

/** Where the first value lies in the input, or the detail of the error Go would return. */
export type GoJsonScan = { ok: true; start: number; end: number } | { ok: false; detail: string; index: number };

/** Go's maxNestingDepth: the 10001st open bracket is an error. */
export const GO_MAX_DEPTH = 10000;

const IN_KEY = 0; // inside an object, before the colon
const IN_VALUE = 1; // inside an object, after the colon
const IN_ARRAY = 2;

const M_VALUE = 0; // stateBeginValue
const M_VALUE_OR_EMPTY = 1; // right after '['
const M_KEY_OR_EMPTY = 2; // right after '{'
const M_KEY = 3; // after ',' in an object
const M_END = 4; // stateEndValue: a value just ended

/** String content that needs no look: not a quote, backslash or control character. */
const PLAIN_RUN = /[^"\\\x00-\x1f]*/y;

// Shared across calls: the scan is synchronous and never re-entered.
const stack = new Uint8Array(GO_MAX_DEPTH + 1);

/**
 * Scans `src` for its first JSON value. With `bytes`, every code unit of `src` is one byte of
 * the body (a latin1 view) and an offending byte is reported as is; otherwise `src` is text and
 * an offending non-ASCII character is reported by the first byte of its UTF-8 encoding.
 */
export function scanFirstValue(src: string, bytes = false): GoJsonScan {
  const n = src.length;
  let i = 0;
  let start = -1;
  let depth = 0;
  let mode = M_VALUE;
  let c = 0;
  for (;;) {
    if (mode === M_END && depth === 0) return { ok: true, start, end: i };
    while (i < n && ((c = src.charCodeAt(i)) === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) i++;
    if (i >= n) return eof(mode === M_VALUE && depth === 0, n);

    if (mode === M_END) {
      const top = stack[depth - 1];
      if (top === IN_KEY) {
        if (c !== 0x3a /* : */) return fail(src, i, bytes, 'after object key');
        stack[depth - 1] = IN_VALUE;
        mode = M_VALUE;
      } else if (top === IN_VALUE) {
        if (c === 0x2c /* , */) {
          stack[depth - 1] = IN_KEY;
          mode = M_KEY;
        } else if (c === 0x7d /* } */) depth--;
        else return fail(src, i, bytes, 'after object key:value pair');
      } else {
        if (c === 0x2c) mode = M_VALUE;
        else if (c === 0x5d /* ] */) depth--;
        else return fail(src, i, bytes, 'after array element');
      }
      i++;
      continue;
    }

    if (mode === M_KEY_OR_EMPTY || mode === M_KEY) {
      if (c === 0x7d && mode === M_KEY_OR_EMPTY) {
        depth--;
        i++;
        mode = M_END;
        continue;
      }
      if (c !== 0x22) return fail(src, i, bytes, 'looking for beginning of object key string');
    } else if (c === 0x5d && mode === M_VALUE_OR_EMPTY) {
      depth--;
      i++;
      mode = M_END;
      continue;
    }

    // stateBeginValue
    if (depth === 0) start = i;
    if (c === 0x22 /* " */) {
      // String: Go accepts any byte >= 0x20 (invalid UTF-8 included) up to the closing quote.
      i++;
      for (;;) {
        PLAIN_RUN.lastIndex = i;
        PLAIN_RUN.test(src);
        i = PLAIN_RUN.lastIndex;
        if (i >= n) return eof(false, n);
        c = src.charCodeAt(i);
        if (c === 0x22) break;
        if (c === 0x5c /* \ */) {
          if (++i >= n) return eof(false, n);
          c = src.charCodeAt(i);
          if (c === 0x75 /* u */) {
            for (let k = 0; k < 4; k++) {
              if (++i >= n) return eof(false, n);
              if (!isHex(src.charCodeAt(i))) return fail(src, i, bytes, 'in \\u hexadecimal character escape');
            }
          } else if (!isEscape(c)) return fail(src, i, bytes, 'in string escape code');
        } else if (c < 0x20) return fail(src, i, bytes, 'in string literal');
        i++;
      }
      i++;
      mode = M_END;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (depth === GO_MAX_DEPTH) return fail(src, i, bytes, 'exceeded max depth');
      stack[depth++] = c === 0x7b ? IN_KEY : IN_ARRAY;
      mode = c === 0x7b ? M_KEY_OR_EMPTY : M_VALUE_OR_EMPTY;
      i++;
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      if (c === 0x2d) {
        if (++i >= n) return eof(false, n);
        c = src.charCodeAt(i);
        if (c < 0x30 || c > 0x39) return fail(src, i, bytes, 'in numeric literal');
      }
      // A leading 0 takes no more digits: "01" at top level is the value 0.
      i++;
      if (c !== 0x30) while (i < n && isDigit(src.charCodeAt(i))) i++;
      if (i < n && src.charCodeAt(i) === 0x2e /* . */) {
        if (++i >= n) return eof(false, n);
        if (!isDigit(src.charCodeAt(i))) return fail(src, i, bytes, 'after decimal point in numeric literal');
        while (i < n && isDigit(src.charCodeAt(i))) i++;
      }
      if (i < n && ((c = src.charCodeAt(i)) === 0x65 || c === 0x45) /* e E */) {
        if (++i >= n) return eof(false, n);
        c = src.charCodeAt(i);
        if (c === 0x2b || c === 0x2d) {
          if (++i >= n) return eof(false, n);
          c = src.charCodeAt(i);
        }
        if (c < 0x30 || c > 0x39) return fail(src, i, bytes, 'in exponent of numeric literal');
        while (i < n && isDigit(src.charCodeAt(i))) i++;
      }
      mode = M_END;
    } else if (c === 0x74 /* t */) {
      const r = literal(src, i, 'true', bytes);
      if (r !== null) return r;
      i += 4;
      mode = M_END;
    } else if (c === 0x66 /* f */) {
      const r = literal(src, i, 'false', bytes);
      if (r !== null) return r;
      i += 5;
      mode = M_END;
    } else if (c === 0x6e /* n */) {
      const r = literal(src, i, 'null', bytes);
      if (r !== null) return r;
      i += 4;
      mode = M_END;
    } else {
      return fail(src, i, bytes, 'looking for beginning of value');
    }
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

/** b f n r t \ / " */
function isEscape(c: number): boolean {
  return c === 0x62 || c === 0x66 || c === 0x6e || c === 0x72 || c === 0x74 || c === 0x5c || c === 0x2f || c === 0x22;
}

/** Checks the rest of true/false/null after its first letter; null when it is all there. */
function literal(src: string, i: number, word: string, bytes: boolean): GoJsonScan | null {
  for (let k = 1; k < word.length; k++) {
    if (i + k >= src.length) return eof(false, src.length);
    if (src.charCodeAt(i + k) !== word.charCodeAt(k)) return fail(src, i + k, bytes, `in literal ${word} (expecting '${word[k] ?? ''}')`);
  }
  return null;
}

/** Decoder.readValue at end of input: io.EOF when nothing but space came, else io.ErrUnexpectedEOF. */
function eof(nothing: boolean, n: number): GoJsonScan {
  return { ok: false, detail: nothing ? 'EOF' : 'unexpected EOF', index: n };
}

function fail(src: string, i: number, bytes: boolean, context: string): GoJsonScan {
  return { ok: false, detail: `invalid character ${quoteChar(bytes ? src.charCodeAt(i) & 0xff : firstUtf8Byte(src, i))} ${context}`, index: i };
}

/** The first byte of the UTF-8 encoding of the character at `i` (a lone surrogate encodes as U+FFFD). */
function firstUtf8Byte(src: string, i: number): number {
  const cp = src.codePointAt(i) ?? 0;
  if (cp < 0x80) return cp;
  if (cp < 0x800) return 0xc0 | (cp >> 6);
  if (cp >= 0xd800 && cp <= 0xdfff) return 0xef;
  if (cp < 0x10000) return 0xe0 | (cp >> 12);
  return 0xf0 | (cp >> 18);
}

/**
 * Go's quoteChar: the byte as a rune in single quotes, escaped as strconv.Quote would
 * (\n \t …, \x01 for other C0 controls and DEL, \u0080 for non-printable Latin-1), except
 * that a single quote is escaped and a double quote is not.
 */
export function quoteChar(b: number): string {
  if (b === 0x27) return `'\\''`;
  if (b === 0x22) return `'"'`;
  if (b === 0x5c) return `'\\\\'`;
  if (b >= 0x20 && b < 0x7f) return `'${String.fromCharCode(b)}'`;
  const named = NAMED_ESCAPES[b];
  if (named !== undefined) return `'\\${named}'`;
  if (b < 0x20 || b === 0x7f) return `'\\x${b.toString(16).padStart(2, '0')}'`;
  // Latin-1: C1 controls, NO-BREAK SPACE and SOFT HYPHEN are not printable to strconv.IsPrint.
  if (b < 0xa0 || b === 0xa0 || b === 0xad) return `'\\u${b.toString(16).padStart(4, '0')}'`;
  return `'${String.fromCharCode(b)}'`;
}

const NAMED_ESCAPES: Record<number, string> = { 7: 'a', 8: 'b', 9: 't', 10: 'n', 11: 'v', 12: 'f', 13: 'r' };

/**
 * Whether a text that JSON.parse accepted nests deeper than Go allows. Most bodies have too
 * few brackets to tell at all (counted with indexOf, native); otherwise strings are skipped
 * with indexOf while the depth is tracked.
 */
export function nestsDeeperThanGo(src: string): boolean {
  if (countUpTo(src, '[', GO_MAX_DEPTH + 1) + countUpTo(src, '{', GO_MAX_DEPTH + 1) <= GO_MAX_DEPTH) return false;
  const n = src.length;
  let depth = 0;
  for (let i = 0; i < n; i++) {
    const c = src.charCodeAt(i);
    if (c === 0x22) {
      for (;;) {
        i = src.indexOf('"', i + 1);
        if (i < 0) return false;
        let k = i - 1;
        while (src.charCodeAt(k) === 0x5c) k--;
        if ((i - k) % 2 === 1) break; // an even number of backslashes: this quote closes
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > GO_MAX_DEPTH) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

function countUpTo(src: string, ch: string, limit: number): number {
  let count = 0;
  for (let i = src.indexOf(ch); i >= 0 && count < limit; i = src.indexOf(ch, i + 1)) count++;
  return count;
}

/**
 * Whether a JSON text has a \u escape of a UTF-16 surrogate (\uD800–\uDFFF), which Go decodes
 * differently from JSON.parse when unpaired. May say yes for an escaped backslash before "ud8".
 */
export function hasSurrogateEscape(src: string): boolean {
  for (let i = src.indexOf('\\u'); i >= 0; i = src.indexOf('\\u', i + 2)) {
    const d = src.charCodeAt(i + 2);
    const x = src.charCodeAt(i + 3) | 0x20;
    if ((d | 0x20) === 0x64 /* d */ && ((x >= 0x38 && x <= 0x39) || (x >= 0x61 && x <= 0x66))) return true;
  }
  return false;
}
