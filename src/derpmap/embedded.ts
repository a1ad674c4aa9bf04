/**
 * The embedded relay region (Coder `cli/server.go`): one DERP node at the
 * access URL, STUN disabled on it, ForceHTTP for http:// access URLs.
 * Plus the loopback clone coderd uses to reach its own relay.
 */
import { DerpMapError } from './errors.js';
import type { DERPMap, DERPNode, DERPRegion } from './types.js';

export interface EmbeddedRegionOptions {
  accessUrl: string | URL;
  regionId: number;
  regionCode: string;
  regionName: string;
}

export function embeddedRegion(o: EmbeddedRegionOptions): DERPRegion {
  let u: URL;
  try {
    u = typeof o.accessUrl === 'string' ? new URL(o.accessUrl) : o.accessUrl;
  } catch {
    throw new DerpMapError('bad_access_url', `access URL ${JSON.stringify(String(o.accessUrl))} is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new DerpMapError('bad_access_url', `access URL scheme must be http or https, got ${u.protocol}`);
  }
  // URL.hostname keeps IPv6 brackets; Go's Hostname() strips them.
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const http = u.protocol === 'http:';
  const port = u.port === '' ? (http ? 80 : 443) : Number(u.port);
  const node: DERPNode = {
    Name: `${o.regionId}b`,
    RegionID: o.regionId,
    HostName: host,
    STUNPort: -1,
    DERPPort: port,
  };
  if (http) node.ForceHTTP = true;
  return {
    EmbeddedRelay: true,
    RegionID: o.regionId,
    RegionCode: o.regionCode,
    RegionName: o.regionName,
    Nodes: [node],
  };
}

/** Splits `host:port` like Go's net.SplitHostPort + Atoi (IPv6 in brackets). */
export function parseStunAddress(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new DerpMapError('bad_stun_address', `invalid STUN address ${JSON.stringify(addr)}: want host:port`);
  }
  return { host: m[1] ?? m[2] ?? '', port };
}

/**
 * Adds one STUN-only node per address after the relay node(s). Coder's NewDERPMap puts them
 * first, but 2023 clients dial the region's *first* node for DERP over WebSocket without skipping
 * STUN-only nodes, so a relay listed first keeps their WebSocket fallback working.
 */
export function withStunNodes(region: DERPRegion, stunAddresses: readonly string[]): DERPRegion {
  const nodes = [...region.Nodes];
  stunAddresses.forEach((addr, i) => {
    const { host, port } = parseStunAddress(addr);
    nodes.push({
      Name: `${region.RegionID}stun${i}`,
      RegionID: region.RegionID,
      HostName: host,
      STUNOnly: true,
      STUNPort: port,
    });
  });
  return { ...region, Nodes: nodes };
}

/**
 * coderd's in-process view: every embedded region gains `<name>p`
 * (127.0.0.1, InsecureForTests) and `<name>p-http` (also ForceHTTP), copied
 * from its first non-STUN node, so the server dials its own relay on loopback.
 */
export function withLoopbackNodes(map: DERPMap): DERPMap {
  const regions: Record<string, DERPRegion> = {};
  for (const [id, r] of Object.entries(map.Regions)) {
    const first = r.EmbeddedRelay ? r.Nodes.find((n) => n.STUNOnly !== true) : undefined;
    if (!first) {
      regions[id] = r;
      continue;
    }
    const local: DERPNode = { ...first, Name: `${first.Name}p`, IPv4: '127.0.0.1', InsecureForTests: true };
    const localHttp: DERPNode = { ...local, Name: `${first.Name}p-http`, ForceHTTP: true };
    regions[id] = { ...r, Nodes: [...r.Nodes, local, localHttp] };
  }
  return { ...map, Regions: regions };
}
