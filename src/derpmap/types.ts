/**
 * The DERP map exactly as Go's `tailcfg.DERPMap` (Coder fork) puts it on the
 * wire: Go field names, region map keyed by the decimal region ID.
 * Optional fields are the ones Go marks `omitempty`.
 */
export interface DERPNode {
  Name: string;
  RegionID: number;
  HostName: string;
  CertName?: string;
  IPv4?: string;
  IPv6?: string;
  /** 0 ⇒ 3478, −1 ⇒ STUN disabled on this node. */
  STUNPort?: number;
  STUNOnly?: boolean;
  /** 0 ⇒ 443. */
  DERPPort?: number;
  InsecureForTests?: boolean;
  /** Coder fork: dial http:// instead of https://. */
  ForceHTTP?: boolean;
  STUNTestIP?: string;
  CanPort80?: boolean;
}

export interface DERPRegion {
  /** Coder fork: the region served by the control plane's own relay. Always emitted. */
  EmbeddedRelay: boolean;
  RegionID: number;
  RegionCode: string;
  RegionName: string;
  Avoid?: boolean;
  Nodes: DERPNode[];
}

export interface DERPHomeParams {
  /** Region ID (decimal string) → score multiplier. */
  RegionScore?: Record<string, number>;
}

export interface DERPMap {
  HomeParams?: DERPHomeParams;
  /** Keyed by the decimal string of RegionID. */
  Regions: Record<string, DERPRegion>;
  /** The only lower-case tag in the Go struct. */
  omitDefaultRegions?: boolean;
}

/** Result of checking a map: hard errors make it unusable, warnings do not. */
export interface DerpMapCheck {
  errors: string[];
  warnings: string[];
}
