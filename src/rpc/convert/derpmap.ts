/**
 * tailcfg.DERPMap JSON (src/derpmap types) ⇄ coder.tailnet.v2.DERPMap.
 * home_params is always present on the proto side: Go's DERPMapFromProto
 * dereferences it unconditionally.
 */
import type { DERPMap as JsonDERPMap, DERPNode as JsonNode, DERPRegion as JsonRegion } from '../../derpmap/types.js';
import type { DERPMap, DERPNode, DERPRegion } from '../proto/tailnet.js';

function nodeToProto(n: JsonNode): DERPNode {
  return {
    name: n.Name,
    regionId: n.RegionID,
    hostName: n.HostName,
    certName: n.CertName ?? '',
    ipv4: n.IPv4 ?? '',
    ipv6: n.IPv6 ?? '',
    stunPort: n.STUNPort ?? 0,
    stunOnly: n.STUNOnly ?? false,
    derpPort: n.DERPPort ?? 0,
    insecureForTests: n.InsecureForTests ?? false,
    forceHttp: n.ForceHTTP ?? false,
    stunTestIp: n.STUNTestIP ?? '',
    canPort80: n.CanPort80 ?? false,
  };
}

function regionToProto(r: JsonRegion): DERPRegion {
  return {
    regionId: r.RegionID,
    embeddedRelay: r.EmbeddedRelay,
    regionCode: r.RegionCode,
    regionName: r.RegionName,
    avoid: r.Avoid ?? false,
    nodes: (r.Nodes ?? []).map(nodeToProto),
  };
}

export function derpMapToProto(m: JsonDERPMap): DERPMap {
  const regionScore = new Map<number, number>();
  for (const [k, v] of Object.entries(m.HomeParams?.RegionScore ?? {})) regionScore.set(Number(k), v);
  const regions = new Map<number, DERPRegion>();
  for (const [k, r] of Object.entries(m.Regions ?? {})) {
    if (r) regions.set(Number(k), regionToProto(r)); // never an absent value in the map
  }
  return { homeParams: { regionScore }, regions };
}

function nodeFromProto(n: DERPNode): JsonNode {
  const out: JsonNode = { Name: n.name, RegionID: n.regionId, HostName: n.hostName };
  if (n.certName) out.CertName = n.certName;
  if (n.ipv4) out.IPv4 = n.ipv4;
  if (n.ipv6) out.IPv6 = n.ipv6;
  if (n.stunPort) out.STUNPort = n.stunPort;
  if (n.stunOnly) out.STUNOnly = true;
  if (n.derpPort) out.DERPPort = n.derpPort;
  if (n.insecureForTests) out.InsecureForTests = true;
  if (n.forceHttp) out.ForceHTTP = true;
  if (n.stunTestIp) out.STUNTestIP = n.stunTestIp;
  if (n.canPort80) out.CanPort80 = true;
  return out;
}

export function derpMapFromProto(p: DERPMap): JsonDERPMap {
  const Regions: Record<string, JsonRegion> = {};
  for (const [id, r] of p.regions) {
    const region: JsonRegion = { EmbeddedRelay: r.embeddedRelay, RegionID: r.regionId, RegionCode: r.regionCode, RegionName: r.regionName, Nodes: r.nodes.map(nodeFromProto) };
    if (r.avoid) region.Avoid = true;
    Regions[String(id)] = region;
  }
  const out: JsonDERPMap = { Regions };
  const score = p.homeParams?.regionScore;
  out.HomeParams = score && score.size > 0 ? { RegionScore: Object.fromEntries([...score].map(([k, v]) => [String(k), v])) } : {};
  return out;
}
