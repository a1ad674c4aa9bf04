import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeNode, encodeNode } from '../../src/coordinator/node.js';
import { derpMapFromProto, derpMapToProto } from '../../src/rpc/convert/derpmap.js';
import { nodeFromProto, nodeKeyFromProto, nodeKeyToProto, nodeToProto } from '../../src/rpc/convert/node.js';
import { GO_ZERO_TIME_SECONDS, rfc3339ToTimestamp, timestampToRfc3339 } from '../../src/rpc/convert/time.js';
import { uuidFromBytes, uuidToBytes } from '../../src/rpc/convert/uuid.js';
import * as tailnet from '../../src/rpc/proto/tailnet.js';

const KEY = 'nodekey:' + 'ab'.repeat(32);
const DISCO = 'discokey:' + 'cd'.repeat(32);

describe('v2 ⇄ coordinator conversions', () => {
  it('node keys are "np" + 32 bytes (34) on the proto side', () => {
    const b = nodeKeyToProto(KEY);
    expect(b.length).toBe(34);
    expect(Buffer.from(b.subarray(0, 2)).toString()).toBe('np');
    expect(nodeKeyFromProto(b)).toBe(KEY);
    expect(() => nodeKeyFromProto(b.subarray(2))).toThrow(expect.objectContaining({ code: 'bad_node_key' }));
    expect(() => nodeKeyToProto('nodekey:zz')).toThrow(expect.objectContaining({ code: 'bad_node_key' }));
  });

  it('RFC 3339 ⇄ Timestamp is exact, handles offsets and Go zero time', () => {
    expect(rfc3339ToTimestamp('0001-01-01T00:00:00Z')).toEqual({ seconds: GO_ZERO_TIME_SECONDS, nanos: 0 });
    expect(timestampToRfc3339({ seconds: GO_ZERO_TIME_SECONDS, nanos: 0 })).toBe('0001-01-01T00:00:00Z');
    expect(rfc3339ToTimestamp('2023-03-01T10:00:00.123456789+02:00')).toEqual({ seconds: Date.UTC(2023, 2, 1, 8) / 1000, nanos: 123456789 });
    expect(timestampToRfc3339({ seconds: 1700000000, nanos: 120_000_000 })).toBe('2023-11-14T22:13:20.12Z');
    expect(timestampToRfc3339(undefined)).toBe('1970-01-01T00:00:00Z');
    expect(() => rfc3339ToTimestamp('yesterday')).toThrow(expect.objectContaining({ code: 'bad_time' }));
    fc.assert(
      fc.property(fc.integer({ min: GO_ZERO_TIME_SECONDS, max: 253402300799 }), fc.integer({ min: 0, max: 999_999_999 }), (seconds, nanos) => {
        expect(rfc3339ToTimestamp(timestampToRfc3339({ seconds, nanos }))).toEqual({ seconds, nanos });
      }),
      { numRuns: 200 },
    );
  });

  it('UUIDs are 16 bytes', () => {
    const id = '3b579bf4-1ed8-4b99-87a8-e9a1e3410410';
    expect(uuidFromBytes(uuidToBytes(id))).toBe(id);
    expect(() => uuidFromBytes(new Uint8Array(15))).toThrow(expect.objectContaining({ code: 'bad_uuid' }));
  });

  it('proto Node → coordinator Node → JSON → proto keeps every field', () => {
    const p: tailnet.Node = {
      id: 0x7ffffffffffffff0n,
      asOf: { seconds: 1700000000, nanos: 1 },
      key: nodeKeyToProto(KEY),
      disco: DISCO,
      preferredDerp: 999,
      derpLatency: new Map([['999-v4', 0.012]]),
      derpForcedWebsocket: new Map([[999, 'proxy said no']]),
      addresses: ['fd7a:115c:a1e0:49d6:b259:b7ac:b1b2:48f4/128'],
      allowedIps: ['fd7a:115c:a1e0:49d6:b259:b7ac:b1b2:48f4/128'],
      endpoints: ['192.0.2.1:41641'],
    };
    const n = nodeFromProto(p);
    expect(n.key).toBe(KEY);
    expect(n.derpForcedWebsockets).toEqual({ '999': 'proxy said no' });
    const viaJson = decodeNode(encodeNode(n)).node;
    expect(nodeToProto(viaJson)).toEqual(p);
  });

  it('empty collections use Coder’s JSON spellings; bad prefixes are rejected', () => {
    const base = tailnet.Node.create({ key: nodeKeyToProto(KEY), disco: DISCO });
    const n = nodeFromProto(base);
    expect([n.derpLatency, n.derpForcedWebsockets, n.addresses, n.allowedIps, n.endpoints]).toEqual([null, {}, [], [], null]);
    expect(() => nodeFromProto({ ...base, addresses: ['not-a-prefix'] })).toThrow(expect.objectContaining({ code: 'bad_prefix' }));
    expect(() => nodeFromProto({ ...base, disco: 'discokey:00' })).toThrow(expect.objectContaining({ code: 'bad_disco_key' }));
  });

  it('DERP maps always carry home_params and round-trip', () => {
    const json = {
      Regions: {
        '999': { EmbeddedRelay: true, RegionID: 999, RegionCode: 'coder', RegionName: 'Coder', Nodes: [{ Name: '999a', RegionID: 999, HostName: 'example.com', STUNPort: -1, ForceHTTP: true }] },
      },
    };
    const p = derpMapToProto(json);
    expect(p.homeParams).toEqual({ regionScore: new Map() });
    const bytes = tailnet.DERPMap.encode(p);
    expect(bytes[0]).toBe(0x0a); // field 1 (home_params) present even when empty
    const back = derpMapFromProto(tailnet.DERPMap.decode(bytes));
    expect(back).toEqual({ ...json, HomeParams: {} });
  });
});
