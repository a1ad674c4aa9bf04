/** Coordinate authorization rules (tailnet-v2.md §3.3, §3.5.2) and the IPv6 parser behind them. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { agentAddresses, authorizeRequest, ipv6Bytes } from '../../src/coordinator/v2/auth.js';
import { idBytes, protoNode, v6Text } from './fixtures.js';

const agent = '8c1a9d2e-5f3b-4a7c-9e6d-0b1c2d3e4f50';
const req = (r: Record<string, unknown>) => ({ readyForHandshake: [], ...r });

describe('v2 authorization', () => {
  it('ipv6Bytes agrees with the WHATWG URL parser on every address spelling', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        const full = v6Text(b);
        const compressed = new URL(`http://[${full}]/`).hostname.slice(1, -1);
        expect(Buffer.from(ipv6Bytes(full)!).equals(Buffer.from(b))).toBe(true);
        expect(Buffer.from(ipv6Bytes(compressed)!).equals(Buffer.from(b))).toBe(true);
      }),
      { numRuns: 200 },
    );
    expect(ipv6Bytes('::ffff:192.0.2.1')).toEqual(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1]));
    expect(ipv6Bytes('192.0.2.1')).toBeNull();
    expect(ipv6Bytes('nonsense')).toBeNull();
  });

  it('agent addresses are the service prefixes followed by UUID bytes 6..15', () => {
    const [ts, coder] = agentAddresses(agent);
    expect(v6Text(ts!)).toBe('fd7a:115c:a1e0:4a7c:9e6d:b1c:2d3e:4f50');
    expect(v6Text(coder!)).toBe('fd60:627a:a42b:4a7c:9e6d:b1c:2d3e:4f50');
  });

  it('agents: no tunnels, /128 at a derived address (either prefix)', () => {
    const a = { kind: 'agent', agentId: agent } as const;
    expect(authorizeRequest(a, req({ addTunnel: { id: idBytes(agent) } }))).toBe('agents cannot open tunnels');
    expect(authorizeRequest(a, req({ removeTunnel: { id: idBytes(agent) } }))).toBe('agents cannot open tunnels');
    expect(authorizeRequest(a, req({ updateSelf: { node: protoNode({ address: 'fd60:627a:a42b:4a7c:9e6d:b1c:2d3e:4f50/128' }) } }))).toBeNull();
    expect(authorizeRequest(a, req({ updateSelf: { node: protoNode({ address: 'fd7a:115c:a1e0:4a7c:9e6d:b1c:2d3e:4f50/128' }) } }))).toBeNull();
    expect(authorizeRequest(a, req({ updateSelf: { node: protoNode({ address: 'fd7a:115c:a1e0:4a7c:9e6d:b1c:2d3e:4f51/128' }) } }))).toBe(
      'invalid node address, got fd7a:115c:a1e0:4a7c:9e6d:b1c:2d3e:4f51/128',
    );
    expect(authorizeRequest(a, req({ updateSelf: { node: protoNode({ address: '10.0.0.1/32' }) } }))).toBe('invalid address bits, expected 128, got 32');
    expect(authorizeRequest(a, req({ readyForHandshake: [{ id: idBytes(agent) }], disconnect: {} }))).toBeNull();
  });

  it('clients: tunnels only to their agent, no ready_for_handshake, any /128', () => {
    const c = { kind: 'client', agentId: agent } as const;
    expect(authorizeRequest(c, req({ addTunnel: { id: idBytes(agent) }, updateSelf: { node: protoNode() } }))).toBeNull();
    const other = 'ffffffff-0000-4000-8000-000000000001';
    expect(authorizeRequest(c, req({ addTunnel: { id: idBytes(other) } }))).toBe(`invalid agent id, expected ${agent}, got ${other}`);
    expect(authorizeRequest(c, req({ removeTunnel: { id: new Uint8Array(4) } }))).toBe(`invalid agent id, expected ${agent}, got 4 bytes`);
    expect(authorizeRequest(c, req({ readyForHandshake: [{ id: idBytes(agent) }] }))).toBe('clients may not send ready_for_handshake');
    expect(authorizeRequest(c, req({ updateSelf: { node: protoNode({ address: 'fd7a:115c:a1e0::/48' }) } }))).toBe('invalid address bits, expected 128, got 48');
  });
});
