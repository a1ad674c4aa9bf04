/**
 * Agent connection records (coder-agents-api.md §2.6, §3). The store-backed
 * implementation belongs to the composition root; this module owns the timing:
 *
 *   connected(now) ─► every updateFrequency: heartbeat(now) ─► {latest:false} ⇒ kick (1001, empty reason)
 *        │                        │ error ⇒ close 1001 with the error text
 *        └──── session ends ─────►  disconnected(now), bounded by inactiveTimeout
 *
 * Operations never overlap, so disconnected() always lands after connected().
 */
import type { Clock, TimerHandle } from '../util/clock.js';

export interface AgentConnectionRecorder {
  /** Set first_connected_at (if unset) and last_connected_at = at. Publish the workspace change. */
  connected(agentId: string, at: Date): Promise<void>;
  /** Set last_connected_at = at, then report whether the agent's build is still the workspace's latest. */
  heartbeat(agentId: string, at: Date): Promise<{ latest: boolean }>;
  /** Set disconnected_at = at (keeping last_connected_at). Publish the workspace change. */
  disconnected(agentId: string, at: Date): Promise<void>;
}

export interface AgentConnectionTiming {
  /** AgentConnectionUpdateFrequency: 3 s in 2023 Coder (later 15 s). */
  updateFrequencyMs: number;
  /** AgentInactiveDisconnectTimeout: 2 × update frequency. Bounds the final write. */
  inactiveTimeoutMs: number;
}

export const DEFAULT_AGENT_CONNECTION_TIMING: AgentConnectionTiming = { updateFrequencyMs: 3000, inactiveTimeoutMs: 6000 };

export type MonitorFailure = { kind: 'not_latest_build' } | { kind: 'recorder_error'; message: string };

export class AgentConnectionMonitor {
  private ticker: TimerHandle | null = null;
  private chain: Promise<void> = Promise.resolve();
  private busy = false;
  private stopped = false;

  constructor(
    private readonly agentId: string,
    private readonly recorder: AgentConnectionRecorder,
    private readonly clock: Clock,
    private readonly timing: AgentConnectionTiming,
    private readonly onFailure: (f: MonitorFailure) => void,
  ) {}

  start(): void {
    this.run(async () => {
      await this.recorder.connected(this.agentId, new Date(this.clock.now()));
    });
    this.ticker = this.clock.setInterval(() => {
      if (this.busy || this.stopped) return; // a slow store skips ticks instead of piling them up
      this.run(async () => {
        const { latest } = await this.recorder.heartbeat(this.agentId, new Date(this.clock.now()));
        if (!latest && !this.stopped) this.onFailure({ kind: 'not_latest_build' });
      });
    }, this.timing.updateFrequencyMs);
  }

  /**
   * Stops the ticker and, once pending writes finished, writes disconnected_at
   * unless `record` is false (a newer socket of the same agent took over and
   * keeps the row fresh). Never rejects.
   */
  async stop(record = true): Promise<void> {
    if (this.stopped) return this.chain;
    this.stopped = true;
    this.ticker?.cancel();
    await this.chain;
    if (!record) return;
    let timer: TimerHandle | null = null;
    const timeout = new Promise<void>((resolve) => {
      timer = this.clock.setTimeout(resolve, this.timing.inactiveTimeoutMs);
    });
    try {
      await Promise.race([this.recorder.disconnected(this.agentId, new Date(this.clock.now())), timeout]);
    } catch {
      // Best effort, as in Coder: the status derivation times out stale rows anyway.
    } finally {
      (timer as TimerHandle | null)?.cancel();
    }
  }

  private run(op: () => Promise<void>): void {
    this.busy = true;
    this.chain = this.chain.then(async () => {
      try {
        await op();
      } catch (err) {
        if (!this.stopped) this.onFailure({ kind: 'recorder_error', message: err instanceof Error ? err.message : String(err) });
      } finally {
        this.busy = false;
      }
    });
  }
}
