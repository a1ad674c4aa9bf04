/**
 * The coordinator as the rest of the server sees it: the core plus what every
 * transport adapter shares (metrics, clock, limits, one keep-alive ticker for
 * all sockets, debug page, shutdown).
 *
 *   HTTP upgrade (lead: auth, ws noServer) ──► serveAgentV1 / serveClientV1 (v1/session.ts)
 *                                                   │            ▲ pre-framed bytes
 *                                                   ▼            │
 *                                     Coordinator { core, pinger, metrics }
 */
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { createCoordinatorMetrics, type CoordinatorMetrics } from '../metrics/coordinator.js';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import { DEFAULT_AGENT_CONNECTION_TIMING, type AgentConnectionTiming } from './agent-connection.js';
import { CoordinatorCore, type CoreObserver } from './core.js';
import { renderDebugPage, type DebugConn } from './debug-page.js';
import type { FrameWriterSettings } from './frame-writer.js';
import type { Node } from './node.js';
import type { PeerInfo } from './types.js';


/** Staggered ping rounds per ping interval (15 s / 15 = one round a second). */
const KEEPALIVE_SLOTS = 15;
export interface CoordinatorOptions {
  logger: Logger;
  /** Registry for coordinator metrics (a fresh one if omitted). */
  registry?: Registry;
  clock?: Clock;
  /** Server WebSocket ping period (15 s, httpapi.Heartbeat). */
  pingIntervalMs?: number;
  /** Per-socket outbound queue bound (512, TrackedConn). */
  queueSize?: number;
  /** Fan-out write timeout (5 s). */
  writeTimeoutMs?: number;
  agentConnection?: AgentConnectionTiming;
  /** Debug page heading. */
  debugTitle?: string;
  /** Change hooks for a replication layer (coordinator/shard). */
  observer?: CoreObserver;
}

/** Something the keep-alive ticker visits every ping interval. */
export interface KeepAlive {
  tick(): void;
}

export interface CoordinatorSettings {
  readonly queueSize: number;
  readonly writeTimeoutMs: number;
  readonly agentConnection: AgentConnectionTiming;
}

export class Coordinator {
  readonly core: CoordinatorCore;
  readonly metrics: CoordinatorMetrics;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly settings: CoordinatorSettings;
  /** One settings object shared by every socket writer. */
  readonly writerSettings: FrameWriterSettings;
  /** Keep-alive → its ping round (see the ticker in the constructor). */
  private readonly keepAlives = new Map<KeepAlive, number>();
  private readonly keepAliveSlots: Set<KeepAlive>[] = Array.from({ length: KEEPALIVE_SLOTS }, () => new Set<KeepAlive>());
  private nextSlotToFill = 0;
  private nextSlotToTick = 0;
  private readonly pending = new Set<Promise<unknown>>();
  private readonly ticker: TimerHandle;
  private readonly debugTitle: string;

  constructor(opts: CoordinatorOptions) {
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger;
    this.metrics = createCoordinatorMetrics(opts.registry ?? new Registry());
    const clock = this.clock;
    this.core = new CoordinatorCore({ now: () => clock.now(), monotonic: () => clock.monotonic(), stats: this.metrics, ...(opts.observer ? { observer: opts.observer } : {}) });
    this.metrics.bind(this.core);
    this.settings = {
      queueSize: opts.queueSize ?? 512,
      writeTimeoutMs: opts.writeTimeoutMs ?? 5000,
      agentConnection: opts.agentConnection ?? DEFAULT_AGENT_CONNECTION_TIMING,
    };
    const metrics = this.metrics;
    this.writerSettings = {
      clock: this.clock,
      maxQueue: this.settings.queueSize,
      writeTimeoutMs: this.settings.writeTimeoutMs,
      onWrite: (bytes) => metrics.written(1, bytes),
    };
    this.debugTitle = opts.debugTitle ?? 'in-memory wireguard coordinator debug';
    // Each socket is pinged once per interval, but in one of KEEPALIVE_SLOTS staggered rounds
    // (assigned round-robin at connect) rather than all at once: a single round over 10k
    // sockets blocks the event loop for ~100 ms (C1 p99) and every update waits behind it.
    const interval = opts.pingIntervalMs ?? 15_000;
    this.ticker = this.clock.setInterval(() => {
      const slot = this.keepAliveSlots[this.nextSlotToTick]!;
      this.nextSlotToTick = (this.nextSlotToTick + 1) % KEEPALIVE_SLOTS;
      for (const k of [...slot]) k.tick();
    }, Math.max(1, Math.floor(interval / KEEPALIVE_SLOTS)));
  }

  /** The agent's latest node, if its agent socket is connected (GET /workspaceagents/{id} latency). */
  node(peerId: string): Node | null {
    return this.core.node(peerId.toLowerCase())?.node ?? null;
  }

  /**
   * The agent's node in v1 field names, for the REST API (GET
   * /workspaceagents/{id} latency): undefined while no agent socket holds a node.
   */
  agentNode(agentId: string): { derp_latency: Record<string, number> | null; preferred_derp: number } | undefined {
    const n = this.node(agentId);
    if (n === null) return undefined;
    return { derp_latency: n.derpLatency === null ? null : { ...n.derpLatency }, preferred_derp: n.preferredDerp };
  }

  /** Canonical v1 JSON of that node. */
  nodeJson(peerId: string): string | null {
    return this.core.node(peerId.toLowerCase())?.json ?? null;
  }

  nodeCount(): number {
    return this.core.nodeCount();
  }

  agentCount(): number {
    return this.core.agentCount();
  }

  /** HTML for GET /api/v2/debug/coordinator (serve as text/html; charset=utf-8, owners only). */
  renderDebugPage(): string {
    const conn = (p: PeerInfo): DebugConn => ({
      id: p.id,
      name: p.name,
      createdAt: p.createdAt,
      lastWriteAt: p.lastWriteAt,
      overwrites: p.overwrites,
    });
    const agents = [];
    for (const p of this.core.allPeers()) {
      if (p.kind !== 'agent') continue;
      agents.push({ ...conn(p), connections: this.core.sourcesOf(p.id).map(conn) });
    }
    const missing = this.core.missingDestinations().map((m) => ({ id: m.id, name: m.name, connections: m.sources.map(conn) }));
    return renderDebugPage({ title: this.debugTitle, now: this.clock.now(), agents, missing });
  }

  /** Closes every session and waits for them (and their final records) to finish. Idempotent. */
  async close(): Promise<void> {
    this.ticker.cancel();
    this.core.close();
    await Promise.allSettled([...this.pending]);
  }

  // ---- for adapters ----

  addKeepAlive(k: KeepAlive): void {
    if (this.keepAlives.has(k)) return;
    const slot = this.nextSlotToFill;
    this.nextSlotToFill = (slot + 1) % KEEPALIVE_SLOTS;
    this.keepAlives.set(k, slot);
    this.keepAliveSlots[slot]!.add(k);
  }

  removeKeepAlive(k: KeepAlive): void {
    const slot = this.keepAlives.get(k);
    if (slot === undefined) return;
    this.keepAlives.delete(k);
    this.keepAliveSlots[slot]!.delete(k);
  }

  /** Tracks a session so close() can wait for it. */
  track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
    return p;
  }
}

export function createCoordinator(opts: CoordinatorOptions): Coordinator {
  return new Coordinator(opts);
}
