/**
 * Semantic checks on a decoded map. Go accepts anything that decodes; these
 * catch what would break or confuse Go clients (mismatched IDs, bad ports,
 * a region nobody can relay through).
 */
import type { DERPMap, DerpMapCheck } from './types.js';

const validPort = (p: number): boolean => p >= 0 && p <= 65535;

export function checkDerpMap(map: DERPMap): DerpMapCheck {
  const errors: string[] = [];
  const warnings: string[] = [];
  const regionKeys = Object.keys(map.Regions);
  if (regionKeys.length === 0) errors.push('Regions: the map has no regions');
  const nodeNames = new Map<string, string>();
  for (const key of regionKeys) {
    const r = map.Regions[key];
    if (r === undefined) continue;
    const at = `Regions["${key}"]`;
    if (r.RegionID !== Number(key)) {
      errors.push(`${at}.RegionID: ${r.RegionID} does not match its map key ${key}`);
    }
    if (r.RegionID <= 0) errors.push(`${at}.RegionID: must be positive`);
    if (r.RegionCode === '') warnings.push(`${at}.RegionCode: empty`);
    if (r.Nodes.length === 0) warnings.push(`${at}.Nodes: region has no nodes`);
    else if (r.Nodes.every((n) => n.STUNOnly === true)) {
      warnings.push(`${at}.Nodes: only STUN nodes, no DERP relay in this region`);
    }
    r.Nodes.forEach((n, i) => {
      const nat = `${at}.Nodes[${i}]`;
      if (n.Name === '') errors.push(`${nat}.Name: empty`);
      else {
        const prev = nodeNames.get(n.Name);
        if (prev !== undefined) warnings.push(`${nat}.Name: "${n.Name}" already used by ${prev}`);
        else nodeNames.set(n.Name, nat);
      }
      if (n.RegionID !== r.RegionID) {
        errors.push(`${nat}.RegionID: ${n.RegionID} differs from its region's ${r.RegionID}`);
      }
      if (n.HostName === '' && !n.IPv4 && !n.IPv6) {
        errors.push(`${nat}: needs HostName, IPv4 or IPv6`);
      }
      if (n.DERPPort !== undefined && !validPort(n.DERPPort)) {
        errors.push(`${nat}.DERPPort: ${n.DERPPort} out of range 0..65535`);
      }
      if (n.STUNPort !== undefined && n.STUNPort !== -1 && !validPort(n.STUNPort)) {
        errors.push(`${nat}.STUNPort: ${n.STUNPort} must be -1 or 0..65535`);
      }
      if (n.STUNOnly === true && n.STUNPort === -1) {
        warnings.push(`${nat}: STUN-only node with STUN disabled is useless`);
      }
      if (n.InsecureForTests === true) warnings.push(`${nat}.InsecureForTests: TLS verification is off`);
    });
  }
  const scores = map.HomeParams?.RegionScore ?? {};
  for (const [k, v] of Object.entries(scores)) {
    if (!(k in map.Regions)) warnings.push(`HomeParams.RegionScore["${k}"]: no such region`);
    if (!(v > 0)) warnings.push(`HomeParams.RegionScore["${k}"]: ${v} is ignored by clients (must be > 0)`);
  }
  return { errors, warnings };
}
