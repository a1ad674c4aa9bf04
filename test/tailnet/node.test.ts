import { describe, expect, it } from 'vitest';
import { decodeNode } from '../../src/coordinator/node.js';
import { AGENT_IP, agentPeerFromNode, generateTailnetAddress, ownNode, ownNodeJson, parseIpv6, randomNodeId } from '../../src/tailnet/index.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const NODE_KEY = hex('9250a31357a9621711036e1679c1e91fe7df79ad2a99e60e28e010e3b38d9447');
const DISCO_KEY = hex('3ba4c47b01c5287ea03df34a3dee465ee0a73fa523218d0fdff926afe3891946');
const base = {
  id: 5823901293019283741n,
  nodeKey: NODE_KEY,
  discoKey: DISCO_KEY,
  preferredDerp: 999,
  address: 'fd7a:115c:a1e0:4a2b:1c3d:4e5f:6a7b:8c9d',
  asOf: new Date('2026-11-28T12:00:00.000Z'),
};

describe('own node announcement (spec §2.6)', () => {
  it('matches the spec example and round-trips through the coordinator codec with the 63-bit id intact', () => {
    const json = ownNodeJson(base);
    expect(json).toBe(
      '{"id":5823901293019283741,"as_of":"2026-11-28T12:00:00.000Z",' +
        '"key":"nodekey:9250a31357a9621711036e1679c1e91fe7df79ad2a99e60e28e010e3b38d9447",' +
        '"disco":"discokey:3ba4c47b01c5287ea03df34a3dee465ee0a73fa523218d0fdff926afe3891946",' +
        '"preferred_derp":999,"derp_latency":{},"derp_forced_websockets":null,' +
        '"addresses":["fd7a:115c:a1e0:4a2b:1c3d:4e5f:6a7b:8c9d/128"],' +
        '"allowed_ips":["fd7a:115c:a1e0:4a2b:1c3d:4e5f:6a7b:8c9d/128"],"endpoints":[]}',
    );
    const back = decodeNode(json).node;
    expect(back.id).toBe(5823901293019283741n);
    expect(back.allowedIps).toEqual(back.addresses);
  });

  it('rejects a zero disco key, preferred_derp 0, a zero node key, id 0 and bad addresses', () => {
    expect(() => ownNode({ ...base, discoKey: new Uint8Array(32) })).toThrow(/disco/);
    expect(() => ownNode({ ...base, preferredDerp: 0 })).toThrow(/preferred_derp/);
    expect(() => ownNode({ ...base, nodeKey: new Uint8Array(32) })).toThrow(/node key/);
    expect(() => ownNode({ ...base, id: 0n })).toThrow(/id/);
    expect(() => ownNode({ ...base, address: '10.0.0.1' })).toThrow(/IPv6/);
  });

  it('generates addresses inside fd7a:115c:a1e0::/48, never reserved ones', () => {
    for (let i = 0; i < 50; i++) {
      const a = parseIpv6(generateTailnetAddress());
      expect(Buffer.from(a.subarray(0, 6)).toString('hex')).toBe('fd7a115ca1e0');
    }
    // A UUID whose tail would produce the agent address is skipped.
    const uuids = ['00000000-0000-49d6-b259-b7acb1b248f4', '11111111-1111-4111-8111-111111111111'];
    expect(generateTailnetAddress(() => uuids.shift()!)).toBe('fd7a:115c:a1e0:4111:8111:1111:1111:1111');
    const seq = ['ffffffff-ffff-0b1a-8000-000000000001', 'ffffffff-ffff-efe3-8000-000000000001', 'ffffffff-ffff-4abc-8000-000000000001'];
    expect(generateTailnetAddress(() => seq.shift()!)).toBe('fd7a:115c:a1e0:4abc:8000::1');
  });

  it('random node ids are positive int64', () => {
    for (let i = 0; i < 20; i++) {
      const id = randomNodeId();
      expect(id > 0n && id < 2n ** 63n).toBe(true);
    }
  });
});

describe('agent node interpretation', () => {
  const agentJson = (over: Record<string, unknown> = {}): string =>
    JSON.stringify({
      id: 1,
      as_of: '2026-11-28T12:00:00Z',
      key: 'nodekey:' + Buffer.from(NODE_KEY).toString('hex'),
      disco: 'discokey:' + Buffer.from(DISCO_KEY).toString('hex'),
      preferred_derp: 999,
      addresses: [`${AGENT_IP}/128`],
      allowed_ips: [`${AGENT_IP}/128`],
      endpoints: ['192.0.2.1:41641'],
      ...over,
    });

  it('extracts keys, region and address', () => {
    const info = agentPeerFromNode(decodeNode(agentJson()).node)!;
    expect(info.preferredDerp).toBe(999);
    expect(Buffer.from(info.nodeKey).equals(Buffer.from(NODE_KEY))).toBe(true);
    expect(info.address).toBe(AGENT_IP);
  });

  it('ignores agent nodes until preferred_derp is set, and zero keys', () => {
    expect(agentPeerFromNode(decodeNode(agentJson({ preferred_derp: 0 })).node)).toBeNull();
    expect(agentPeerFromNode(decodeNode(agentJson({ disco: 'discokey:' + '0'.repeat(64) })).node)).toBeNull();
  });
});
