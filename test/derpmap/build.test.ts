import { describe, expect, it } from 'vitest';
import {
  buildDerpMap,
  DerpMapError,
  embeddedRegion,
  parseStunAddress,
  withLoopbackNodes,
  type DERPMap,
} from '../../src/derpmap/index.js';

const region = (url: string) => embeddedRegion({ accessUrl: url, regionId: 999, regionCode: 'coder', regionName: 'Coder Embedded Relay' });

describe('embedded region', () => {
  it('points at the access URL over https with the default port', () => {
    expect(region('https://coder.example.com')).toEqual({
      EmbeddedRelay: true,
      RegionID: 999,
      RegionCode: 'coder',
      RegionName: 'Coder Embedded Relay',
      Nodes: [{ Name: '999b', RegionID: 999, HostName: 'coder.example.com', STUNPort: -1, DERPPort: 443 }],
    });
  });

  it('uses ForceHTTP and port 80 for an http access URL, explicit ports and bare IPv6 hosts', () => {
    expect(region('http://coder.test').Nodes[0]).toEqual({ Name: '999b', RegionID: 999, HostName: 'coder.test', STUNPort: -1, DERPPort: 80, ForceHTTP: true });
    expect(region('http://[::1]:3000/').Nodes[0]).toMatchObject({ HostName: '::1', DERPPort: 3000, ForceHTTP: true });
    expect(embeddedRegion({ accessUrl: 'https://h:8443', regionId: 5, regionCode: 'x', regionName: 'X' }).Nodes[0]).toMatchObject({ Name: '5b', RegionID: 5, DERPPort: 8443 });
  });

  it('rejects non-http access URLs', () => {
    expect(() => region('ftp://x')).toThrow(DerpMapError);
    expect(() => region('not a url')).toThrow(/not a URL/);
  });

  it('adds loopback nodes for in-process dials', () => {
    const m = withLoopbackNodes({ Regions: { '999': region('https://c.example') } });
    expect(m.Regions['999']?.Nodes.map((n) => [n.Name, n.IPv4, n.InsecureForTests, n.ForceHTTP ?? false])).toEqual([
      ['999b', undefined, undefined, false],
      ['999bp', '127.0.0.1', true, false],
      ['999bp-http', '127.0.0.1', true, true],
    ]);
  });
});

describe('buildDerpMap (NewDERPMap semantics)', () => {
  const remote: DERPMap = {
    Regions: {
      '1': { EmbeddedRelay: false, RegionID: 1, RegionCode: 'r', RegionName: 'R', Nodes: [
        { Name: '1s', RegionID: 1, HostName: 's', STUNOnly: true },
        { Name: '1a', RegionID: 1, HostName: 'a', STUNPort: 3478 },
      ] },
    },
    omitDefaultRegions: true,
  };

  it('lists the DERP node first, then the STUN nodes in order (2023 clients dial Nodes[0] over WebSocket)', () => {
    const m = buildDerpMap({ region: region('https://c.example'), stunAddresses: ['stun.a:3478', '[2001:db8::1]:19302'], disableStun: false });
    expect(m.Regions['999']?.Nodes).toEqual([
      { Name: '999b', RegionID: 999, HostName: 'c.example', STUNPort: -1, DERPPort: 443 },
      { Name: '999stun0', RegionID: 999, HostName: 'stun.a', STUNOnly: true, STUNPort: 3478 },
      { Name: '999stun1', RegionID: 999, HostName: '2001:db8::1', STUNOnly: true, STUNPort: 19302 },
    ]);
  });

  it('merges the remote map and keeps its omitDefaultRegions', () => {
    const m = buildDerpMap({ base: remote, source: 'http://x/map.json', region: region('https://c.example'), stunAddresses: [], disableStun: false });
    expect(Object.keys(m.Regions).sort()).toEqual(['1', '999']);
    expect(m.omitDefaultRegions).toBe(true);
  });

  it('fails with Coder\'s message when the embedded region ID is taken', () => {
    const conflicting = { Regions: { '999': { ...remote.Regions['1']!, RegionID: 999 } } };
    let err: unknown;
    try {
      buildDerpMap({ base: conflicting, source: 'https://maps.example/derp.json', region: region('https://c.example'), stunAddresses: [], disableStun: false });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DerpMapError);
    expect((err as DerpMapError).code).toBe('region_conflict');
    expect((err as Error).message).toBe('the default region ID conflicts with a remote region from "https://maps.example/derp.json"');
  });

  it('disableStun drops STUN-only nodes everywhere, sets STUNPort -1 and ignores STUN addresses', () => {
    const m = buildDerpMap({ base: remote, region: region('https://c.example'), stunAddresses: ['stun.a:3478'], disableStun: true });
    expect(m.Regions['1']?.Nodes).toEqual([{ Name: '1a', RegionID: 1, HostName: 'a', STUNPort: -1 }]);
    expect(m.Regions['999']?.Nodes.map((n) => n.Name)).toEqual(['999b']);
    // the input map is not mutated
    expect(remote.Regions['1']?.Nodes).toHaveLength(2);
  });

  it('no embedded region leaves the remote map as is', () => {
    const m = buildDerpMap({ base: remote, region: null, stunAddresses: ['x:1'], disableStun: false });
    expect(m.Regions).toEqual(remote.Regions);
  });

  it('rejects malformed STUN addresses', () => {
    for (const bad of ['nohost', 'h:', 'h:99999', '::1:3478', 'h:p']) {
      expect(() => parseStunAddress(bad), bad).toThrow(/invalid STUN address/);
    }
    expect(parseStunAddress(':3478')).toEqual({ host: '', port: 3478 });
  });
});
