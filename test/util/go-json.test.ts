/**
 * goJsonDecodeFirst reads the first JSON value of a body as Go's json.Decoder does and fails
 * with Go's exact error text. The expected texts were recorded from Go 1.26 (go-json.cases.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { foldKeys, goJsonDecodeFirst, goJsonDecodeFirstBytes, type JsonDecodeResult } from '../../src/util/go-json.js';
import { nestsDeeperThanGo, quoteChar, scanFirstValue } from '../../src/util/go-json-scan.js';
import { GO_BYTE_ERRORS, GO_BYTE_VALUES, GO_ERRORS, GO_QUOTE_CHAR, GO_VALUES } from './go-json.cases.js';

const GO_MESSAGE =
  /^(EOF|unexpected EOF|invalid character '(?:[^\\]|\\(?:[abfnrtv\\']|x[0-9a-f]{2}|u[0-9a-f]{4}))' (looking for beginning of value|in literal (true|false|null) \(expecting '[a-z]'\)|after object key|after object key:value pair|after array element|looking for beginning of object key string|in string literal|in string escape code|in \\u hexadecimal character escape|in numeric literal|after decimal point in numeric literal|in exponent of numeric literal|exceeded max depth))$/;

function detail(r: JsonDecodeResult): string | undefined {
  return r.ok ? undefined : r.detail;
}

describe('goJsonDecodeFirst: Go syntax errors, word for word', () => {
  it.each(GO_ERRORS)('%j → %s', (body, goError) => {
    expect(goJsonDecodeFirst(body)).toEqual({ ok: false, detail: goError });
    expect(goJsonDecodeFirstBytes(Buffer.from(body))).toEqual({ ok: false, detail: goError });
  });

  it('every byte is named as Go quoteChar names it', () => {
    expect(GO_QUOTE_CHAR).toHaveLength(256);
    for (let b = 0; b < 256; b++) expect(quoteChar(b), `byte 0x${b.toString(16)}`).toBe(GO_QUOTE_CHAR[b]);
  });

  it('a non-ASCII character outside a string is named by its first UTF-8 byte, as Go scans bytes', () => {
    expect(detail(goJsonDecodeFirst('é'))).toBe("invalid character 'Ã' looking for beginning of value");
    expect(detail(goJsonDecodeFirst('[1€'))).toBe("invalid character 'â' after array element");
    expect(detail(goJsonDecodeFirst('{😀'))).toBe("invalid character 'ð' looking for beginning of object key string");
    // A UTF-8 byte order mark is not skipped.
    expect(detail(goJsonDecodeFirst('\ufeff{"state":"ready"}'))).toBe("invalid character 'ï' looking for beginning of value");
  });

  it('nesting deeper than 10000 is an error on the 10001st bracket', () => {
    const deep = (n: number, tail = '') => goJsonDecodeFirst('['.repeat(n) + ']'.repeat(n) + tail);
    expect(deep(10000).ok).toBe(true);
    expect(detail(deep(10001))).toBe("invalid character '[' exceeded max depth");
    expect(detail(deep(10001, ' trailing'))).toBe("invalid character '[' exceeded max depth");
    expect(detail(goJsonDecodeFirst('{"a":'.repeat(10001) + '1' + '}'.repeat(10001)))).toBe("invalid character '{' exceeded max depth");
    expect(detail(goJsonDecodeFirst('['.repeat(10000)))).toBe('unexpected EOF');
    // Brackets inside strings do not nest.
    expect(goJsonDecodeFirst(`["${'['.repeat(20002)}"]`)).toEqual({ ok: true, value: ['['.repeat(20002)] });
    expect(goJsonDecodeFirst(`["\\"${'{'.repeat(20002)}\\\\"]`).ok).toBe(true);
    expect(nestsDeeperThanGo(`["\\\\"${',['.repeat(10001)}${']'.repeat(10001)}]`)).toBe(true);
  });
});

describe('goJsonDecodeFirst: the first value, as Go reads it', () => {
  it.each(GO_VALUES)('%j → %s', (body, goFirst, goValue) => {
    const scan = scanFirstValue(body);
    expect(scan.ok && body.slice(scan.start, scan.end)).toBe(goFirst);
    const r = goJsonDecodeFirst(body);
    expect(r.ok).toBe(true);
    // null: Go's float64 cannot hold the number (1e400); decoding into a struct reports that instead.
    if (r.ok && goValue !== null) expect(r.value).toEqual(JSON.parse(goValue));
    expect(goJsonDecodeFirstBytes(Buffer.from(body))).toEqual(r);
  });

  it('a surrogate escape without its pair decodes to U+FFFD, in values and keys', () => {
    expect(goJsonDecodeFirst('"\\ud800x"')).toEqual({ ok: true, value: '\ufffdx' });
    expect(goJsonDecodeFirst('["\\uDE00\\uD83D", "\\ud83d\\ude00"] x')).toEqual({ ok: true, value: ['\ufffd\ufffd', '😀'] });
    expect(goJsonDecodeFirst('{"\\ud800":{"__proto__":"\\udfff"}}')).toEqual({ ok: true, value: { '\ufffd': JSON.parse('{"__proto__":"\\ufffd"}') } });
    const r = goJsonDecodeFirst('{"__proto__":{"a":"\\ud800"}}');
    expect(r.ok && Object.getPrototypeOf(r.value)).toBe(Object.prototype);
    expect(r.ok && Object.getOwnPropertyNames(r.value)).toEqual(['__proto__']);
    // An escaped backslash before "ud800" is no escape.
    expect(goJsonDecodeFirst('"\\\\ud800"')).toEqual({ ok: true, value: '\\ud800' });
  });
});

describe('goJsonDecodeFirstBytes: bodies that are not valid UTF-8', () => {
  it.each(GO_BYTE_ERRORS)('%s → %s', (hex, goError) => {
    expect(goJsonDecodeFirstBytes(Buffer.from(hex, 'hex'))).toEqual({ ok: false, detail: goError });
  });

  it.each(GO_BYTE_VALUES)('%s → %s (each byte that starts no valid sequence is one U+FFFD)', (hex, goValue) => {
    expect(goJsonDecodeFirstBytes(Buffer.from(hex, 'hex'))).toEqual({ ok: true, value: JSON.parse(goValue) });
  });

  it('takes any Uint8Array view', () => {
    const bytes = new Uint8Array(Buffer.from('xx[1,2]x'));
    expect(goJsonDecodeFirstBytes(bytes.subarray(2, 7))).toEqual({ ok: true, value: [1, 2] });
  });
});

// Property tests: JSON.parse is the oracle for which slices are JSON.
const TOKENS = ['{', '}', '[', ']', ':', ',', ' ', '\n', '"', '"a"', '"k":', '\\', '\\u', '\\ud800', '0', '1', '9', '-', '+', '.', 'e', 'E', 'true', 'tru', 'false', 'null', 'nul', 'x', 'é', '\u0001', '\t'];
const tokenSoup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 14 }).map((t) => t.join(''));
const mutatedJson = fc
  .tuple(fc.json({ maxDepth: 3 }), fc.nat(), fc.constantFrom(...TOKENS, ''), fc.constantFrom('insert', 'replace', 'truncate'))
  .map(([json, at, token, op]) => {
    const p = at % (json.length + 1);
    if (op === 'truncate') return json.slice(0, p);
    return json.slice(0, p) + token + json.slice(op === 'replace' ? p + 1 : p);
  });
const numberSoup = fc
  .tuple(fc.constantFrom('', '[', '{"n":'), fc.array(fc.constantFrom('0', '1', '7', '-', '+', '.', 'e', 'E', 'x', ' ', ',', ']', '}'), { maxLength: 8 }))
  .map(([open, t]) => open + t.join(''));
const bodies = fc.oneof(tokenSoup, numberSoup, mutatedJson, fc.json({ maxDepth: 3 }), fc.string({ unit: 'binary', maxLength: 24 }));
const SPACE = /^[ \t\r\n]*$/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

describe('scanner properties', () => {
  it('never throws, and every failure is one of Go messages', () => {
    fc.assert(
      fc.property(bodies, (body) => {
        const r = goJsonDecodeFirst(body);
        if (!r.ok) expect(r.detail).toMatch(GO_MESSAGE);
      }),
      { numRuns: 400 },
    );
  });

  it('an accepted first value is JSON, preceded by space only, and Go would not read further', () => {
    fc.assert(
      fc.property(bodies, (body) => {
        const scan = scanFirstValue(body);
        if (!scan.ok) return;
        expect(SPACE.test(body.slice(0, scan.start))).toBe(true);
        expect(parses(body.slice(scan.start, scan.end))).toBe(true);
        // A value only ends where one more character could not extend it (numbers are greedy).
        if (scan.end < body.length && !SPACE.test(body[scan.end] ?? '')) expect(parses(body.slice(scan.start, scan.end + 1))).toBe(false);
        const first = body.slice(scan.start, scan.end);
        const r = goJsonDecodeFirst(body);
        expect(r.ok).toBe(true);
        if (r.ok && !/\\u[dD][89a-fA-F]/.test(first)) expect(r.value).toEqual(JSON.parse(first));
      }),
      { numRuns: 400 },
    );
  });

  it('a body that is exactly one JSON value is accepted whole with the value JSON.parse gives', () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 4 }), fc.constantFrom('', ' ', '\n\t\r '), (json, pad) => {
        const body = pad + json + pad;
        const scan = scanFirstValue(body);
        expect(scan).toEqual({ ok: true, start: pad.length, end: pad.length + json.length });
        expect(goJsonDecodeFirst(body)).toEqual({ ok: true, value: JSON.parse(json) });
        expect(goJsonDecodeFirst(body + '} trailing')).toEqual({ ok: true, value: JSON.parse(json) });
      }),
      { numRuns: 300 },
    );
  });

  it('a rejected body has no JSON prefix where Go would have stopped', () => {
    fc.assert(
      fc.property(bodies, (body) => {
        const scan = scanFirstValue(body);
        if (scan.ok) return;
        if (scan.detail === 'EOF') expect(SPACE.test(body)).toBe(true);
        if (scan.detail.endsWith('EOF')) expect(scan.index).toBe(body.length);
        else expect(scan.index).toBeLessThan(body.length);
        expect(parses(body)).toBe(false);
        // Every JSON prefix up to the error is a number that the next character continues.
        for (let k = 1; k <= Math.min(scan.index, body.length - 1); k++) {
          if (parses(body.slice(0, k))) expect(body[k]).toMatch(/[0-9.eE+-]/);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('the bytes entry point agrees with the text one on UTF-8 bodies and never throws on any bytes', () => {
    fc.assert(
      fc.property(bodies, (body) => {
        if (LONE_SURROGATE.test(body)) return; // Buffer.from would turn it into U+FFFD
        expect(goJsonDecodeFirstBytes(Buffer.from(body))).toEqual(goJsonDecodeFirst(body));
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 16 }), fc.constantFrom('', '"', '["', '{"a":'), (bytes, prefix) => {
        const r = goJsonDecodeFirstBytes(Buffer.concat([Buffer.from(prefix), bytes]));
        if (!r.ok) expect(r.detail).toMatch(GO_MESSAGE);
      }),
      { numRuns: 300 },
    );
  });
});

describe('foldKeys', () => {
  it('renames case-folded keys to the known field, like encoding/json', () => {
    expect(foldKeys({ NAME: 'a', other: 1 }, ['name'])).toEqual({ name: 'a', other: 1 });
    // An exact match wins over a folded one, whatever the order.
    expect(foldKeys({ NAME: 'folded', name: 'exact' }, ['name'])).toEqual({ name: 'exact' });
  });

  it('keeps a client "__proto__" key as an own property, never as the copy\'s prototype', () => {
    const input = JSON.parse('{"__proto__":{"token":"injected"},"name":"a"}') as unknown;
    const out = foldKeys(input, ['name', 'token']) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(out.token).toBeUndefined();
    expect(Object.keys(out)).toEqual(['__proto__', 'name']);
  });
});
