import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtoDecodeError } from '../../src/rpc/proto/errors.js';
import { Reader, Writer } from '../../src/rpc/proto/wire.js';
import * as agent from '../../src/rpc/proto/agent.js';
import * as google from '../../src/rpc/proto/google.js';
import * as tailnet from '../../src/rpc/proto/tailnet.js';
import type { MessageCodec } from '../../src/rpc/proto/schema.js';
import { hex, toHex } from './helpers.js';

const w = (fn: (w: Writer) => void): string => {
  const x = new Writer(1);
  fn(x);
  return toHex(x.finish());
};

describe('protobuf wire primitives', () => {
  it('encodes varints, negative int32/int64 and zigzag as protobuf does', () => {
    expect(w((x) => x.uint32(300))).toBe('ac02');
    expect(w((x) => x.int32(-1))).toBe('ffffffffffffffffff01');
    expect(w((x) => x.int64Number(-1))).toBe('ffffffffffffffffff01');
    expect(w((x) => x.int64(0x7fffffffffffffffn))).toBe('ffffffffffffffff7f');
    expect(w((x) => x.uint64((1n << 64n) - 1n))).toBe('ffffffffffffffffff01');
    expect(w((x) => x.int64Number(1700000000))).toBe('80e2cfaa06');
    expect(w((x) => [0, -1, 1, -2, 2147483647, -2147483648].forEach((v) => x.sint32(v)))).toBe('000102' + '03' + 'feffffff0f' + 'ffffffff0f');
    expect(w((x) => x.sint64Number(-3))).toBe('05');
  });

  it('decodes what it encodes for 64-bit values (fuzz)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }), (big, num) => {
        const x = new Writer();
        x.int64(big);
        x.int64Number(num);
        x.sint64Number(num);
        x.fixed64(big);
        const r = new Reader(x.finish());
        expect(r.int64()).toBe(big);
        expect(r.int64Number()).toBe(num);
        expect(r.sint64Number()).toBe(num);
        expect(r.sfixed64()).toBe(big);
        expect(r.done).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects varints longer than 10 bytes and truncated input with typed errors', () => {
    expect(() => new Reader(hex('ffffffffffffffffffff01')).uint64()).toThrow(expect.objectContaining({ code: 'bad_varint' }));
    expect(() => new Reader(hex('ff')).uint32()).toThrow(expect.objectContaining({ code: 'truncated' }));
    expect(() => new Reader(hex('0a05616263')).skip(2)).toThrow(ProtoDecodeError);
  });

  it('shifts nested bodies when their length needs more than one byte', () => {
    const s = 'x'.repeat(300);
    const bytes = agent.UpdateStartupRequest.encode({ startup: { version: s, expandedDirectory: '', subsystems: [] } });
    expect(toHex(bytes.subarray(0, 6))).toBe('0aaf020aac02');
    expect(agent.UpdateStartupRequest.decode(bytes).startup?.version).toBe(s);
  });
});

describe('Coder message codecs', () => {
  it('google.protobuf.Timestamp bytes and conversions', () => {
    expect(toHex(google.Timestamp.encode({ seconds: 1700000000, nanos: 5 }))).toBe('0880e2cfaa061005');
    expect(google.timestampToMillis(google.timestampFromMillis(1700000000123))).toBe(1700000000123);
    expect(google.durationFromMillis(-1500)).toEqual({ seconds: -1, nanos: -500_000_000 });
    expect(google.durationToMillis({ seconds: 30, nanos: 0 })).toBe(30_000);
  });

  it('Node id keeps all 64 bits (bigint) and key bytes', () => {
    const node = tailnet.Node.create({ id: 0x7fffffffffffffffn, key: hex('6e70' + 'ab'.repeat(32)), preferredDerp: 999 });
    const bytes = tailnet.Node.encode(node);
    expect(toHex(bytes.subarray(0, 10))).toBe('08ffffffffffffffff7f');
    const back = tailnet.Node.decode(bytes);
    expect(back.id).toBe(0x7fffffffffffffffn);
    expect(back.key.length).toBe(34);
    expect(back.preferredDerp).toBe(999);
  });

  it('maps always carry key and value (like Go), including message values', () => {
    const m: tailnet.DERPMap = { homeParams: { regionScore: new Map() }, regions: new Map([[1, tailnet.DERPRegion.create({ regionId: 1 })]]) };
    expect(toHex(tailnet.DERPMap.encode(m))).toBe('0a00' + '1206' + '0801' + '12020801');
    const back = tailnet.DERPMap.decode(hex('0a00' + '1206' + '0801' + '12020801'));
    expect(back.homeParams).toBeDefined();
    expect(back.regions.get(1)?.regionId).toBe(1);
    // A map entry missing its value decodes to the default message.
    expect(tailnet.DERPMap.decode(hex('12020807')).regions.get(7)?.nodes).toEqual([]);
  });

  it('packed repeated enums are written packed and read either way', () => {
    const st = { version: 'v2.20.0', expandedDirectory: '', subsystems: [1, 2] };
    expect(toHex(agent.Startup.encode(st))).toBe('0a0776322e32302e30' + '1a020102');
    expect(agent.Startup.decode(hex('18011802')).subsystems).toEqual([1, 2]);
  });

  it('BatchUpdateMetadataRequest uses field 2', () => {
    const b = agent.BatchUpdateMetadataRequest.encode({ metadata: [{ key: 'k' }] });
    expect(toHex(b)).toBe('12030a016b');
  });

  it('keeps unknown enum values as numbers and skips unknown fields of every wire type', () => {
    const pu = tailnet.PeerUpdate.decode(
      hex('1863' + 'f80601' + '890600000000000000ff' + '92060161' + '9b06' + '0801' + '9c06' + 'dd0601020304' + '2204' + '6c6f7374'),
    );
    expect(pu.kind).toBe(99);
    expect(pu.reason).toBe('lost');
  });

  it('reports wrong wire types, invalid UTF-8, bad groups and truncation as ProtoDecodeError', () => {
    expect(() => tailnet.Node.decode(hex('0a00'), { strict: true })).toThrow(expect.objectContaining({ code: 'wrong_wire_type' }));
    expect(() => tailnet.CoordinateResponse.decode(hex('1202c328'))).toThrow(expect.objectContaining({ code: 'invalid_utf8' }));
    expect(() => tailnet.Node.decode(hex('1a05aa'))).toThrow(expect.objectContaining({ code: 'truncated' }));
    expect(() => tailnet.Node.decode(hex('9c06'))).toThrow(expect.objectContaining({ code: 'bad_group' }));
    expect(() => tailnet.Node.decode(hex('0f'), { strict: true })).toThrow(expect.objectContaining({ code: 'wrong_wire_type' }));
    expect(() => tailnet.Node.decode(hex('0f'))).toThrow(expect.objectContaining({ code: 'bad_wire_type' }));
    expect(() => tailnet.Node.decode(hex('7f'))).toThrow(expect.objectContaining({ code: 'bad_wire_type' }));
    expect(() => tailnet.Node.decode(hex('00'))).toThrow(expect.objectContaining({ code: 'bad_field_number' }));
  });

  it('skips a known field sent with another wire type, as protobuf-go does (unless strict)', () => {
    // id (field 1, varint) sent length-delimited, then preferred_derp = 7.
    const n = tailnet.Node.decode(hex('0a02aabb' + '2807'));
    expect(n.id).toBe(0n);
    expect(n.preferredDerp).toBe(7);
    // A map entry whose value has the wrong wire type keeps the default value.
    expect(agent.Manifest.decode(hex('1a05' + '0a0141' + '1001')).environmentVariables.get('A')).toBe('');
  });

  it('round-trips a full Manifest', () => {
    const manifest = agent.Manifest.create({
      agentId: new Uint8Array(16).fill(1),
      agentName: 'main',
      ownerUsername: 'alice',
      workspaceId: new Uint8Array(16).fill(2),
      workspaceName: 'ws',
      gitAuthConfigs: 2,
      environmentVariables: new Map([['A', 'b']]),
      directory: '/home/coder',
      derpMap: { homeParams: { regionScore: new Map([[1, 0.5]]) }, regions: new Map([[999, tailnet.DERPRegion.create({ regionId: 999, regionCode: 'coder', nodes: [tailnet.DERPNode.create({ name: '999a', regionId: 999, hostName: 'h', stunPort: -1, derpPort: 443 })] })]]) },
      apps: [agent.WorkspaceApp.create({ id: new Uint8Array(16).fill(3), slug: 'code', sharingLevel: agent.SharingLevel.OWNER, health: agent.AppHealth.DISABLED, healthcheck: { url: '', threshold: 0 } })],
      scripts: [agent.WorkspaceAgentScript.create({ logSourceId: new Uint8Array(16), script: 'echo hi', runOnStart: true, timeout: { seconds: 60, nanos: 0 } })],
      metadata: [agent.MetadataDescription.create({ key: 'cpu', interval: { seconds: 10, nanos: 0 } })],
      parentId: new Uint8Array(16).fill(9),
    });
    const back = agent.Manifest.decode(agent.Manifest.encode(manifest));
    expect(back).toEqual(manifest);
    expect(back.derpMap?.regions.get(999)?.nodes[0]?.stunPort).toBe(-1);
  });

  it('proto3 optional fields distinguish absent from empty', () => {
    expect(agent.Connection.decode(agent.Connection.encode(agent.Connection.create({ reason: '' }))).reason).toBe('');
    expect(agent.Connection.decode(new Uint8Array(0)).reason).toBeUndefined();
  });

  const codecs: MessageCodec<unknown>[] = [
    tailnet.CoordinateRequest, tailnet.CoordinateResponse, tailnet.DERPMap, tailnet.TelemetryRequest, tailnet.RefreshResumeTokenResponse, tailnet.WorkspaceUpdate,
    agent.Manifest, agent.UpdateStatsRequest, agent.UpdateLifecycleRequest, agent.BatchCreateLogsRequest, agent.BatchUpdateMetadataRequest,
    agent.BatchUpdateAppHealthRequest, agent.UpdateStartupRequest, agent.WorkspaceAgentScriptCompletedRequest, agent.PushResourcesMonitoringUsageRequest, agent.ReportConnectionRequest,
  ] as MessageCodec<unknown>[];

  it('decoders throw only ProtoDecodeError on arbitrary bytes (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (b) => {
        for (const c of codecs) {
          try {
            c.decode(b);
          } catch (e) {
            expect(e).toBeInstanceOf(ProtoDecodeError);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('CoordinateRequest round-trips arbitrary content (fuzz)', () => {
    const uuid = fc.uint8Array({ minLength: 16, maxLength: 16 });
    const node = fc.record({
      id: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
      key: fc.uint8Array({ maxLength: 34 }),
      disco: fc.string(),
      preferredDerp: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      derpLatency: fc.array(fc.tuple(fc.string(), fc.double({ noNaN: true })), { maxLength: 3 }).map((e) => new Map(e)),
      derpForcedWebsocket: fc.array(fc.tuple(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.string()), { maxLength: 3 }).map((e) => new Map(e)),
      addresses: fc.array(fc.string(), { maxLength: 3 }),
      allowedIps: fc.array(fc.string(), { maxLength: 3 }),
      endpoints: fc.array(fc.string(), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(node, uuid, fc.array(uuid, { maxLength: 3 }), (n, t, rfh) => {
        const req: tailnet.CoordinateRequest = { updateSelf: { node: n }, addTunnel: { id: t }, readyForHandshake: rfh.map((id) => ({ id })) };
        const back = tailnet.CoordinateRequest.decode(tailnet.CoordinateRequest.encode(req));
        expect(back).toEqual({ ...req, disconnect: undefined, removeTunnel: undefined });
      }),
      { numRuns: 100 },
    );
  });
});
