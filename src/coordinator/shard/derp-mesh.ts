/**
 * DERP mesh across replicas: each replica announces its relay URL in Redis
 * (zset member = URL, score = expiry, refreshed every interval) and keeps one
 * mesh link (src/derp/mesh.ts, Tailscale's mesh protocol) to every other
 * announced or statically listed relay, starting and stopping links as
 * replicas come and go.
 *
 *   replica A ──ZADD P derp:relays urlA──▶ Redis ◀──ZRANGEBYSCORE now +inf── replica B
 *   links: url → startMeshLink(derp, {url, meshKey, privateKey})
 */
import type { Logger } from 'pino';
import { startMeshLink, type MeshLink, type MeshLinkOptions } from '../../derp/mesh.js';
import type { DerpServer } from '../../derp/server.js';
import type { TxClient } from './bus.js';

export interface DerpMeshOptions {
  derp: DerpServer;
  meshKey: string;
  /** This server's DERP private key. */
  privateKey: Buffer;
  /** URL other replicas reach this relay at (TAILNETD_DERP_RELAY_URL); undefined = do not announce. */
  selfUrl?: string;
  /** Static peers (TAILNETD_DERP_MESH_WITH), always linked. */
  staticUrls?: string[];
  /** Redis transactions (single node or cluster: one key, so one slot) for discovery; undefined = static list only. */
  redis?: TxClient;
  prefix?: string;
  intervalMs?: number;
  linkRetryMs?: number;
  /** DERP client options for the links (e.g. `tls: {ca}` for a private CA). */
  linkClient?: MeshLinkOptions['client'];
  logger: Logger;
}

export class DerpMeshManager {
  private readonly links = new Map<string, MeshLink>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly key: string;
  private readonly interval: number;

  constructor(private readonly o: DerpMeshOptions) {
    this.key = `${o.prefix ?? 'tailnetd:'}derp:relays`;
    this.interval = o.intervalMs ?? 2000;
  }

  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.interval);
    this.timer.unref();
  }

  /** URLs with a mesh link right now. */
  peers(): string[] {
    return [...this.links.keys()];
  }

  connectedPeers(): number {
    let n = 0;
    for (const l of this.links.values()) if (l.connected) n++;
    return n;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const want = new Set(this.o.staticUrls ?? []);
    const r = this.o.redis;
    if (r !== undefined) {
      try {
        const now = Date.now();
        const p = r.multi();
        if (this.o.selfUrl !== undefined) p.zadd(this.key, now + this.interval * 3, this.o.selfUrl);
        p.zremrangebyscore(this.key, '-inf', now);
        p.zrangebyscore(this.key, now, '+inf');
        const res = await p.exec();
        const urls = res?.[res.length - 1]?.[1];
        if (Array.isArray(urls)) for (const u of urls) want.add(String(u));
      } catch (err) {
        // Redis away: keep the links we have (relaying does not need Redis).
        this.o.logger.debug({ err: (err as Error).message }, 'derp mesh discovery failed');
        for (const u of this.links.keys()) want.add(u);
      }
    }
    if (this.o.selfUrl !== undefined) want.delete(this.o.selfUrl);
    if (this.stopped) return;
    for (const u of want) {
      if (this.links.has(u)) continue;
      this.o.logger.info({ url: u }, 'derp mesh: linking');
      this.links.set(u, startMeshLink(this.o.derp, { url: u, meshKey: this.o.meshKey, privateKey: this.o.privateKey, logger: this.o.logger, retryMs: this.o.linkRetryMs ?? 1000, ...(this.o.linkClient ? { client: this.o.linkClient } : {}) }));
    }
    for (const [u, l] of this.links) {
      if (want.has(u)) continue;
      this.o.logger.info({ url: u }, 'derp mesh: replica gone, unlinking');
      l.close();
      this.links.delete(u);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const l of this.links.values()) l.close();
    this.links.clear();
    if (this.o.redis !== undefined && this.o.selfUrl !== undefined) {
      try {
        await this.o.redis.multi().zrem(this.key, this.o.selfUrl).exec();
      } catch {
        // expires by itself
      }
    }
  }
}
