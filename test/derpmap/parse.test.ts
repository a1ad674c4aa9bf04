import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkDerpMap, encodeDerpMap, parseDerpMapJson, parseDerpMapValue, toGoShape } from '../../src/derpmap/index.js';

const tailscaleStyle = {
  Regions: {
    '1': {
      RegionID: 1,
      RegionCode: 'nyc',
      RegionName: 'New York City',
      Nodes: [
        { Name: '1a', RegionID: 1, HostName: 'derp1.example.com', IPv4: '192.0.2.1', IPv6: '2001:db8::1', CanPort80: true },
      ],
    },
  },
};

describe('DERP map decoding', () => {
  it('decodes a Go-cased map and re-encodes it with Go casing and omitempty', () => {
    const r = parseDerpMapValue(tailscaleStyle);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const json = encodeDerpMap(r.map);
    expect(json).toBe(
      '{"Regions":{"1":{"EmbeddedRelay":false,"RegionID":1,"RegionCode":"nyc","RegionName":"New York City","Nodes":[' +
        '{"Name":"1a","RegionID":1,"HostName":"derp1.example.com","IPv4":"192.0.2.1","IPv6":"2001:db8::1","CanPort80":true}]}}}',
    );
  });

  it('accepts lower-case and mixed-case field names like Go encoding/json', () => {
    const r = parseDerpMapJson(
      JSON.stringify({
        regions: {
          '7': {
            embeddedrelay: true,
            regionid: 7,
            regionCode: 'x',
            REGIONNAME: 'X',
            avoid: true,
            nodes: [{ name: '7a', regionId: 7, hostname: 'h', derpport: 8443, stunport: -1, stunonly: false, forcehttp: true, insecurefortests: true, stuntestip: '1.2.3.4', certname: 'c' }],
          },
        },
        homeParams: { regionScore: { '7': 1.5 } },
        OmitDefaultRegions: true,
        unknownField: 'ignored',
      }),
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(toGoShape(r.map)).toEqual({
      HomeParams: { RegionScore: { '7': 1.5 } },
      Regions: {
        '7': {
          EmbeddedRelay: true,
          RegionID: 7,
          RegionCode: 'x',
          RegionName: 'X',
          Avoid: true,
          Nodes: [
            { Name: '7a', RegionID: 7, HostName: 'h', CertName: 'c', STUNPort: -1, DERPPort: 8443, InsecureForTests: true, ForceHTTP: true, STUNTestIP: '1.2.3.4' },
          ],
        },
      },
      omitDefaultRegions: true,
    });
    // Go field order: Avoid sits between RegionName and Nodes.
    expect(Object.keys(toGoShape(r.map).Regions['7'] ?? {})).toEqual(['EmbeddedRelay', 'RegionID', 'RegionCode', 'RegionName', 'Avoid', 'Nodes']);
  });

  it('lets the last spelling of a field win and treats null as absent', () => {
    const r = parseDerpMapJson('{"Regions":{"1":{"RegionID":5,"regionid":1,"RegionCode":null,"Nodes":null}}}');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.map.Regions['1']).toMatchObject({ RegionID: 1, RegionCode: '', Nodes: [] });
  });

  it('rejects wrong types, fractional integers and non-integer region keys with paths', () => {
    const bad = parseDerpMapValue({
      Regions: { abc: { RegionID: 1, Nodes: [] }, '2': { RegionID: 2.5, Nodes: [{ Name: 1 }, null] } },
    });
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    const text = bad.errors.join('\n');
    expect(text).toContain('decimal integer');
    expect(text).toMatch(/Regions\["2"\]\.RegionID/);
    expect(text).toMatch(/Regions\["2"\]\.Nodes\[0\]\.Name/);
    expect(text).toMatch(/Regions\["2"\]\.Nodes\[1\]/);
  });

  it('rejects non-objects and invalid JSON', () => {
    expect(parseDerpMapJson('[]').ok).toBe(false);
    expect(parseDerpMapJson('null').ok).toBe(false);
    const r = parseDerpMapJson('{"Regions":');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]).toMatch(/^invalid JSON/);
  });

  it('normalises region keys the way Go prints ints', () => {
    const r = parseDerpMapValue({ Regions: { '+010': { RegionID: 10, RegionCode: 'a', Nodes: [{ Name: 'a', RegionID: 10, HostName: 'h' }] } } });
    expect(r.ok && Object.keys(r.map.Regions)).toEqual(['10']);
  });

  it('never throws on arbitrary JSON and round-trips what it accepts', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const r = parseDerpMapValue(v);
        if (r.ok) {
          const again = parseDerpMapJson(encodeDerpMap(r.map));
          expect(again.ok && encodeDerpMap(again.map)).toBe(encodeDerpMap(r.map));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('DERP map semantic checks', () => {
  it('reports mismatched IDs, empty names, bad ports and missing hosts as errors', () => {
    const r = parseDerpMapValue({
      Regions: {
        '1': {
          RegionID: 2,
          RegionCode: 'a',
          Nodes: [
            { Name: '', RegionID: 1, HostName: 'h' },
            { Name: 'n', RegionID: 3, HostName: '', DERPPort: 70000, STUNPort: -2 },
          ],
        },
      },
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const { errors } = checkDerpMap(r.map);
    expect(errors).toEqual(
      expect.arrayContaining([
        'Regions["1"].RegionID: 2 does not match its map key 1',
        'Regions["1"].Nodes[0].Name: empty',
        'Regions["1"].Nodes[1].RegionID: 3 differs from its region\'s 2',
        'Regions["1"].Nodes[1]: needs HostName, IPv4 or IPv6',
        'Regions["1"].Nodes[1].DERPPort: 70000 out of range 0..65535',
        'Regions["1"].Nodes[1].STUNPort: -2 must be -1 or 0..65535',
      ]),
    );
  });

  it('warns on STUN-only regions and an empty map is an error', () => {
    expect(checkDerpMap({ Regions: {} }).errors).toEqual(['Regions: the map has no regions']);
    const c = checkDerpMap({
      Regions: { '1': { EmbeddedRelay: false, RegionID: 1, RegionCode: 'a', RegionName: 'A', Nodes: [{ Name: 's', RegionID: 1, HostName: 'h', STUNOnly: true }] } },
    });
    expect(c.errors).toEqual([]);
    expect(c.warnings.join()).toContain('only STUN nodes');
  });
});
