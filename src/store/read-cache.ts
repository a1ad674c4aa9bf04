/**
 * Short-lived read cache for the per-request hot path (API key → user, agent token → agent,
 * agent id → agent view). Local writes invalidate at once; writes by other replicas become
 * visible within the TTL (1 s by default), which status derivation tolerates (its inactivity
 * window is several seconds). Checks that must be exact (latest build at coordinate) bypass it.
 */
import type { Clock } from '../util/clock.js';
import { TtlCache } from '../util/ttl-cache.js';
import type { ApiKey, User } from './users.js';
import type { Agent, AgentContext, App } from './workspaces.js';
import type { AgentRuntime } from './agent-runtime.js';
import type { AgentLogSource } from './agent-logs.js';
import type { AppStatus } from './app-statuses.js';

/** What the agent itself reported (v2 API): shown by GET /{agent} beside the provisioned row. */
export interface AgentReported {
  runtime: AgentRuntime | undefined;
  logsLength: number;
  logsOverflowed: boolean;
  logSources: AgentLogSource[];
  /** UpdateAppStatus history of the agent's apps, newest first. */
  appStatuses: AppStatus[];
}

export interface AgentView {
  context: AgentContext;
  apps: App[];
  reported: AgentReported;
}

/** What writers call; implemented by ReadCache, a no-op when caching is off. */
export interface Invalidation {
  agentChanged(agentId: string): void;
  /** Only what the agent reports (runtime, logs state) changed: token entries stay valid. */
  agentReportChanged(agentId: string): void;
  /** Builds, tokens or users changed: anything cached may be stale. */
  everything(): void;
  apiKeyChanged(id: string): void;
}

export class ReadCache implements Invalidation {
  readonly apiKeys: TtlCache<string, { key: ApiKey; user: User }>;
  /** Whole tokens whose secret already matched its hash: spares a SHA-256 per request. */
  readonly verifiedTokens: TtlCache<string, { key: ApiKey; user: User }>;
  readonly agentsByToken: TtlCache<string, Agent>;
  readonly agentViews: TtlCache<string, AgentView>;

  constructor(clock: Clock, ttlMs: number) {
    this.apiKeys = new TtlCache(clock, ttlMs);
    this.verifiedTokens = new TtlCache(clock, ttlMs);
    this.agentsByToken = new TtlCache(clock, ttlMs);
    this.agentViews = new TtlCache(clock, ttlMs);
  }

  agentChanged(agentId: string): void {
    this.agentViews.delete(agentId);
    // Token entries hold agent rows too; they are few and short-lived, so drop them all.
    this.agentsByToken.clear();
  }

  agentReportChanged(agentId: string): void {
    this.agentViews.delete(agentId);
  }

  everything(): void {
    this.apiKeys.clear();
    this.verifiedTokens.clear();
    this.agentsByToken.clear();
    this.agentViews.clear();
  }

  apiKeyChanged(id: string): void {
    this.apiKeys.delete(id);
    this.verifiedTokens.clear();
  }
}
