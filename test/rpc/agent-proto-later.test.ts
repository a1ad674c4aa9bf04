/**
 * Codecs of the Agent API messages after 2.4 (agent/proto/agent.proto): sub-agents, app
 * status, boundary logs, context state, and google.protobuf.Struct. Hand-assembled byte
 * vectors pin the field numbers and wire types; round trips (fuzzed) pin the mapping.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as ap from '../../src/rpc/proto/agent.js';
import { jsonToStruct, structToJson, Struct, Value, type JsonValue } from '../../src/rpc/proto/google.js';
import { hex, toHex } from './helpers.js';

const id16 = new Uint8Array(16).map((_, i) => i + 1);
const idHex = toHex(id16);

describe('agent proto: messages of API 2.6–2.10', () => {
  it('UpdateAppStatusRequest: slug 1, state 2 (enum), message 3, uri 4', () => {
    const m: ap.UpdateAppStatusRequest = { slug: 'x', state: ap.AppStatusState.COMPLETE, message: 'm', uri: 'u' };
    expect(toHex(ap.UpdateAppStatusRequest.encode(m))).toBe('0a0178' + '1002' + '1a016d' + '220175');
    expect(ap.UpdateAppStatusRequest.decode(hex('0a0178' + '1002' + '1a016d' + '220175'))).toEqual(m);
    // WORKING (0) is the default and not written.
    expect(toHex(ap.UpdateAppStatusRequest.encode({ ...m, state: ap.AppStatusState.WORKING }))).toBe('0a0178' + '1a016d' + '220175');
  });

  it('CreateSubAgentRequest: packed display_apps 6, optional id 7, nested App with optional fields', () => {
    const req: ap.CreateSubAgentRequest = {
      name: 'n', directory: '', architecture: '', operatingSystem: '', apps: [], displayApps: [ap.DisplayApp.WEB_TERMINAL, ap.DisplayApp.PORT_FORWARDING_HELPER], id: id16,
    };
    const bytes = '0a016e' + '32020204' + '3a10' + idHex;
    expect(toHex(ap.CreateSubAgentRequest.encode(req))).toBe(bytes);
    expect(ap.CreateSubAgentRequest.decode(hex(bytes))).toEqual(req);
    // Unpacked encoding (older writers) decodes the same.
    expect(ap.CreateSubAgentRequest.decode(hex('0a016e' + '3002' + '3004')).displayApps).toEqual([2, 4]);
    // App: slug 1; share 11 set to OWNER (0) is still written because it is proto3 `optional`.
    const app: ap.SubAgentApp = { slug: 's', share: ap.SubAgentAppShare.OWNER, healthcheck: { interval: 5, threshold: 0, url: 'h' } };
    expect(toHex(ap.SubAgentApp.encode(app))).toBe('0a0173' + '3205' + '0805' + '1a0168' + '5800');
    expect(ap.SubAgentApp.decode(ap.SubAgentApp.encode(app))).toEqual(app);
    expect(ap.SubAgentApp.decode(hex('0a0173')).share).toBeUndefined();
  });

  it('CreateSubAgentResponse / ListSubAgentsResponse / DeleteSubAgentRequest', () => {
    const res: ap.CreateSubAgentResponse = {
      agent: { name: 'a', id: id16, authToken: id16 },
      appCreationErrors: [{ index: 1, field: 'slug', error: 'e' }, { index: 0, error: 'x' }],
    };
    const agentHex = '0a0161' + '1210' + idHex + '1a10' + idHex;
    const bytes = '0a' + (agentHex.length / 2).toString(16) + agentHex + '12' + '0b' + '0801' + '1204736c7567' + '1a0165' + '12' + '03' + '1a0178';
    expect(toHex(ap.CreateSubAgentResponse.encode(res))).toBe(bytes);
    expect(ap.CreateSubAgentResponse.decode(hex(bytes))).toEqual(res);
    const list: ap.ListSubAgentsResponse = { agents: [res.agent!, { name: 'b', id: id16, authToken: new Uint8Array(16) }] };
    expect(ap.ListSubAgentsResponse.decode(ap.ListSubAgentsResponse.encode(list))).toEqual(list);
    expect(toHex(ap.DeleteSubAgentRequest.encode({ id: id16 }))).toBe('0a10' + idHex);
  });

  it('ReportBoundaryLogsRequest: logs 1 {allowed 1, time 2, http_request 3, sequence_number 4}, session_id 2, process 3', () => {
    const req: ap.ReportBoundaryLogsRequest = {
      logs: [{ allowed: true, time: { seconds: 1, nanos: 0 }, httpRequest: { method: 'GET', url: 'u', matchedRule: '' }, sequenceNumber: 7 }],
      sessionId: 's',
      confinedProcessName: 'p',
    };
    const log = '0801' + '12020801' + '1a08' + '0a03474554' + '120175' + '2007';
    const bytes = '0a' + (log.length / 2).toString(16).padStart(2, '0') + log + '120173' + '1a0170';
    expect(toHex(ap.ReportBoundaryLogsRequest.encode(req))).toBe(bytes);
    expect(ap.ReportBoundaryLogsRequest.decode(hex(bytes))).toEqual(req);
  });

  it('PushContextStateRequest: version 1 (uint64), hash 2, resources 3, initial 4, snapshot_error 6; field 5 skipped', () => {
    const req: ap.PushContextStateRequest = { version: 300n, aggregateHash: hex('ab'), resources: [], initial: true, snapshotError: 'e' };
    const bytes = '08ac02' + '1201ab' + '2001' + '320165';
    expect(toHex(ap.PushContextStateRequest.encode(req))).toBe(bytes);
    expect(ap.PushContextStateRequest.decode(hex(bytes))).toEqual(req);
    // The reserved field 5 (pre-release schema_version) from an old writer is ignored.
    expect(ap.PushContextStateRequest.decode(hex(bytes + '2803'))).toEqual(req);
    expect(ap.PushContextStateRequest.decode(hex('08ffffffffffffffffff01')).version).toBe((1n << 64n) - 1n);
    expect(toHex(ap.PushContextStateResponse.encode({ accepted: true }))).toBe('0801');
  });

  it('ContextResource: the body oneof uses fields 10–13', () => {
    const r: ap.ContextResource = { source: 'a', contentHash: new Uint8Array(0), sizeBytes: 2n, status: ap.ContextResourceStatus.OK, error: '', instructionFile: { content: hex('6869') } };
    expect(toHex(ap.ContextResource.encode(r))).toBe('0a0161' + '2002' + '2801' + '5204' + '0a026869');
    expect(ap.ContextResource.decode(ap.ContextResource.encode(r))).toEqual(r);
    const skill = ap.ContextResource.encode({ ...r, instructionFile: undefined, skill: { meta: new Uint8Array(0), name: 'n', description: '' } });
    expect(toHex(skill).endsWith('5a03' + '12016e')).toBe(true);
    const cfg = ap.ContextResource.encode({ ...r, instructionFile: undefined, mcpConfig: {} });
    expect(toHex(cfg).endsWith('6200')).toBe(true);
    expect(ap.ContextResource.decode(cfg).mcpConfig).toEqual({});
    const srv: ap.ContextResource = {
      ...r, instructionFile: undefined, sourcePath: '/p',
      mcpServer: { serverName: 's', description: 'd', tools: [{ name: 't', description: '', inputSchema: jsonToStruct({ a: 1 }) }] },
    };
    expect(ap.ContextResource.decode(ap.ContextResource.encode(srv))).toEqual(srv);
    expect(toHex(ap.ContextResource.encode(srv))).toContain('12022f70'); // source_path 2
  });

  it('round-trips random push requests (fuzz)', () => {
    const res = fc.record({
      source: fc.string(),
      sourcePath: fc.option(fc.string(), { nil: undefined }),
      contentHash: fc.uint8Array({ maxLength: 40 }),
      sizeBytes: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      status: fc.integer({ min: 0, max: 5 }),
      error: fc.string(),
      instructionFile: fc.record({ content: fc.uint8Array({ maxLength: 50 }) }),
    });
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.uint8Array({ maxLength: 64 }), fc.array(res, { maxLength: 4 }), fc.boolean(), fc.string(), (version, aggregateHash, resources, initial, snapshotError) => {
        const req: ap.PushContextStateRequest = { version, aggregateHash, resources: resources.map((r) => (r.sourcePath === undefined ? (({ sourcePath: _s, ...rest }) => rest)(r) : r)), initial, snapshotError };
        expect(ap.PushContextStateRequest.decode(ap.PushContextStateRequest.encode(req))).toEqual(req);
      }),
      { numRuns: 100 },
    );
  });
});

describe('google.protobuf.Struct', () => {
  it('encodes a map<string, Value> with the kind oneof (number_value is field 2, a double)', () => {
    const bytes = '0a0e' + '0a0161' + '1209' + '11' + '000000000000f03f';
    expect(toHex(Struct.encode(jsonToStruct({ a: 1 })))).toBe(bytes);
    expect(structToJson(Struct.decode(hex(bytes)))).toEqual({ a: 1 });
    // null_value (1) is written even though it is 0: it is a oneof member.
    expect(toHex(Value.encode({ nullValue: 0 }))).toBe('0800');
    expect(toHex(Value.encode({ boolValue: false }))).toBe('2000');
    expect(structToJson(Struct.decode(hex('0a07' + '0a016b' + '12020800')))).toEqual({ k: null });
  });

  it('keeps a "__proto__" key as an own property, not the prototype', () => {
    const s: Struct = { fields: new Map([['__proto__', { structValue: { fields: new Map([['polluted', { boolValue: true }]]) } }]]) };
    const o = structToJson(Struct.decode(Struct.encode(s)));
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    expect(Object.keys(o)).toEqual(['__proto__']);
    expect(JSON.stringify(o)).toBe('{"__proto__":{"polluted":true}}');
    expect((o as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it('maps JSON both ways (fuzz)', () => {
    const json = fc.jsonValue({ maxDepth: 3 }).filter((v) => typeof v === 'object' && v !== null && !Array.isArray(v)) as fc.Arbitrary<{ [k: string]: JsonValue }>;
    fc.assert(
      fc.property(json, (o) => {
        // JSON numbers only (protojson has no -0 distinction worth keeping).
        const norm = JSON.parse(JSON.stringify(o)) as { [k: string]: JsonValue };
        expect(JSON.stringify(structToJson(Struct.decode(Struct.encode(jsonToStruct(norm)))))).toBe(JSON.stringify(norm));
      }),
      { numRuns: 100 },
    );
  });
});
