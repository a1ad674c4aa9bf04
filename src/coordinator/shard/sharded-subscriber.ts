/**
 * Subscriber of the shard bus on a Redis Cluster: SSUBSCRIBE to the one exact
 * bus channel on the master that owns its slot, over a connection of our own
 * (no library auto-resubscribe, so every loss is seen and reported).
 *
 *   CLUSTER SLOTS ─► owner of slot(channel) ─► connect ─► SSUBSCRIBE ─► subscribed(first)
 *        ▲                                                     │
 *        │  MOVED reply: go straight to the named node         │ close, or unsolicited
 *        └──── backoff (50 ms × attempt, ≤ 500 ms) ◀── down() ◀─┘ SUNSUBSCRIBE (slot moved)
 *
 * A resubscribe after any loss is reported with first = false: the shard treats
 * it as a gap (messages published meanwhile are gone) and resyncs from the mirror.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { BusEvents } from './bus.js';
import { keySlot, type ClusterRouter } from './cluster-router.js';

interface Target {
  host: string;
  port: number;
}

const MOVED = /^MOVED \d+ (.+):(\d+)$/;

export class ShardedSubscriber {
  private conn: Redis | null = null;
  private movedTo: Target | null = null;
  private everSubscribed = false;
  private closed = false;
  private connecting: Promise<boolean> | null = null;

  constructor(
    /** The publisher's cluster router: used for topology (its slot map) only. */
    private readonly router: ClusterRouter,
    private readonly channel: string,
    private readonly events: BusEvents,
    private readonly logger: Logger,
    private readonly nodeOptions: RedisOptions,
  ) {}

  /** First subscription; rejects if no owner accepts it within `attempts` tries. */
  async start(attempts = 40): Promise<void> {
    if (!(await this.resubscribe(attempts))) throw new Error(`sharded subscribe to ${this.channel} failed`);
  }

  /** Drops the current subscription (watchdog: it looks silently dead); a fresh one follows. */
  kick(): void {
    if (this.conn !== null) this.lost(this.conn, 'kicked');
  }

  close(): void {
    this.closed = true;
    this.conn?.disconnect();
    this.conn = null;
  }

  private async owner(): Promise<Target> {
    // The channel's slot never changes; only its owner does. After a loss the map may be stale: re-read it.
    await this.router.refresh();
    const owner = this.router.ownerOf(keySlot(this.channel));
    if (owner === undefined) throw new Error(`slot ${keySlot(this.channel)} has no owner`);
    return owner;
  }

  /** Tries until subscribed or closed (or `attempts` run out); true when subscribed. */
  private async subscribeLoop(attempts = Infinity): Promise<boolean> {
    for (let i = 1; i <= attempts && !this.closed; i++) {
      if (await this.tryOnce()) return true;
      await new Promise((r) => setTimeout(r, Math.min(50 * i, 500)));
    }
    return false;
  }

  private async tryOnce(): Promise<boolean> {
    let conn: Redis | null = null;
    try {
      const target = this.movedTo ?? (await this.owner());
      this.movedTo = null;
      conn = new Redis({
        ...this.nodeOptions,
        host: target.host,
        port: target.port,
        lazyConnect: true,
        // Reconnecting is ours to do (the owner may have changed): no library retries or replays.
        retryStrategy: () => null,
        autoResubscribe: false,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        connectionName: 'tailnetd-shard-sub',
      });
      const c = conn;
      c.on('error', (err: Error) => this.logger.debug({ err: err.message }, 'shard bus sharded subscriber error'));
      c.on('smessageBuffer', (_ch: Buffer, msg: Buffer) => {
        if (this.conn === c) this.events.message(msg);
      });
      c.on('close', () => this.lost(c, 'closed'));
      // ioredis emits 'moved' for an unsolicited SUNSUBSCRIBE push: the slot left this node.
      c.on('moved', () => this.lost(c, 'slot moved'));
      await c.connect();
      if (this.closed) {
        c.disconnect();
        return false;
      }
      this.conn = c;
      await c.ssubscribe(this.channel);
      if (this.conn !== c) return false; // lost while subscribing: a new attempt is under way
      const first = !this.everSubscribed;
      this.everSubscribed = true;
      this.events.subscribed(first);
      return true;
    } catch (err) {
      const m = MOVED.exec((err as Error).message);
      if (m !== null) this.movedTo = { host: m[1] as string, port: Number(m[2]) };
      this.logger.debug({ err: (err as Error).message }, 'shard bus sharded subscribe failed');
      if (conn !== null && this.conn === conn) this.conn = null;
      conn?.disconnect();
      return false;
    }
  }

  private lost(c: Redis, why: string): void {
    if (this.conn !== c) return;
    this.conn = null;
    c.disconnect();
    if (this.closed) return;
    this.logger.debug({ why }, 'shard bus sharded subscription lost');
    if (this.everSubscribed) this.events.down();
    void this.resubscribe();
  }

  /** Single-flight subscribe loop: a loss during an attempt makes that loop try again. */
  private resubscribe(attempts = Infinity): Promise<boolean> {
    if (this.connecting === null) {
      this.connecting = this.subscribeLoop(attempts).finally(() => {
        this.connecting = null;
      });
    }
    return this.connecting;
  }
}
