import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CoordinatorError } from '../../src/coordinator/errors.js';
import { JsonObjectSplitter } from '../../src/coordinator/json-stream.js';
import { isEndpointText, isPrefixText } from '../../src/coordinator/netparse.js';
import { decodeNode, encodeNode, parseNode, rawTopLevelNumbers } from '../../src/coordinator/node.js';
import { CoordinateResponse } from '../../src/coordinator/types.js';
import { encodeV1Frames } from '../../src/coordinator/v1/codec.js';
import { binaryFrameFromText, framePayloadLength } from '../../src/coordinator/ws-frame.js';
import { nodeJson } from './helpers.js';

const ignore = { onValue: () => {} };

function splitAll(chunks: Buffer[]): string[] {
  const s = new JsonObjectSplitter();
  const out: string[] = [];
  for (const c of chunks) s.push(c, { onValue: (v) => out.push(v.toString('utf8')) });
  return out;
}

/** Cuts `buf` at the given fractional points. */
function cut(buf: Buffer, points: number[]): Buffer[] {
  const idx = [...new Set(points.map((p) => Math.floor(p * buf.length)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const i of idx) {
    out.push(buf.subarray(prev, i));
    prev = i;
  }
  out.push(buf.subarray(prev));
  return out;
}

const jsonObject = fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 });

describe('JsonObjectSplitter', () => {
  it('yields exactly the objects of a stream however it is cut (fuzz)', () => {
    fc.assert(
      fc.property(fc.array(jsonObject, { minLength: 1, maxLength: 6 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }), fc.constantFrom('', ' ', '\n', '\r\n\t'), (objs, points, sep) => {
        const texts = objs.map((o) => JSON.stringify(o));
        const stream = Buffer.from(texts.join(sep) + sep);
        const got = splitAll(cut(stream, points));
        expect(got).toEqual(texts);
      }),
      { numRuns: 150 },
    );
  });

  it('keeps multi-byte UTF-8 and escaped quotes/braces inside strings intact', () => {
    const text = JSON.stringify({ a: 'é"}{\\', b: ['🙂', '\\"'] });
    const bytes = Buffer.from(text + text);
    const got = splitAll(cut(bytes, [0.1, 0.33, 0.5, 0.51, 0.9]));
    expect(got).toEqual([text, text]);
  });

  it('rejects non-object top-level values with bad_node', () => {
    for (const bad of ['[1]', '1', '"x"', 'null', 'true', '\u0000']) {
      expect(() => splitAll([Buffer.from(bad)])).toThrow(CoordinatorError);
    }
  });

  it('rejects a value that grows past the size limit across chunks', () => {
    const s = new JsonObjectSplitter({ maxValueBytes: 100, maxDepth: 16 });
    s.push(Buffer.from('{"a":"' + 'x'.repeat(60)), ignore);
    expect(() => s.push(Buffer.from('x'.repeat(60)), ignore)).toThrow(/too large/);
  });

  it('rejects excessive nesting', () => {
    expect(() => splitAll([Buffer.from('{"a":' + '['.repeat(40))])).toThrow(/deep/);
  });

  it('never throws anything but CoordinatorError on arbitrary bytes (fuzz)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 6 }), (chunks) => {
        const s = new JsonObjectSplitter();
        try {
          for (const c of chunks) s.push(Buffer.from(c), ignore);
        } catch (e) {
          expect(e).toBeInstanceOf(CoordinatorError);
        }
      }),
      { numRuns: 200 },
    );
  });
});

const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
const ipv6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((p) => p.map((x) => x.toString(16)).join(':'));
const prefix = fc.oneof(
  fc.tuple(ipv4, fc.nat(32)).map(([a, b]) => `${a}/${b}`),
  fc.tuple(ipv6, fc.nat(128)).map(([a, b]) => `${a}/${b}`),
);
const endpoint = fc.oneof(
  fc.tuple(ipv4, fc.nat(65535)).map(([a, p]) => `${a}:${p}`),
  fc.tuple(ipv6, fc.nat(65535)).map(([a, p]) => `[${a}]:${p}`),
);
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const validNode = fc.record({
  id: int64,
  as_of: fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString()),
  key: hex64.map((h) => `nodekey:${h}`),
  disco: hex64.map((h) => `discokey:${h}`),
  preferred_derp: fc.nat(1000),
  derp_latency: fc.option(fc.dictionary(fc.string({ maxLength: 6 }), fc.double({ noNaN: true, noDefaultInfinity: true }), { maxKeys: 4 })),
  derp_forced_websockets: fc.option(fc.dictionary(fc.nat(999).map(String), fc.string(), { maxKeys: 3 })),
  addresses: fc.option(fc.array(prefix, { maxLength: 3 })),
  allowed_ips: fc.option(fc.array(prefix, { maxLength: 3 })),
  endpoints: fc.option(fc.array(endpoint, { maxLength: 3 })),
});

function toText(n: Record<string, unknown> & { id: bigint }): string {
  const { id, ...rest } = n;
  return `{"id":${id},` + JSON.stringify(rest).slice(1);
}

describe('node codec', () => {
  it('accepts valid nodes and re-encodes them stably; ids stay exact (fuzz)', () => {
    fc.assert(
      fc.property(validNode, (n) => {
        const rec = decodeNode(toText(n));
        expect(rec.node.id).toBe(n.id);
        expect(rawTopLevelNumbers(rec.json).id).toBe(n.id.toString());
        expect(decodeNode(rec.json).json).toBe(rec.json);
        expect(encodeNode(rec.node)).toBe(rec.json);
      }),
      { numRuns: 150 },
    );
  });

  it('produces the Go zero-node encoding for an empty object', () => {
    const z = '0'.repeat(64);
    expect(decodeNode('{}').json).toBe(
      `{"id":0,"as_of":"0001-01-01T00:00:00Z","key":"nodekey:${z}","disco":"discokey:${z}","preferred_derp":0,"derp_latency":null,"derp_forced_websockets":null,"addresses":null,"allowed_ips":null,"endpoints":null}`,
    );
  });

  it('drops unknown fields, sorts map keys, lower-cases key hex, keeps [] vs null', () => {
    const rec = decodeNode(
      `{"extra":{"x":[1,2]},"id":7,"key":"nodekey:${'AB'.repeat(32)}","derp_latency":{"2-v4":0.5,"1-v6":1e-7},"addresses":[],"derp_forced_websockets":{"+10":"a","2":"b"}}`,
    );
    expect(rec.json).toContain(`"key":"nodekey:${'ab'.repeat(32)}"`);
    expect(rec.json).toContain('"derp_latency":{"1-v6":1e-7,"2-v4":0.5}');
    expect(rec.json).toContain('"derp_forced_websockets":{"10":"a","2":"b"}');
    expect(rec.json).toContain('"addresses":[]');
    expect(rec.json).not.toContain('extra');
  });

  it('takes the last duplicate id, like Go', () => {
    expect(decodeNode('{"id":1,"id":9223372036854775807}').node.id).toBe(9223372036854775807n);
  });

  it('rejects invalid fields', () => {
    const bad = [
      '{"id":9223372036854775808}',
      '{"id":1.0}',
      '{"id":1e3}',
      '{"id":"1"}',
      '{"key":"nodekey:00"}',
      '{"key":"mkey:' + '0'.repeat(64) + '"}',
      '{"disco":"discokey:' + 'g'.repeat(64) + '"}',
      '{"as_of":"yesterday"}',
      '{"preferred_derp":1.5}',
      '{"derp_latency":[1]}',
      '{"derp_latency":{"1-v4":"fast"}}',
      '{"derp_forced_websockets":{"x":"y"}}',
      '{"addresses":"fd7a::1/128"}',
      '{"addresses":["fd7a::1"]}',
      '{"addresses":["fe80::1%eth0/64"]}',
      '{"allowed_ips":["10.0.0.01/8"]}',
      '{"endpoints":["1.2.3.4:65536"]}',
      '{"endpoints":[1]}',
      '[]',
      '{"id":1',
    ];
    for (const b of bad) expect(() => decodeNode(b), b).toThrow(CoordinatorError);
  });

  it('decodeNode writes exactly encodeNode(parseNode(text)) and fails with the same error (fuzz)', () => {
    const outcome = (f: () => string): string => {
      try {
        return 'ok ' + f();
      } catch (e) {
        return e instanceof CoordinatorError ? `err ${e.code} ${e.message}` : `other ${String(e)}`;
      }
    };
    const same = (text: string): void => {
      expect(outcome(() => decodeNode(text).json), text).toBe(outcome(() => encodeNode(parseNode(text))));
    };
    const upperKeys = (t: string): string => t.replace(/(nodekey|discokey):([0-9a-f]{64})/g, (_m, p: string, h: string) => `${p}:${h.toUpperCase()}`);
    fc.assert(
      fc.property(validNode, fc.boolean(), (n, upper) => {
        const t = toText(n);
        same(upper ? upperKeys(t) : t);
        // Canonical text in (what Go peers send) is kept as is; a one-character change is not.
        const canon = decodeNode(t).json;
        same(canon);
        same(canon.replace('"preferred_derp":', '"preferred_derp": '));
        same(canon.slice(0, -1) + ',"x":1}');
      }),
      { numRuns: 150 },
    );
    const field = fc.constantFrom('id', 'key', 'disco', 'as_of', 'preferred_derp', 'derp_latency', 'derp_forced_websockets', 'addresses', 'allowed_ips', 'endpoints', '__proto__', 'x');
    fc.assert(
      fc.property(fc.dictionary(field, fc.jsonValue({ maxDepth: 2 })), (o) => same(JSON.stringify(o))),
      { numRuns: 300 },
    );
    for (const t of [
      '{}',
      '{"id":-0}',
      '{"id":123456789012345678}',
      '{"id":-123456789012345678}',
      '{"id":1234567890123456789}',
      '{"id":-9223372036854775808}',
      '{"id":-9223372036854775809}',
      `{"key":"nodekey:${'aB'.repeat(32)}"}`,
      `{"key":"nodekey:${'a'.repeat(63)}"}`,
      `{"key":"nodekey:${'a'.repeat(65)}"}`,
      `{"key":"NODEKEY:${'a'.repeat(64)}"}`,
      '{"derp_latency":{"b":1,"a":2,"__proto__":3,"10":4,"9":5,"":6,"é":7,"Z":8}}',
      '{"derp_latency":{"a":1,"b":"x"}}',
      '{"derp_latency":{}}',
      '{"derp_forced_websockets":{"+5":"a","5":"b","007":"c"}}',
      '{"id":1,"id":2,"preferred_derp":3,"preferred_derp":4}',
      '{"\u0069d":5}',
      '{"endpoints":["[fe80::1%eth0]:1"]}',
      `{"id":1,"as_of":"0001-01-01T00:00:00Z","key":"nodekey:${'0'.repeat(64)}","disco":"discokey:${'0'.repeat(64)}","preferred_derp":0,"derp_latency":{"a":1,"b":2},"derp_forced_websockets":null,"addresses":null,"allowed_ips":[],"endpoints":["[fe80::1%eth0]:1"]}`,
      `{"id":1,"as_of":"0001-01-01T00:00:00Z","key":"nodekey:${'0'.repeat(64)}","disco":"discokey:${'0'.repeat(64)}","preferred_derp":0,"derp_latency":{"b":1,"a":2},"derp_forced_websockets":null,"addresses":null,"allowed_ips":[],"endpoints":null}`,
    ]) {
      same(t);
    }
  });

  it('never throws anything but CoordinatorError on arbitrary JSON objects (fuzz)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('id', 'key', 'disco', 'as_of', 'preferred_derp', 'derp_latency', 'addresses', 'endpoints', 'x'), fc.jsonValue({ maxDepth: 2 })), (o) => {
        try {
          decodeNode(JSON.stringify(o));
        } catch (e) {
          expect(e).toBeInstanceOf(CoordinatorError);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('netparse', () => {
  it('matches netip on representative prefixes and endpoints', () => {
    for (const ok of ['10.0.0.0/8', '0.0.0.0/0', 'fd7a:115c:a1e0::1/128', '::ffff:1.2.3.4/128', '::/0']) expect(isPrefixText(ok), ok).toBe(true);
    for (const bad of ['10.0.0.0/33', '10.0.0/8', '::1/129', '::1/01', '1.2.3.4', 'x/8', '01.2.3.4/8']) expect(isPrefixText(bad), bad).toBe(false);
    for (const ok of ['1.2.3.4:0', '[::1]:41641', '[fe80::1%eth0]:1', '255.255.255.255:65535']) expect(isEndpointText(ok), ok).toBe(true);
    for (const bad of ['1.2.3.4', '::1:80', '[::1]', '[::1]:99999', '1.2.3.4:-1', 'host:80']) expect(isEndpointText(bad), bad).toBe(false);
  });
});

describe('v1 outbound encoding', () => {
  it('frames a binary message whose payload is a JSON array of the NODE updates', () => {
    const a = decodeNode(nodeJson());
    const b = decodeNode(nodeJson());
    const resp = new CoordinateResponse([
      { id: 'x', kind: 'NODE', node: a, reason: 'init' },
      { id: 'y', kind: 'LOST', node: null, reason: 'lost' },
      { id: 'z', kind: 'NODE', node: b, reason: 'init' },
    ]);
    const [frame, ...rest] = encodeV1Frames(resp);
    expect(rest).toEqual([]);
    expect(frame![0]).toBe(0x82);
    const hdr = framePayloadLength(frame!) < 126 ? 2 : 4;
    expect(frame!.subarray(hdr).toString()).toBe(`[${a.json},${b.json}]`);
  });

  it('writes nothing for responses without NODE updates', () => {
    expect(encodeV1Frames(new CoordinateResponse([{ id: 'x', kind: 'DISCONNECTED', node: null, reason: '' }], 'err'))).toEqual([]);
  });

  it('a one-NODE response is the frame of "[" + json + "]" (short, 16-bit length, non-ASCII)', () => {
    const nodes = [
      decodeNode('{"id":1}'),
      decodeNode('{"derp_forced_websockets":{"1":"é ✓ \\"q\\""}}'),
      decodeNode(`{"derp_forced_websockets":{"1":"${'ü'.repeat(10000)}"}}`),
    ];
    for (const node of nodes) {
      const frames = encodeV1Frames(new CoordinateResponse([{ id: 'x', kind: 'NODE', node, reason: '' }]));
      expect(frames).toEqual([binaryFrameFromText('[' + node.json + ']')]);
    }
    expect(encodeV1Frames(new CoordinateResponse([{ id: 'x', kind: 'NODE', node: { node: decodeNode('{}').node, json: 'x'.repeat(40000) }, reason: '' }]))).toEqual([]);
  });

  it('splits large batches so every payload is at most 32 KiB', () => {
    const eps = Array.from({ length: 400 }, (_, i) => `10.0.${i >> 8}.${i & 255}:1`);
    const nodes = Array.from({ length: 10 }, () => decodeNode(nodeJson({ endpoints: eps })));
    const frames = encodeV1Frames(new CoordinateResponse(nodes.map((n) => ({ id: 'p', kind: 'NODE' as const, node: n, reason: 'init' }))));
    expect(frames.length).toBeGreaterThan(1);
    let total = 0;
    for (const f of frames) {
      const len = framePayloadLength(f);
      expect(len).toBeLessThanOrEqual(32 * 1024);
      const body = f.subarray(f.length - len).toString();
      total += (JSON.parse(body) as unknown[]).length;
    }
    expect(total).toBe(10);
  });

  it('frame headers: 7-bit and 16-bit lengths', () => {
    expect([...binaryFrameFromText('[]').subarray(0, 2)]).toEqual([0x82, 2]);
    const big = binaryFrameFromText('x'.repeat(300));
    expect([...big.subarray(0, 4)]).toEqual([0x82, 126, 1, 44]);
    expect(framePayloadLength(big)).toBe(300);
  });
});
