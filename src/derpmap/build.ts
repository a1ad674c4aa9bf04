/**
 * Assembles the served map with Coder's `tailnet.NewDERPMap` semantics:
 *
 *   base (URL or file, else empty) ──┐
 *   embedded region + STUN nodes ────┼─► insert (ID conflict = error) ─► disable STUN? ─► map
 */
import { DerpMapError } from './errors.js';
import { withStunNodes } from './embedded.js';
import type { DERPMap, DERPRegion } from './types.js';

export interface BuildOptions {
  /** Map decoded from the configured URL or file; undefined = none configured. */
  base?: DERPMap;
  /** Where `base` came from, for the conflict message. */
  source?: string;
  /** Embedded region, or null when the built-in relay is disabled. */
  region: DERPRegion | null;
  stunAddresses: readonly string[];
  disableStun: boolean;
}

export function buildDerpMap(o: BuildOptions): DERPMap {
  const map: DERPMap = o.base ? { ...o.base, Regions: { ...o.base.Regions } } : { Regions: {} };
  if (o.region) {
    const region = withStunNodes(o.region, o.disableStun ? [] : o.stunAddresses);
    const key = String(region.RegionID);
    if (key in map.Regions) {
      throw new DerpMapError(
        'region_conflict',
        `the default region ID conflicts with a remote region from ${JSON.stringify(o.source ?? '')}`,
      );
    }
    map.Regions[key] = region;
  }
  if (o.disableStun) {
    for (const [id, r] of Object.entries(map.Regions)) {
      map.Regions[id] = {
        ...r,
        Nodes: r.Nodes.filter((n) => n.STUNOnly !== true).map((n) => ({ ...n, STUNPort: -1 })),
      };
    }
  }
  return map;
}
