/**
 * Redis transport of the shard bus: a publisher (offline queue off: a publish
 * while disconnected fails at once instead of being replayed late) and a
 * dedicated subscriber on one exact channel. Every `ready` of the subscriber
 * after the first is reported as a gap (messages may have been lost).
 *
 * Keys (prefix P):  P bus            channel, every shard publishes and subscribes
 *                   P members        zset shardId → heartbeat expiry (ms)
 *                   P mirror:<id>    hash peerId → msgpack PeerRec (TTL by heartbeat)
 *                   P meta:<id>      "epoch:seq" of the owner's last publish
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

export interface BusKeys {
  channel: string;
  members: string;
  mirror(shard: string): string;
  meta(shard: string): string;
}

export function busKeys(prefix: string): BusKeys {
  return {
    channel: `${prefix}bus`,
    members: `${prefix}members`,
    mirror: (s) => `${prefix}mirror:${s}`,
    meta: (s) => `${prefix}meta:${s}`,
  };
}

export interface BusEvents {
  message(buf: Buffer): void;
  /** Subscriber (re)subscribed: `first` is false after a reconnect (a gap). */
  subscribed(first: boolean): void;
  /** Subscriber connection lost. */
  down(): void;
}

export class RedisBus {
  readonly pub: Redis;
  readonly sub: Redis;
  readonly keys: BusKeys;
  private everReady = false;
  private closed = false;

  constructor(url: string, prefix: string, private readonly events: BusEvents, private readonly logger: Logger, opts: { subUrl?: string; commandTimeoutMs?: number } = {}) {
    this.keys = busKeys(prefix);
    const common: RedisOptions = {
      lazyConnect: true,
      // Bounded, quick reconnects: a long backoff would only lengthen outages.
      retryStrategy: (times) => Math.min(50 * times, 500),
      connectTimeout: 2000,
    };
    // A paused Redis (SIGSTOP, DEBUG SLEEP) must fail publishes, not hang them: fencing counts failures.
    this.pub = new Redis(url, { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: opts.commandTimeoutMs ?? 2000, connectionName: 'tailnetd-shard-pub' });
    this.sub = new Redis(opts.subUrl ?? url, { ...common, enableOfflineQueue: true, maxRetriesPerRequest: null, autoResubscribe: true, connectionName: 'tailnetd-shard-sub' });
    // An unhandled 'error' event would crash the process.
    this.pub.on('error', (err: Error) => this.logger.debug({ err: err.message }, 'shard bus publisher error'));
    this.sub.on('error', (err: Error) => this.logger.debug({ err: err.message }, 'shard bus subscriber error'));
    this.sub.on('messageBuffer', (_ch: Buffer, msg: Buffer) => this.events.message(msg));
    this.sub.on('close', () => {
      if (!this.closed) this.events.down();
    });
    this.sub.on('ready', () => {
      if (this.closed || !this.everReady) return;
      // autoResubscribe re-issues SUBSCRIBE on ready; report once it is acknowledged.
      void this.waitSubscribed().then((ok) => {
        if (ok && !this.closed) this.events.subscribed(false);
      });
    });
  }

  async start(): Promise<void> {
    await Promise.all([this.pub.connect(), this.sub.connect()]);
    await this.sub.subscribe(this.keys.channel);
    this.everReady = true;
    this.events.subscribed(true);
  }

  private async waitSubscribed(): Promise<boolean> {
    // ioredis resubscribes from its own ready handler; a PING through the
    // subscriber queue returns after the SUBSCRIBE reply.
    try {
      await this.sub.ping();
      return true;
    } catch {
      return false;
    }
  }

  /** Forces a subscriber reconnect (watchdog: the subscription looks silently dead). */
  kickSubscriber(): void {
    if (!this.closed) this.sub.disconnect(true);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.pub.disconnect();
    this.sub.disconnect();
  }
}
