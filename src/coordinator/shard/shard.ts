/**
 * A coordinator shard: one process's coordinator core, replicated to the other
 * shards over Redis pub/sub with a Redis mirror as the source of truth for
 * recovery (design-guide §C.4: epoch + seq for cheap detection, versioned
 * mirror for loss-tolerant resync).
 *
 *   local socket ─► core ─► CoreObserver ─► LocalRec ─► pipeline{HSET mirror, SET meta, PUBLISH upd/del}
 *   bus message ─► (epoch, seq) check ─► remote view (per shard, versioned) ─► reconcile(id)
 *                                                                   │ newest record per peer id
 *                                                                   ▼
 *                            ghost peer in the local core (sink discards): its node and
 *                            tunnels reach local peers exactly as a local peer's would
 *
 *   triggers for resync (single-flight, rate-limited): start, subscriber
 *   reconnect, seq gap, unknown shard/new epoch, watchdog miss.
 *   heartbeat every hbMs: PUBLISH hb (+ meta, mirror TTL, members zset);
 *   remote silent for 3 beats → its peers LOST here; bye → at once.
 *   own publishes failing for 3 beats → fence: close sockets 1012 (jittered).
 *   fence and drain reach every admitted connection alike: v1 sockets (serveAgent/serveClient)
 *   and v2 yamux connections (admit() from the /me/rpc and ?version=2.x routes).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { WebSocket } from 'ws';
import { createShardMetrics, type ShardMetrics } from '../../metrics/shard.js';
import type { AgentConnectionRecorder } from '../agent-connection.js';
import { Coordinator, type CoordinatorOptions } from '../coordinator.js';
import type { CoreObserver, Peer } from '../core.js';
import { decodeNode } from '../node.js';
import type { CoordinateResponse, PeerId, PeerSink } from '../types.js';
import { serveAgentV1, serveClientV1 } from '../v1/session.js';
import { RedisBus } from './bus.js';
import { decodeEnvelope, decodeMeta, decodeRec, encodeEnvelope, encodeMeta, encodeRec, type Envelope, type PeerRec } from './codec.js';

export interface ShardOptions extends Omit<CoordinatorOptions, 'observer'> {
  redisUrl: string;
  /** Subscriber URL when it differs (tests route only the subscriber through a fault proxy). */
  redisSubUrl?: string;
  /** `redisUrl` is a seed node of a Redis Cluster (≥ 7): sharded pub/sub, per-shard hash slots (bus.ts). */
  redisCluster?: boolean;
  /** Key/channel prefix (per deployment; tests use one per test). */
  prefix: string;
  /** Shard identity (the replica id). */
  shardId?: string;
  heartbeatMs?: number;
  /** Beats missed before a remote shard is LOST, and before this shard fences itself. */
  missedBeats?: number;
  /** Spread of 1012 closes when fencing/draining (jitter, no reconnect storm). */
  closeSpreadMs?: number;
  /** Minimum interval between two resyncs. */
  resyncMinIntervalMs?: number;
}

/** Close code for "service restart": peers reconnect (to another replica). */
export const WS_SERVICE_RESTART = 1012;

/** Close reasons sent with 1012 (one policy for v1 and v2 connections). */
export const RESTART_REASON = {
  refused: 'service restart: try another replica',
  fenced: 'service restart: coordinator unhealthy',
  draining: 'service restart: draining',
} as const;

/** A coordinate connection fencing and drain close: how to close it, and its protocol (metric label). */
interface Admitted {
  protocol: CoordinateProtocol;
  close(code: number, reason: string): void;
}

export type CoordinateProtocol = 'v1' | 'v2';

interface Remote {
  epoch: string;
  lastSeq: number;
  lastSeen: number;
  synced: boolean;
  recs: Map<PeerId, PeerRec>;
  tombs: Map<PeerId, number>;
}

class GhostSink implements PeerSink {
  readonly lastWriteAt = 0;
  constructor(
    readonly id: PeerId,
    private readonly onClose: (g: GhostSink) => void,
  ) {}
  enqueue(_r: CoordinateResponse): boolean {
    return true;
  }
  close(): void {
    this.onClose(this);
  }
}

interface Ghost {
  peer: Peer;
  sink: GhostSink;
  rec: PeerRec;
}

const MAX_TOMBS = 10_000;

export class Shard implements CoreObserver {
  readonly coordinator: Coordinator;
  readonly id: string;
  readonly epoch = randomBytes(8).toString('hex');
  readonly metrics: ShardMetrics;
  private readonly bus: RedisBus;
  private readonly logger: Logger;
  private readonly hbMs: number;
  private readonly missed: number;
  private readonly closeSpreadMs: number;
  private readonly resyncMinMs: number;
  private seq = 0;
  /** Seq of the publish issued before the one being built (what meta should hold when it lands). */
  private lastIssuedSeq = 0;
  private readonly local = new Map<PeerId, PeerRec>();
  private readonly remotes = new Map<string, Remote>();
  private readonly deadEpochs = new Set<string>();
  private readonly ghosts = new Map<PeerId, Ghost>();
  private readonly conns = new Set<Admitted>();
  private dirty = false;
  private lastPubOk = Date.now();
  private lastSelfEcho = Date.now();
  private subscribed = false;
  private isReady = false;
  private fenced = false;
  private publishFailing = false;
  private draining = false;
  private stopped = false;
  private resyncing: Promise<void> | null = null;
  private resyncAgain: string | null = null;
  private lastResyncAt = 0;
  private hbTimer: NodeJS.Timeout | null = null;
  private pendingReconcile = new Set<PeerId>();
  private reconcileScheduled = false;
  /** Counters for tests and the report. */
  readonly counters = { resyncs: 0, gaps: 0, lostShards: 0, fences: 0, ignored: 0, publishFailures: 0, mirrorRepairs: 0 };

  constructor(opts: ShardOptions) {
    this.id = opts.shardId ?? randomBytes(8).toString('hex');
    this.logger = opts.logger.child({ shard: this.id });
    const registry = opts.registry ?? new Registry();
    this.metrics = createShardMetrics(registry);
    this.coordinator = new Coordinator({ ...opts, registry, observer: this });
    this.hbMs = opts.heartbeatMs ?? 2000;
    this.missed = opts.missedBeats ?? 3;
    this.closeSpreadMs = opts.closeSpreadMs ?? 2000;
    this.resyncMinMs = opts.resyncMinIntervalMs ?? 200;
    this.bus = new RedisBus(
      opts.redisUrl,
      opts.prefix,
      {
        message: (b) => this.onMessage(b),
        subscribed: (first) => {
          this.subscribed = true;
          this.lastSelfEcho = Date.now();
          if (!first) {
            // Our own outage is not theirs: give every remote a fresh heartbeat window.
            const now = Date.now();
            for (const r of this.remotes.values()) r.lastSeen = now;
            this.isReady = false;
            this.requestResync('reconnect');
          }
        },
        down: () => {
          this.subscribed = false;
          this.isReady = false;
        },
      },
      this.logger,
      { ...(opts.redisSubUrl ? { subUrl: opts.redisSubUrl } : {}), commandTimeoutMs: this.hbMs, cluster: opts.redisCluster === true },
    );
  }

  async start(): Promise<void> {
    await this.bus.start();
    await this.heartbeat();
    this.hbTimer = setInterval(() => void this.heartbeat(), this.hbMs);
    this.hbTimer.unref();
    await this.requestResync('start');
  }

  /** Readiness for /readyz: subscribed, resynced since the last (re)subscribe, not fenced or draining. */
  ready(): boolean {
    return this.isReady && this.subscribed && !this.fenced && !this.draining && !this.stopped;
  }

  // ---- serving sockets ----

  /** Serves an agent socket (closed with 1012 while fenced or draining). */
  serveAgent(ws: WebSocket, opts: { agentId: string; name: string; recorder?: AgentConnectionRecorder }): Promise<unknown> {
    return this.serve(ws, () => serveAgentV1(this.coordinator, ws, opts));
  }

  /**
   * Serves a client socket. When its agent is held by another shard, the
   * agent's record is first re-read from that shard's mirror (socket paused
   * meanwhile, bounded wait): a client connecting right after the agent left
   * there never gets the departed node from a not-yet-delivered bus message.
   */
  serveClient(ws: WebSocket, opts: { clientId: string; agentId: string }): Promise<unknown> {
    const agentId = opts.agentId.toLowerCase();
    if (!this.ghosts.has(agentId)) return this.serve(ws, () => serveClientV1(this.coordinator, ws, opts));
    ws.pause();
    return this.serve(ws, async () => {
      await Promise.race([this.refreshPeer(agentId), new Promise((r) => setTimeout(r, 300).unref())]);
      const p = serveClientV1(this.coordinator, ws, opts);
      ws.resume();
      return p;
    });
  }

  /** Re-reads one peer's record from the mirrors of the shards we know hold it. */
  private async refreshPeer(id: PeerId): Promise<void> {
    const owners = [...this.remotes].filter(([, r]) => r.recs.has(id));
    if (owners.length === 0 || !this.subscribed) return;
    const k = this.bus.keys;
    try {
      const m = this.bus.pub.multi();
      for (const [s] of owners) m.hgetBuffer(k.mirror(s), id).get(k.meta(s));
      const res = await m.exec();
      if (res === null) return;
      owners.forEach(([s, r], i) => {
        const [e1, buf] = res[i * 2] ?? [new Error('missing'), null];
        const [e2, metaRaw] = res[i * 2 + 1] ?? [new Error('missing'), null];
        const meta = decodeMeta((metaRaw as string | null) ?? null);
        if (e1 !== null || e2 !== null || meta === null || this.remotes.get(s) !== r || meta.epoch !== r.epoch) return;
        const rec = buf === null ? null : decodeRec(buf as Buffer);
        if (rec !== null) this.applyRec(r, rec);
        else if ((r.recs.get(id)?.ver ?? Infinity) <= meta.seq) this.applyDel(r, id, meta.seq, false);
      });
    } catch {
      // Redis unreachable: serve from the bus view
    }
  }

  private async serve(ws: WebSocket, run: () => Promise<unknown>): Promise<unknown> {
    const release = this.admit(ws, 'v1');
    if (release === null) return 'rejected';
    try {
      return await run();
    } finally {
      release();
    }
  }

  /**
   * Admits one coordinate connection. While fenced or draining it is refused at
   * once (1012) and null is returned; otherwise it is tracked until the returned
   * release function is called, and fencing and drain close it with 1012 through
   * `close` (default: the WebSocket itself; v2 passes its yamux connection's close,
   * which sends GoAway first).
   */
  admit(ws: WebSocket, protocol: CoordinateProtocol, close?: (code: number, reason: string) => void): (() => void) | null {
    if (this.fenced || this.draining || this.stopped) {
      if (ws.readyState === ws.OPEN) ws.close(WS_SERVICE_RESTART, RESTART_REASON.refused);
      this.metrics.restartClose(protocol, 'refused');
      return null;
    }
    const entry: Admitted = {
      protocol,
      close:
        close ??
        ((code, reason) => {
          if (ws.readyState === ws.OPEN) ws.close(code, reason);
        }),
    };
    this.conns.add(entry);
    return () => {
      this.conns.delete(entry);
    };
  }

  /** Closes every admitted connection with 1012, spread over `spreadMs` so peers do not reconnect at once. */
  private closeAll(spreadMs: number, why: 'fenced' | 'draining'): Promise<void> {
    const all = [...this.conns];
    return new Promise((resolve) => {
      let left = all.length;
      if (left === 0) resolve();
      for (const c of all) {
        const t = setTimeout(() => {
          // Still open (not ended by the peer meanwhile): close it and count it.
          if (this.conns.delete(c)) {
            this.metrics.restartClose(c.protocol, why);
            c.close(WS_SERVICE_RESTART, RESTART_REASON[why]);
          }
          if (--left === 0) resolve();
        }, Math.random() * spreadMs);
        t.unref();
      }
    });
  }

  /** Graceful drain: GOODBYE first (other shards drop our peers at once), then 1012 to every socket. */
  async drain(spreadMs = this.closeSpreadMs): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.seq++;
    await this.publish({ v: 1, type: 'bye', epoch: this.epoch, seq: this.seq, from: this.id }, (p) =>
      p.del(this.bus.keys.mirror(this.id)).del(this.bus.keys.meta(this.id)).zrem(this.bus.keys.members, this.id),
    );
    await this.closeAll(spreadMs, 'draining');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.hbTimer) clearInterval(this.hbTimer);
    await this.coordinator.close();
    await this.bus.close();
  }

  // ---- local changes (CoreObserver) ----

  connected(peer: Peer): void {
    if (peer.sink instanceof GhostSink) return;
    const prev = this.local.get(peer.id);
    const rec: PeerRec = {
      id: peer.id,
      kind: peer.kind,
      name: peer.name.slice(0, 256),
      node: peer.node?.json ?? null,
      tunnels: prev?.tunnels ?? [],
      ver: 0,
      at: Date.now(),
    };
    this.publishRec(rec);
  }

  nodeChanged(peer: Peer): void {
    const rec = this.local.get(peer.id);
    if (rec === undefined || peer.sink instanceof GhostSink) return;
    this.publishRec({ ...rec, node: peer.node?.json ?? null, at: Date.now() });
  }

  tunnelAdded(peer: Peer, dst: PeerId): void {
    const rec = this.local.get(peer.id);
    if (rec === undefined || peer.sink instanceof GhostSink || rec.tunnels.includes(dst)) return;
    this.publishRec({ ...rec, tunnels: [...rec.tunnels, dst] });
  }

  tunnelRemoved(peer: Peer, dst: PeerId): void {
    const rec = this.local.get(peer.id);
    if (rec === undefined || peer.sink instanceof GhostSink) return;
    this.publishRec({ ...rec, tunnels: rec.tunnels.filter((t) => t !== dst) });
  }

  removed(peer: Peer, kind: 'LOST' | 'DISCONNECTED'): void {
    if (peer.sink instanceof GhostSink) return;
    if (!this.local.delete(peer.id)) return;
    const ver = ++this.seq;
    const env: Envelope = { v: 1, type: 'del', epoch: this.epoch, seq: ver, from: this.id, peer: peer.id, ver, graceful: kind === 'DISCONNECTED' };
    void this.publish(env, (p) => p.hdel(this.bus.keys.mirror(this.id), peer.id));
    // Another shard may hold the same id (cross-shard duplicate): reinstate it here.
    this.scheduleReconcile(peer.id, false, true);
  }

  private publishRec(rec: PeerRec): void {
    const ver = ++this.seq;
    const r = { ...rec, ver };
    this.local.set(r.id, r);
    if (this.draining) return;
    void this.publish({ v: 1, type: 'upd', epoch: this.epoch, seq: ver, from: this.id, rec: r }, (p) => p.hset(this.bus.keys.mirror(this.id), r.id, encodeRec(r)));
  }

  /**
   * One MULTI: mirror change, meta (epoch:seq of this publish), PUBLISH, so a
   * reader's atomic snapshot always matches a seq. After a failure the mirror
   * may have lost writes (or Redis restarted empty): the next publish, of any
   * kind, rewrites the whole mirror instead of patching it.
   */
  private async publish(env: Envelope, mirror: (p: ReturnType<RedisBus['pub']['multi']>) => unknown): Promise<boolean> {
    if (this.stopped) return false;
    const k = this.bus.keys;
    const p = this.bus.pub.multi();
    const rewrite = this.dirty;
    this.dirty = false;
    if (rewrite) {
      p.del(k.mirror(this.id));
      for (const r of this.local.values()) p.hset(k.mirror(this.id), r.id, encodeRec(r));
      if (env.type !== 'bye') {
        p.pexpire(k.mirror(this.id), this.ttlMs());
        p.zadd(k.members, Date.now() + this.ttlMs(), this.id);
      }
    }
    mirror(p);
    const previous = this.lastIssuedSeq;
    this.lastIssuedSeq = env.seq;
    const metaAt = p.length;
    p.setGet(k.meta(this.id), encodeMeta({ epoch: this.epoch, seq: env.seq }), 'PX', this.ttlMs());
    p.publish(k.channel, encodeEnvelope(env));
    try {
      const res = await p.exec();
      if (res === null) throw new Error('transaction aborted');
      const failed = res.find(([err]) => err !== null);
      if (failed !== undefined) throw failed[0];
      if (!rewrite) this.checkNotLost(previous, res[metaAt]?.[1]);
      this.publishFailing = false;
      return true;
    } catch (err) {
      // Once per outage at warn (the heartbeat fences if it lasts); every failure at debug.
      const msg = err instanceof Error ? err.message : String(err);
      if (!this.publishFailing) this.logger.warn({ err: msg, type: env.type }, 'shard bus publish failed');
      else this.logger.debug({ err: msg, type: env.type }, 'shard bus publish failed');
      this.publishFailing = true;
      this.dirty = true;
      this.counters.publishFailures++;
      this.metrics.publishFailed();
      return false;
    }
  }

  /**
   * Redis can lose writes it acknowledged (a Cluster failover to a replica that lagged; a
   * restart without persistence). Each publish swaps meta and gets the old value back: if it is
   * not our previous publish, mirror writes in between may be gone, so the next publish rewrites
   * the whole mirror, after a skipped seq so every reader sees a gap and resyncs from it.
   */
  private checkNotLost(previousSeq: number, replaced: unknown): void {
    if (previousSeq === 0 || this.dirty) return;
    const meta = typeof replaced === 'string' ? decodeMeta(replaced) : Buffer.isBuffer(replaced) ? decodeMeta(replaced.toString()) : null;
    if (meta !== null && meta.epoch === this.epoch && meta.seq >= previousSeq) return;
    this.counters.mirrorRepairs++;
    this.logger.warn({ expected_seq: previousSeq, found_seq: meta?.seq ?? null }, 'Redis lost acknowledged mirror writes: rewriting the mirror');
    this.dirty = true;
    this.seq++;
  }

  private ttlMs(): number {
    return this.hbMs * (this.missed + 2);
  }

  // ---- heartbeat, membership, fencing, watchdog ----

  private async heartbeat(): Promise<void> {
    if (this.stopped || this.draining) return;
    const k = this.bus.keys;
    const now = Date.now();
    const ver = ++this.seq;
    const ok = await this.publish({ v: 1, type: 'hb', epoch: this.epoch, seq: ver, from: this.id }, (p) => {
      p.pexpire(k.mirror(this.id), this.ttlMs());
      p.zadd(k.members, now + this.ttlMs(), this.id);
      p.zremrangebyscore(k.members, '-inf', now);
    });
    const t = Date.now();
    const window = this.hbMs * this.missed;
    if (ok) {
      this.lastPubOk = t;
      if (this.fenced) {
        this.fenced = false;
        this.logger.warn('redis reachable again: unfenced');
      }
    } else if (!this.fenced && t - this.lastPubOk > window) {
      this.fenced = true;
      this.counters.fences++;
      this.metrics.fenced();
      this.logger.error('redis unreachable past the heartbeat window: fencing (closing coordinate sockets with 1012)');
      void this.closeAll(this.closeSpreadMs, 'fenced');
    }
    // Watchdog: our own heartbeats come back through the subscriber; if they stop while publishing works, the subscription is dead.
    const selfSilent = t - this.lastSelfEcho > window;
    if (ok && this.subscribed && selfSilent) {
      this.logger.warn('watchdog: own heartbeats not echoed; reconnecting subscriber');
      this.subscribed = false;
      this.isReady = false;
      this.lastSelfEcho = t;
      this.bus.kickSubscriber();
    }
    // A resync loop gives up after its retries (e.g. a cluster failover outlasted them): while
    // subscribed but not resynced, every beat starts another, so readiness cannot stay lost.
    if (this.subscribed && !this.isReady && this.resyncing === null && !this.stopped) void this.requestResync('unsynced');
    // Remote expiry only while our own subscription is healthy (otherwise we are the partitioned one).
    if (this.subscribed && !selfSilent) {
      for (const [id, r] of this.remotes) {
        if (t - r.lastSeen > window) {
          this.counters.lostShards++;
          this.logger.warn({ remote: id }, 'shard missed heartbeats: its peers are LOST');
          this.dropRemote(id, r, false);
        }
      }
    }
    this.metrics.setRemoteShards(this.remotes.size);
    this.metrics.setGhostPeers(this.ghosts.size);
  }

  // ---- receiving ----

  private onMessage(buf: Buffer): void {
    if (this.stopped) return;
    const d = decodeEnvelope(buf);
    if (!d.ok) {
      this.ignore(d.error);
      return;
    }
    const env = d.env;
    if (env.from === this.id) {
      if (env.epoch === this.epoch) this.lastSelfEcho = Date.now();
      else this.ignore('foreign');
      return;
    }
    if (this.deadEpochs.has(env.epoch)) {
      this.ignore('old_epoch');
      return;
    }
    let r = this.remotes.get(env.from);
    if (r !== undefined && r.epoch !== env.epoch) {
      // New epoch: the shard restarted; everything from the old one is gone.
      this.dropRemote(env.from, r);
      r = undefined;
    }
    if (r === undefined) {
      r = { epoch: env.epoch, lastSeq: env.seq - 1, lastSeen: Date.now(), synced: env.seq === 1, recs: new Map(), tombs: new Map() };
      this.remotes.set(env.from, r);
      if (env.seq !== 1) void this.requestResync('new_shard');
    }
    if (env.seq <= r.lastSeq) {
      this.ignore('stale');
      return;
    }
    if (env.seq !== r.lastSeq + 1) {
      this.counters.gaps++;
      void this.requestResync('gap');
    }
    r.lastSeq = env.seq;
    r.lastSeen = Date.now();
    this.metrics.envelope(env.type);
    switch (env.type) {
      case 'hb':
        return;
      case 'bye':
        this.dropRemote(env.from, r);
        return;
      case 'upd':
        this.applyRec(r, env.rec);
        return;
      case 'del':
        this.applyDel(r, env.peer, env.ver, env.graceful);
        return;
    }
  }

  private ignore(why: string): void {
    this.counters.ignored++;
    this.metrics.envelope(`ignored_${why}`);
  }

  private applyRec(r: Remote, rec: PeerRec): void {
    const known = r.recs.get(rec.id)?.ver ?? -1;
    if (rec.ver <= known || rec.ver <= (r.tombs.get(rec.id) ?? -1)) return;
    r.recs.set(rec.id, rec);
    this.scheduleReconcile(rec.id);
  }

  private applyDel(r: Remote, id: PeerId, ver: number, graceful: boolean): void {
    const cur = r.recs.get(id);
    if (cur !== undefined && cur.ver >= ver) return;
    r.recs.delete(id);
    if (r.tombs.size >= MAX_TOMBS) r.tombs.clear();
    r.tombs.set(id, ver);
    if (cur !== undefined) this.scheduleReconcile(id, graceful);
  }

  /**
   * Forgets a remote shard's peers (LOST here). `dead` = that epoch ended for
   * good (GOODBYE or replaced by a new epoch): its late messages are ignored.
   * A shard dropped for silence is not dead: if it speaks again it is resynced.
   */
  private dropRemote(shardId: string, r: Remote, dead = true): void {
    this.remotes.delete(shardId);
    if (dead) this.deadEpochs.add(r.epoch);
    if (this.deadEpochs.size > 1024) this.deadEpochs.delete(this.deadEpochs.values().next().value as string);
    for (const id of r.recs.keys()) this.scheduleReconcile(id);
    r.recs.clear();
  }

  // ---- resync ----

  /** Single-flight, rate-limited resync from the mirror; resolves when a resync after this call has finished. */
  requestResync(trigger: string): Promise<void> {
    this.metrics.resync(trigger);
    if (this.resyncing !== null) {
      this.resyncAgain = trigger;
      return this.resyncing;
    }
    this.resyncing = (async () => {
      try {
        let t: string | null = trigger;
        for (let i = 0; t !== null && i < 20 && !this.stopped; i++) {
          this.resyncAgain = null;
          const wait = this.lastResyncAt + this.resyncMinMs - Date.now();
          if (wait > 0) await new Promise((res) => setTimeout(res, wait));
          this.lastResyncAt = Date.now();
          const ok = await this.resyncOnce();
          t = this.resyncAgain ?? (ok ? null : 'retry');
          if (!ok) await new Promise((res) => setTimeout(res, 250));
        }
      } finally {
        this.resyncing = null;
      }
    })();
    return this.resyncing;
  }

  private async resyncOnce(): Promise<boolean> {
    if (!this.subscribed) return false;
    const k = this.bus.keys;
    try {
      const now = Date.now();
      // Live members plus every shard we already know (it may not have re-announced itself yet).
      const listed = await this.bus.pub.zrangebyscore(k.members, now, '+inf');
      const members = [...new Set([...listed, ...this.remotes.keys()])].filter((m) => m !== this.id);
      // One MULTI: every mirror and its meta (epoch:seq) read atomically.
      const m = this.bus.pub.multi();
      for (const id of members) m.hgetallBuffer(k.mirror(id)).get(k.meta(id));
      const res = members.length > 0 ? await m.exec() : [];
      if (res === null) return false;
      for (let i = 0; i < members.length; i++) {
        const [e1, mirror] = res[i * 2] ?? [new Error('missing'), null];
        const [e2, meta] = res[i * 2 + 1] ?? [new Error('missing'), null];
        if (e1 !== null || e2 !== null) return false;
        this.applySnapshot(members[i] as string, mirror as Record<string, Buffer>, decodeMeta(meta as string | null));
      }
      this.counters.resyncs++;
      if (this.subscribed) this.isReady = true;
      return true;
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'resync failed');
      return false;
    }
  }

  private applySnapshot(shardId: string, mirror: Record<string, Buffer>, meta: ReturnType<typeof decodeMeta>): void {
    if (meta === null) {
      // A shard we hear from but whose mirror is not (yet) rewritten (Redis restarted empty): look again.
      if (this.remotes.has(shardId)) this.resyncAgain ??= 'missing_meta';
      return;
    }
    if (this.deadEpochs.has(meta.epoch)) return;
    let r = this.remotes.get(shardId);
    if (r !== undefined && r.epoch !== meta.epoch) {
      this.dropRemote(shardId, r);
      r = undefined;
    }
    if (r === undefined) {
      r = { epoch: meta.epoch, lastSeq: meta.seq, lastSeen: Date.now(), synced: true, recs: new Map(), tombs: new Map() };
      this.remotes.set(shardId, r);
    }
    // A mirror older than what the shard already announced lost writes (or its MULTI has not
    // landed yet on a Cluster): read again; the owner rewrites it at its next beat.
    if (meta.seq < r.lastSeq) this.resyncAgain ??= 'mirror_behind';
    r.lastSeq = Math.max(r.lastSeq, meta.seq);
    r.lastSeen = Date.now();
    r.synced = true;
    const seen = new Set<PeerId>();
    for (const buf of Object.values(mirror)) {
      const rec = decodeRec(buf);
      if (rec === null) {
        this.ignore('corrupt_mirror');
        continue;
      }
      seen.add(rec.id);
      this.applyRec(r, rec);
    }
    for (const [id, rec] of [...r.recs]) {
      if (!seen.has(id) && rec.ver <= meta.seq) this.applyDel(r, id, meta.seq, false);
    }
  }

  // ---- remote view → ghost peers in the local core ----

  /**
   * Applies the remote view of `id` to the local core: at once (every
   * intermediate node reaches local peers, as in one process), or in a
   * microtask when called from inside a core hook (no re-entry).
   */
  private scheduleReconcile(id: PeerId, graceful = false, defer = false): void {
    if (!defer) {
      this.reconcile(id, graceful);
      return;
    }
    this.pendingReconcile.add(id);
    if (this.reconcileScheduled) return;
    this.reconcileScheduled = true;
    queueMicrotask(() => {
      this.reconcileScheduled = false;
      const ids = [...this.pendingReconcile];
      this.pendingReconcile.clear();
      for (const i of ids) this.reconcile(i, false);
    });
  }

  /** Newest record for `id` among remote shards (newest node change wins; cross-shard duplicate agents). */
  private best(id: PeerId): PeerRec | null {
    let best: PeerRec | null = null;
    for (const r of this.remotes.values()) {
      const rec = r.recs.get(id);
      if (rec !== undefined && (best === null || rec.at > best.at)) best = rec;
    }
    return best;
  }

  private reconcile(id: PeerId, graceful: boolean): void {
    const core = this.coordinator.core;
    if (core.isClosed) return;
    if (this.local.has(id)) return; // a local session holds this id: it wins here
    const best = this.best(id);
    let g = this.ghosts.get(id);
    if (best === null) {
      if (g !== undefined) {
        this.ghosts.delete(id);
        if (graceful) core.disconnect(g.peer);
        else core.lost(g.peer);
      }
      return;
    }
    if (g === undefined || !g.peer.alive) {
      const sink = new GhostSink(id, (s) => {
        if (this.ghosts.get(id)?.sink === s) this.ghosts.delete(id);
      });
      const peer = core.connect(id, best.kind, best.name, sink);
      if (peer === null) return;
      g = { peer, sink, rec: { ...best, tunnels: [], node: null } };
      this.ghosts.set(id, g);
    }
    const had = new Set(g.rec.tunnels);
    const want = new Set(best.tunnels);
    for (const t of want) if (!had.has(t)) core.addTunnel(g.peer, t);
    for (const t of had) if (!want.has(t)) core.removeTunnel(g.peer, t);
    if (best.node !== null && best.node !== g.rec.node) {
      try {
        core.updateSelf(g.peer, decodeNode(best.node));
      } catch {
        this.ignore('bad_node');
      }
    }
    g.rec = best;
  }

  // ---- introspection (tests, debug) ----

  /** Canonical node JSON of a peer as this shard sees it (local or remote). */
  nodeJson(id: PeerId): string | null {
    return this.coordinator.nodeJson(id);
  }

  /** Where this shard's view of one peer comes from (fault-test diagnosis): local record, each remote's record or tombstone, the ghost. */
  explain(id: PeerId): Record<string, unknown> {
    const short = (rec: PeerRec | undefined): Record<string, unknown> | null => (rec === undefined ? null : { ver: rec.ver, at: rec.at, node: rec.node, tunnels: rec.tunnels.length });
    const remotes: Record<string, unknown> = {};
    for (const [sid, r] of this.remotes) remotes[sid] = { epoch: r.epoch, lastSeq: r.lastSeq, rec: short(r.recs.get(id)), tomb: r.tombs.get(id) ?? null };
    const g = this.ghosts.get(id);
    return { shard: this.id, seq: this.seq, local: short(this.local.get(id)), ghost: g === undefined ? null : { alive: g.peer.alive, ...short(g.rec) }, remotes, core: this.nodeJson(id) };
  }

  stats(): { local: number; ghosts: number; remotes: number; ready: boolean; fenced: boolean; connections: number } & Shard['counters'] {
    return { local: this.local.size, ghosts: this.ghosts.size, remotes: this.remotes.size, ready: this.ready(), fenced: this.fenced, connections: this.conns.size, ...this.counters };
  }
}
