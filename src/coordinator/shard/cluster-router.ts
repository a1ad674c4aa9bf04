/**
 * Command routing on a Redis Cluster for the shard bus and DERP mesh discovery:
 * our own slot map and one plain connection per master, instead of ioredis'
 * Cluster client. Its in-library retries re-send MULTI pipelines after MOVED
 * or a closed connection, and during a master failover that was seen to leave
 * a node connection answering each command with the previous command's reply,
 * for good. Here a command is sent once; every caller already retries on its
 * own schedule (next publish, heartbeat, resync, discovery tick).
 *
 *   exec(cmds) ─► group by slot ─► MULTI … EXEC on the slot's master (plain ioredis Redis)
 *                                    │ error
 *                                    ├─ MOVED slot host:port ─► patch that slot now, refresh
 *                                    ├─ ASK / CLUSTERDOWN / TRYAGAIN / connection lost ─► refresh
 *                                    └─ timeout ─► drop that connection (it may be wedged), refresh
 *   refresh(): single-flight CLUSTER SLOTS from any known node (masters first, then the seed);
 *              also every `refreshMs` as a backstop for a map that changed while idle.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { clusterSeed, hashTag, type TxCommand, type TxResult } from './redis-cluster.js';

const SLOTS = 16384;

/** CRC16-XMODEM (polynomial 0x1021, initial 0), as Redis Cluster hashes keys: one table lookup per byte. */
const CRC16_TABLE = Uint16Array.from({ length: 256 }, (_, n) => {
  let crc = n << 8;
  for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  return crc;
});

function crc16(buf: Buffer): number {
  let crc = 0;
  for (const byte of buf) crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ byte) & 0xff] as number);
  return crc;
}

/** A shard issues the same few keys on every publish (its mirror, meta, members, the channel): remember their slots. */
const slotCache = new Map<string, number>();
const SLOT_CACHE_MAX = 4096;

/** The cluster slot of `key` (of its hash tag when it has one). */
export function keySlot(key: string): number {
  let slot = slotCache.get(key);
  if (slot === undefined) {
    slot = crc16(Buffer.from(hashTag(key))) % SLOTS;
    if (slotCache.size >= SLOT_CACHE_MAX) slotCache.clear();
    slotCache.set(key, slot);
  }
  return slot;
}

export interface NodeAddr {
  host: string;
  port: number;
}

const MOVED = /^MOVED (\d+) (.+):(\d+)/;
const REFRESH_AFTER = /^(MOVED|ASK|CLUSTERDOWN|TRYAGAIN)\b|Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|node down/;
const TIMED_OUT = /Command timed out/;

export interface ClusterRouterOptions {
  /** Per-node connection options (credentials, TLS, commandTimeout, connectionName). */
  node?: RedisOptions;
  logger?: Logger;
  /** Periodic slot-map refresh (ms). */
  refreshMs?: number;
  /** After a connection to a node ends, commands for it fail fast for this long instead of reconnecting at once. */
  reconnectBackoffMs?: number;
}

export class ClusterRouter {
  private readonly seed: NodeAddr;
  private readonly nodeOptions: RedisOptions;
  /** slot → "host:port" of its master. */
  private readonly slots: Array<string | undefined> = new Array<string | undefined>(SLOTS);
  private readonly conns = new Map<string, Redis>();
  private readonly downUntil = new Map<string, number>();
  private refreshing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly backoffMs: number;

  constructor(
    url: string,
    private readonly o: ClusterRouterOptions = {},
  ) {
    const s = clusterSeed(url);
    this.seed = { host: s.host, port: s.port };
    this.nodeOptions = { connectTimeout: 2000, ...s.node, ...o.node };
    this.backoffMs = o.reconnectBackoffMs ?? 100;
  }

  /** Learns the slot map (rejects when no node answers) and starts the periodic refresh. */
  async connect(): Promise<void> {
    if (this.timer === null) {
      this.timer = setInterval(() => void this.refresh().catch(() => {}), this.o.refreshMs ?? 5000);
      this.timer.unref();
    }
    await this.refresh();
    if (this.slots.every((s) => s === undefined)) throw new Error('redis cluster: no slot is served');
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    for (const c of this.conns.values()) c.disconnect();
    this.conns.clear();
  }

  /** The master serving `slot`, by the current map (undefined: not known yet). */
  ownerOf(slot: number): NodeAddr | undefined {
    const k = this.slots[slot];
    return k === undefined ? undefined : parseKey(k);
  }

  /** Single-flight CLUSTER SLOTS: asks known masters first, then the seed. Rejects when none answers. */
  refresh(): Promise<void> {
    if (this.refreshing === null) {
      this.refreshing = this.readSlots().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  /**
   * Runs `cmds` as one MULTI per slot, all dispatched at once (successive calls keep their order
   * per node: one connection each), and returns the replies in the recorded order. A group that
   * fails marks each of its commands with the error. `publish` becomes `spublish` (sharded pub/sub).
   */
  async exec(cmds: TxCommand[]): Promise<TxResult> {
    const groups = new Map<number, number[]>();
    cmds.forEach((c, i) => {
      const slot = keySlot(c[1]);
      const g = groups.get(slot);
      if (g === undefined) groups.set(slot, [i]);
      else g.push(i);
    });
    const out: TxResult = cmds.map(() => [new Error('not run'), null]);
    await Promise.all(
      [...groups].map(async ([slot, idx]) => {
        const batch = idx.map((i) => {
          const [name, ...rest] = cmds[i] as TxCommand;
          return [name === 'publish' ? 'spublish' : name, ...rest];
        });
        try {
          const res = await this.on(slot, (r) => r.multi(batch).exec());
          if (res === null) throw new Error('transaction aborted');
          idx.forEach((i, j) => {
            out[i] = res[j] ?? [new Error('missing reply'), null];
          });
        } catch (err) {
          // Name the slot's tag: which node is failing is the first question in an outage.
          const e = new Error(`{${hashTag(cmds[idx[0]!]![1])}}: ${messageOf(err)}`);
          for (const i of idx) out[i] = [e, null];
        }
      }),
    );
    return out;
  }

  /** One command on the master of `key`'s slot. */
  call(key: string, fn: (r: Redis) => Promise<unknown>): Promise<unknown> {
    return this.on(keySlot(key), fn);
  }

  private async on<T>(slot: number, fn: (r: Redis) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('redis cluster: closed');
    if (this.slots[slot] === undefined) await this.refresh();
    const key = this.slots[slot];
    if (key === undefined) throw new Error(`CLUSTERDOWN slot ${slot} is not served`);
    const r = this.conn(key);
    try {
      return await fn(r);
    } catch (err) {
      this.after(err, slot, key, r);
      throw err;
    }
  }

  private after(err: unknown, slot: number, key: string, r: Redis): void {
    // A MULTI that hit MOVED fails with EXECABORT; the MOVED is among its previous errors.
    const all = [err, ...((err as { previousErrors?: unknown[] }).previousErrors ?? [])].map(messageOf);
    const moved = all.map((m) => MOVED.exec(m)).find((m) => m !== null);
    if (moved !== undefined && Number(moved[1]) === slot) this.slots[slot] = `${moved[2]}:${moved[3]}`;
    if (all.some((m) => TIMED_OUT.test(m))) {
      // No reply in time: the connection may be half-dead or out of step; start a fresh one.
      this.drop(key, r);
    }
    if (moved !== undefined || all.some((m) => REFRESH_AFTER.test(m) || TIMED_OUT.test(m))) void this.refresh().catch(() => {});
  }

  private conn(key: string): Redis {
    const have = this.conns.get(key);
    if (have !== undefined) return have;
    if ((this.downUntil.get(key) ?? 0) > Date.now()) throw new Error(`node down: ${key}`);
    const { host, port } = parseKey(key);
    const r = new Redis({
      ...this.nodeOptions,
      host,
      port,
      // Sent once or failed: no replays after a reconnect, no library reconnects (the slot map
      // decides where the next command goes). Queued only while this connection is being made.
      enableOfflineQueue: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      lazyConnect: false,
    });
    r.on('error', (err: Error) => this.o.logger?.debug({ err: err.message, node: key }, 'redis cluster node error'));
    r.once('end', () => this.drop(key, r));
    this.conns.set(key, r);
    return r;
  }

  private drop(key: string, r: Redis): void {
    if (this.conns.get(key) !== r) return;
    this.conns.delete(key);
    this.downUntil.set(key, Date.now() + this.backoffMs);
    r.disconnect();
  }

  private async readSlots(): Promise<void> {
    const known = [...new Set(this.slots.filter((s): s is string => s !== undefined))];
    const candidates = [...known.map(parseKey), this.seed];
    let lastErr: unknown = new Error('redis cluster: no node to ask');
    for (const c of candidates) {
      if (this.closed) return;
      const probe = new Redis({ ...this.nodeOptions, host: c.host, port: c.port, lazyConnect: true, enableOfflineQueue: true, maxRetriesPerRequest: 0, retryStrategy: () => null, commandTimeout: 2000, connectionName: 'tailnetd-cluster-topology' });
      probe.on('error', () => {});
      try {
        await probe.connect();
        const ranges = (await probe.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]] | undefined, ...unknown[]]>;
        this.slots.fill(undefined);
        const masters = new Set<string>();
        for (const [from, to, master] of ranges) {
          if (master === undefined) continue;
          // An empty host means "the address you reached me at" (cluster-announced hostname unset).
          const k = `${master[0] === '' ? c.host : master[0]}:${Number(master[1])}`;
          masters.add(k);
          for (let s = from; s <= to; s++) this.slots[s] = k;
        }
        for (const [k, r] of this.conns) if (!masters.has(k)) this.drop(k, r);
        return;
      } catch (err) {
        lastErr = err;
      } finally {
        probe.disconnect();
      }
    }
    throw lastErr;
  }
}

function parseKey(k: string): NodeAddr {
  const i = k.lastIndexOf(':');
  return { host: k.slice(0, i), port: Number(k.slice(i + 1)) };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
