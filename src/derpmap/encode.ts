/**
 * Go-shaped output: fields in Go struct order, `omitempty` fields dropped
 * when zero, `EmbeddedRelay`/`Nodes` always present. `encodeDerpMap` is also
 * the canonical form used to detect changes.
 */
import type { DERPMap, DERPNode, DERPRegion } from './types.js';

function nodeOut(n: DERPNode): DERPNode {
  const o: DERPNode = { Name: n.Name, RegionID: n.RegionID, HostName: n.HostName };
  if (n.CertName) o.CertName = n.CertName;
  if (n.IPv4) o.IPv4 = n.IPv4;
  if (n.IPv6) o.IPv6 = n.IPv6;
  if (n.STUNPort) o.STUNPort = n.STUNPort;
  if (n.STUNOnly) o.STUNOnly = true;
  if (n.DERPPort) o.DERPPort = n.DERPPort;
  if (n.InsecureForTests) o.InsecureForTests = true;
  if (n.ForceHTTP) o.ForceHTTP = true;
  if (n.STUNTestIP) o.STUNTestIP = n.STUNTestIP;
  if (n.CanPort80) o.CanPort80 = true;
  return o;
}

function regionOut(r: DERPRegion): DERPRegion {
  const o: DERPRegion = {
    EmbeddedRelay: r.EmbeddedRelay,
    RegionID: r.RegionID,
    RegionCode: r.RegionCode,
    RegionName: r.RegionName,
    Nodes: [],
  };
  if (r.Avoid) {
    // Re-insert Nodes after Avoid to keep Go's field order.
    delete (o as Partial<DERPRegion>).Nodes;
    o.Avoid = true;
  }
  o.Nodes = r.Nodes.map(nodeOut);
  return o;
}

/** Returns a new map in Go wire shape (safe to JSON.stringify). */
export function toGoShape(map: DERPMap): DERPMap {
  const out: Partial<DERPMap> = {};
  const scores = map.HomeParams?.RegionScore;
  if (map.HomeParams) {
    out.HomeParams = scores && Object.keys(scores).length > 0 ? { RegionScore: { ...scores } } : {};
  }
  const regions: Record<string, DERPRegion> = {};
  for (const id of Object.keys(map.Regions).sort((a, b) => Number(a) - Number(b))) {
    const r = map.Regions[id];
    if (r) regions[id] = regionOut(r);
  }
  out.Regions = regions;
  if (map.omitDefaultRegions) out.omitDefaultRegions = true;
  return out as DERPMap;
}

/** JSON text as Go would marshal it (modulo map-key order, which JSON ignores). */
export function encodeDerpMap(map: DERPMap): string {
  return JSON.stringify(toGoShape(map));
}

/** Deep copy (maps are small; JSON round trip is the simplest exact copy). */
export function cloneDerpMap(map: DERPMap): DERPMap {
  return JSON.parse(JSON.stringify(map)) as DERPMap;
}
