import type { Logger } from 'pino';
import type { Store } from '../store/index.js';
import type { Clock } from '../util/clock.js';
import type { Pubsub } from '../pubsub/pubsub.js';
import type { GitAuthService } from '../gitauth/service.js';

/** The DERP map as Go clients decode it (tailcfg.DERPMap field casing). */
export interface DerpMapSource {
  current(): unknown;
  /** Region names by ID, for the latency map of GET /{agent}. */
  regionName(regionId: number): string | undefined;
}

/** What the REST API needs from the coordinator. */
export interface CoordinatorView {
  /** The latest node the coordinator holds for this agent, if any. */
  agentNode(agentId: string): { derp_latency?: Record<string, number> | null; preferred_derp?: number } | undefined;
  /** The held node's canonical JSON (changes whenever the node does), or null. */
  agentNodeJson(agentId: string): string | null;
}

export interface ApiDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  pubsub: Pubsub;
  accessUrl: URL;
  wildcardAccessUrl: string;
  statsIntervalMs: number;
  inactiveTimeoutMs: number;
  fallbackTroubleshootingUrl: string;
  derpMap: DerpMapSource;
  /** Surfaced to current clients in /{agent}/connection (Coder's later fields; old clients ignore them). */
  derpForceWebsockets: boolean;
  disableDirectConnections: boolean;
  coordinator: CoordinatorView | null;
  gitauth: GitAuthService;
}
