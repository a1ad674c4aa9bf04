/**
 * Redis transport of the shard bus: a publisher (offline queue off: a publish
 * while disconnected fails at once instead of being replayed late) and a
 * dedicated subscriber on one exact channel. Every resubscribe after the first
 * is reported as a gap (messages may have been lost).
 *
 * Two deployments, one interface (`pub.multi()` transactions, `subscribed`/`down` events):
 *   single node    MULTI … PUBLISH in one transaction; SUBSCRIBE with ioredis autoResubscribe
 *   Redis Cluster  one MULTI per hash slot, SPUBLISH; SSUBSCRIBE on the channel's
 *                  owner (sharded-subscriber.ts), re-found after a loss or a slot move
 *
 * Keys (prefix P):  P bus            channel, every shard publishes and subscribes
 *                   P members        zset shardId → heartbeat expiry (ms)
 *                   P mirror:<id>    hash peerId → msgpack PeerRec (TTL by heartbeat)
 *                   P meta:<id>      "epoch:seq" of the owner's last publish
 * On a cluster <id> is a hash tag, {<id>}: a shard writes its mirror and meta in
 * one MULTI and readers read both in one MULTI, so the snapshot always matches
 * a seq; that needs one slot per shard. Nothing else shares a slot on purpose.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { ClusterRouter } from './cluster-router.js';
import { clusterSeed, type TxCommand, type TxResult } from './redis-cluster.js';
import { ShardedSubscriber } from './sharded-subscriber.js';

export interface BusKeys {
  channel: string;
  members: string;
  mirror(shard: string): string;
  meta(shard: string): string;
}

export function busKeys(prefix: string, cluster = false): BusKeys {
  const tag = (s: string): string => (cluster ? `{${s}}` : s);
  return {
    channel: `${prefix}bus`,
    members: `${prefix}members`,
    mirror: (s) => `${prefix}mirror:${tag(s)}`,
    meta: (s) => `${prefix}meta:${tag(s)}`,
  };
}

export interface BusEvents {
  message(buf: Buffer): void;
  /** Subscriber (re)subscribed: `first` is false after a reconnect (a gap). */
  subscribed(first: boolean): void;
  /** Subscriber connection lost. */
  down(): void;
}

type Arg = string | number | Buffer;

/**
 * A transaction under construction: commands are recorded, `exec` sends them.
 * Replies come back in order, one [error, reply] pair per command.
 */
export class BusTx {
  private readonly cmds: TxCommand[] = [];
  constructor(private readonly run: (cmds: TxCommand[]) => Promise<TxResult | null>) {}

  private add(name: string, key: string, ...args: Arg[]): this {
    this.cmds.push([name, key, ...args]);
    return this;
  }

  del(key: string): this {
    return this.add('del', key);
  }
  get(key: string): this {
    return this.add('get', key);
  }
  set(key: string, value: Arg, px: 'PX', ms: number): this {
    return this.add('set', key, value, px, ms);
  }
  /** SET … GET (Redis ≥ 6.2): the reply is the previous value. */
  setGet(key: string, value: Arg, px: 'PX', ms: number): this {
    return this.add('set', key, value, px, ms, 'GET');
  }
  /** Commands queued so far (the index the next one's reply will have). */
  get length(): number {
    return this.cmds.length;
  }
  pexpire(key: string, ms: number): this {
    return this.add('pexpire', key, ms);
  }
  hset(key: string, field: string, value: Arg): this {
    return this.add('hset', key, field, value);
  }
  hdel(key: string, field: string): this {
    return this.add('hdel', key, field);
  }
  hgetBuffer(key: string, field: string): this {
    return this.add('hgetBuffer', key, field);
  }
  hgetallBuffer(key: string): this {
    return this.add('hgetallBuffer', key);
  }
  zadd(key: string, score: number, member: string): this {
    return this.add('zadd', key, score, member);
  }
  zrem(key: string, member: string): this {
    return this.add('zrem', key, member);
  }
  zremrangebyscore(key: string, min: number | string, max: number | string): this {
    return this.add('zremrangebyscore', key, min, max);
  }
  zrangebyscore(key: string, min: number | string, max: number | string): this {
    return this.add('zrangebyscore', key, min, max);
  }
  /** PUBLISH on one node, SPUBLISH (sharded pub/sub) on a cluster. */
  publish(channel: string, message: Arg): this {
    return this.add('publish', channel, message);
  }

  exec(): Promise<TxResult | null> {
    return this.run(this.cmds);
  }
}

/** Transactions on a single node or a cluster (one MULTI per slot there), for the bus and DERP mesh discovery. */
export interface TxClient {
  multi(): BusTx;
}

export function txClient(r: Redis | ClusterRouter): TxClient {
  return r instanceof ClusterRouter ? { multi: () => new BusTx((cmds) => r.exec(cmds)) } : { multi: () => new BusTx((cmds) => r.multi(cmds).exec()) };
}

/** What the shard issues against Redis, whichever the deployment. */
export interface BusClient {
  multi(): BusTx;
  zrangebyscore(key: string, min: number | string, max: number | string): Promise<string[]>;
}

export interface BusOptions {
  subUrl?: string;
  commandTimeoutMs?: number;
  /** `url` is a seed node of a Redis Cluster (≥ 7): sharded pub/sub, hash-tagged keys. */
  cluster?: boolean;
}

export class RedisBus {
  readonly pub: BusClient;
  readonly keys: BusKeys;
  /** The raw publisher connection (single node) or cluster router, for tests and the debug page. */
  readonly client: Redis | ClusterRouter;
  private readonly sub: Redis | ShardedSubscriber;
  private everReady = false;
  private closed = false;

  constructor(url: string, prefix: string, private readonly events: BusEvents, private readonly logger: Logger, opts: BusOptions = {}) {
    this.keys = busKeys(prefix, opts.cluster === true);
    const common: RedisOptions = {
      lazyConnect: true,
      // Bounded, quick reconnects: a long backoff would only lengthen outages.
      retryStrategy: (times) => Math.min(50 * times, 500),
      connectTimeout: 2000,
    };
    // A paused Redis (SIGSTOP, DEBUG SLEEP) must fail publishes, not hang them: fencing counts failures.
    const pubNode: RedisOptions = { maxRetriesPerRequest: 0, commandTimeout: opts.commandTimeoutMs ?? 2000, connectionName: 'tailnetd-shard-pub' };
    if (opts.cluster === true) {
      const router = new ClusterRouter(url, { node: pubNode, logger });
      this.client = router;
      this.pub = {
        ...txClient(router),
        zrangebyscore: async (key, min, max) => (await router.call(key, (r) => r.zrangebyscore(key, min, max))) as string[],
      };
      this.sub = new ShardedSubscriber(router, this.keys.channel, events, logger, { connectTimeout: 2000, ...clusterSeed(opts.subUrl ?? url).node });
      return;
    }
    const pub = new Redis(url, { ...common, ...pubNode, enableOfflineQueue: false });
    this.client = pub;
    this.pub = {
      ...txClient(pub),
      zrangebyscore: (key, min, max) => pub.zrangebyscore(key, min, max),
    };
    const sub = new Redis(opts.subUrl ?? url, { ...common, enableOfflineQueue: true, maxRetriesPerRequest: null, autoResubscribe: true, connectionName: 'tailnetd-shard-sub' });
    this.sub = sub;
    // An unhandled 'error' event would crash the process.
    pub.on('error', (err: Error) => this.logger.debug({ err: err.message }, 'shard bus publisher error'));
    sub.on('error', (err: Error) => this.logger.debug({ err: err.message }, 'shard bus subscriber error'));
    sub.on('messageBuffer', (_ch: Buffer, msg: Buffer) => this.events.message(msg));
    sub.on('close', () => {
      if (!this.closed) this.events.down();
    });
    sub.on('ready', () => {
      if (this.closed || !this.everReady) return;
      // autoResubscribe re-issues SUBSCRIBE on ready; report once it is acknowledged.
      void this.waitSubscribed(sub).then((ok) => {
        if (ok && !this.closed) this.events.subscribed(false);
      });
    });
  }

  async start(): Promise<void> {
    if (this.sub instanceof ShardedSubscriber) {
      await (this.client as ClusterRouter).connect();
      await this.sub.start();
      return;
    }
    await Promise.all([(this.client as Redis).connect(), this.sub.connect()]);
    await this.sub.subscribe(this.keys.channel);
    this.everReady = true;
    this.events.subscribed(true);
  }

  private async waitSubscribed(sub: Redis): Promise<boolean> {
    // ioredis resubscribes from its own ready handler; a PING through the
    // subscriber queue returns after the SUBSCRIBE reply.
    try {
      await sub.ping();
      return true;
    } catch {
      return false;
    }
  }

  /** Forces a subscriber reconnect (watchdog: the subscription looks silently dead). */
  kickSubscriber(): void {
    if (this.closed) return;
    if (this.sub instanceof ShardedSubscriber) this.sub.kick();
    else this.sub.disconnect(true);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.client instanceof ClusterRouter) this.client.close();
    else this.client.disconnect();
    if (this.sub instanceof ShardedSubscriber) this.sub.close();
    else this.sub.disconnect();
  }
}
