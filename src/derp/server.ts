/**
 * DerpServer: the single owner of relay state.
 *
 *   transports (http.ts: Upgrade: DERP, WebSocket; any DerpStream)
 *        │ accept(stream, info)
 *        ▼
 *   DerpServer ── clients: keyId → ClientSet{conns, active}   (local connections, duplicates)
 *        │     ── forwarders: keyId → PacketForwarder[]       (keys held by mesh peers / replicas)
 *        │     ── watchers: mesh Conns receiving PeerPresent/PeerGone
 *        │     ── goneSubs: keyId → Conns that received from that key (PeerGone(Disconnected))
 *        ▼
 *   Conn (conn.ts): handshake, frame dispatch, bounded queues, batched writer
 *
 * Everything runs on the event loop; routing is synchronous and a packet is
 * copied once, into the destination's next write buffer.
 */
import { EventEmitter } from 'node:events';
import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { systemClock, type Clock } from '../util/clock.js';
import { createDerpMetrics, dropIndex, type CloseReason, type DerpStats, type DropReason } from '../metrics/derp.js';
import { Conn, type ConnInfo } from './conn.js';
import { SocketStream, type DerpStream } from './stream.js';
import { duplexPair } from './pipe.js';
import type { Duplex } from 'node:stream';
import {
  KEEPALIVE_FRAME,
  KEEPALIVE_MS,
  KEEPALIVE_JITTER_MS,
  KEY_LEN,
  PeerGoneReason,
  ipTo16,
  isDisco,
  keyEquals,
  peerPresentFrame,
  restartingFrame,
  serverKeyFrame,
  healthFrame,
} from './frame.js';
import { privateKeyObject, publicFromPrivate, shortKey } from './key.js';

export interface DerpLimits {
  /** Deadline for ServerKey → ClientInfo (upstream 10 s). */
  handshakeTimeoutMs: number;
  /** A connection whose writes stay blocked this long is closed (2 s; 0 disables). */
  writeTimeoutMs: number;
  meshWriteTimeoutMs: number;
  /** Per-connection depth of each of the two packet queues (upstream 32, Coder 512). */
  queueDepth: number;
  keepAliveMs: number;
  keepAliveJitterMs: number;
  /** Largest single write buffer built by a flush. */
  maxFlushBytes: number;
  /** Receive rate limit per non-mesh client (bytes/s, 0 = off) and its burst (floored to 65568). */
  perClientBytesPerSec: number;
  perClientBurstBytes: number;
  /** New connections per second (0 = unlimited) and burst; over-limit ones are closed at once. */
  acceptPerSec: number;
  acceptBurst: number;
  notHereBurst: number;
  notHerePerSec: number;
}

export const DEFAULT_LIMITS: DerpLimits = {
  handshakeTimeoutMs: 10_000,
  writeTimeoutMs: 2_000,
  meshWriteTimeoutMs: 30_000,
  queueDepth: 512,
  keepAliveMs: KEEPALIVE_MS,
  keepAliveJitterMs: KEEPALIVE_JITTER_MS,
  maxFlushBytes: 256 * 1024,
  perClientBytesPerSec: 0,
  perClientBurstBytes: 0,
  acceptPerSec: 0,
  acceptBurst: 0,
  notHereBurst: 3,
  notHerePerSec: 1,
};

/** Something that can carry packets to keys held elsewhere (a mesh peer, another replica). */
export interface PacketForwarder {
  forwardPacket(src: Buffer, dst: Buffer, packet: Buffer): void;
}

export interface DerpServerOptions {
  privateKey: Buffer;
  /** Pre-shared mesh key; any string (Coder uses 32 chars, upstream 64 hex). */
  meshKey?: string | undefined;
  logger: Logger;
  registry: Registry;
  clock?: Clock;
  /**
   * Admission of a node key after its ClientInfo opened. Mesh peers skip it.
   * A throw or rejected promise refuses (fail closed).
   */
  admit?: (nodeKey: Buffer) => boolean | Promise<boolean>;
  limits?: Partial<DerpLimits>;
  /** Send a Health frame to connections whose key is connected more than once. */
  healthOnDuplicate?: boolean;
  /** [0,1) source for keep-alive jitter. */
  random?: () => number;
}

export interface CloseOptions {
  /** Tell clients to come back: Restarting(reconnectInMs, tryForMs) before closing. */
  restarting?: { reconnectInMs: number; tryForMs: number };
  /** How long to wait for connections to flush before destroying them. */
  graceMs?: number;
}

interface ClientSet {
  readonly key: Buffer;
  conns: Conn[];
  active: Conn | null;
  dead: boolean;
}

export interface DerpServerEvents {
  /** A key got its first local connection. */
  clientConnected: [key: Buffer];
  /** A key's last local connection went away. */
  clientDisconnected: [key: Buffer];
}

/** Free write slabs kept for reuse (each maxFlushBytes, 256 KiB by default). */
const MAX_FREE_SLABS = 32;
/** libuv's own read size: one read takes what a busy sender's socket holds. */
const READ_BUFFER_SIZE = 64 * 1024;

const DUP_HEALTH = 'this node key is connected to this DERP server more than once; only the most recent sender receives packets';

/** The parts of the server Conn uses (kept narrow for readability). */
export interface DerpServerCore {
  readonly limits: DerpLimits;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly stats: DerpStats;
  readonly privateKeyObject: KeyObject;
  readonly meshKey: string | undefined;
  readonly admit: ((nodeKey: Buffer) => boolean | Promise<boolean>) | undefined;
  readonly keepAliveFrame: Buffer;
  tick: number;
  activitySeq: number;
  inputDepth: number;
  /**
   * During a read from a transport that reuses its read buffer: that
   * buffer's memory. Packets of it still queued when a receiver pushes back
   * are copied out before the read returns.
   */
  transientInput: ArrayBufferLike | null;
  flushDirty(): void;
  random(): number;
  ipTo16(addr: string | undefined): Buffer | null;
  markDirty(c: Conn): void;
  takeSlab(): Buffer;
  returnSlab(b: Buffer): void;
  register(c: Conn): void;
  unregister(c: Conn): void;
  promote(c: Conn): void;
  routeSend(c: Conn, p: Buffer, inline: boolean): void;
  routeForward(c: Conn, p: Buffer): void;
  setPreferred(c: Conn, v: boolean): void;
  addWatcher(c: Conn): void;
  closePeer(key: Buffer): void;
  recordDrop(reason: DropReason, disco: boolean, bytes: number): void;
  connClosed(c: Conn, reason: CloseReason): void;
  streamClosed(c: Conn): void;
}

export class DerpServer extends EventEmitter<DerpServerEvents> implements DerpServerCore {
  readonly publicKey: Buffer;
  readonly privateKeyObject: KeyObject;
  readonly meshKey: string | undefined;
  readonly limits: DerpLimits;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly stats: DerpStats;
  readonly admit: ((nodeKey: Buffer) => boolean | Promise<boolean>) | undefined;
  readonly keepAliveFrame = KEEPALIVE_FRAME;
  readonly random: () => number;
  tick: number;
  activitySeq = 0;
  /** Reads in progress (Conn.data, or a transport's beginRead bracket; nested when a write feeds another connection synchronously). */
  inputDepth = 0;
  transientInput: ArrayBufferLike | null = null;
  private sharedReadBuffer: Buffer | null = null;

  private readonly serverKeyFrame: Buffer;
  private readonly clients = new Map<string, ClientSet>();
  private readonly forwarders = new Map<string, PacketForwarder[]>();
  private readonly goneSubs = new Map<string, Set<Conn>>();
  private readonly watchers = new Set<Conn>();
  private readonly conns = new Set<Conn>();
  /**
   * Connections with queued output: dirty[0..dirtyCount). Two arrays swap
   * between flushes and are cleared slot by slot, so marking a connection
   * allocates nothing once they have grown (an array emptied with length = 0
   * or replaced by [] would reallocate its backing store on every packet).
   */
  private dirty: Array<Conn | undefined> = [];
  private dirtyCount = 0;
  private spareDirty: Array<Conn | undefined> | null = [];
  private flushScheduled = false;
  private accepts = 0;
  private acceptTokens: number;
  private acceptAt: number;
  private closing = false;
  private readonly healthOnDuplicate: boolean;
  private readonly flushAll = (): void => this.runFlush();
  private readonly closeWaiters = new Map<Conn, () => void>();
  private readonly slabs: Buffer[] = [];

  constructor(opts: DerpServerOptions) {
    super();
    this.privateKeyObject = privateKeyObject(opts.privateKey);
    this.publicKey = publicFromPrivate(opts.privateKey);
    this.meshKey = opts.meshKey || undefined;
    this.logger = opts.logger;
    this.clock = opts.clock ?? systemClock;
    this.admit = opts.admit;
    this.random = opts.random ?? Math.random;
    this.healthOnDuplicate = !!opts.healthOnDuplicate;
    const limits = { ...DEFAULT_LIMITS, ...opts.limits };
    if (limits.perClientBytesPerSec > 0) limits.perClientBurstBytes = Math.max(limits.perClientBurstBytes, 65568);
    limits.maxFlushBytes = Math.max(limits.maxFlushBytes, 5 + 2 * KEY_LEN + 65536 + 1024);
    this.limits = limits;
    this.stats = createDerpMetrics(opts.registry).stats;
    this.serverKeyFrame = serverKeyFrame(this.publicKey);
    this.tick = this.clock.monotonic();
    this.acceptTokens = Math.max(1, limits.acceptBurst);
    this.acceptAt = this.tick;
  }

  // ---- public API ---------------------------------------------------------------

  /** Runs a DERP session on `stream`; the server speaks first (ServerKey). */
  accept(stream: DerpStream, info: ConnInfo = {}): void {
    const id = ++this.accepts;
    this.stats.accepts++;
    if (stream.kind === 'websocket') this.stats.websocketAccepts++;
    const c = new Conn(this, stream, id, info);
    this.conns.add(c);
    if (this.closing || !this.acceptAllowed()) {
      stream.start({ data: () => {}, drain: () => {}, closed: () => {} });
      c.close(this.closing ? 'server_close' : 'accept_rate_limited');
      return;
    }
    c.start(info.preamble, this.serverKeyFrame);
  }

  /**
   * A DERP session without any network: returns the client end of an
   * in-memory pipe whose server end is accepted here (Coder's embedded relay;
   * use DerpClient.connectDuplex on it).
   */
  connectInProcess(info: ConnInfo = {}): Duplex {
    const [serverEnd, clientEnd] = duplexPair();
    this.accept(new SocketStream(serverEnd), info);
    return clientEnd;
  }

  /** Keys with at least one local connection. */
  connectedKeys(): Buffer[] {
    return [...this.clients.values()].map((s) => s.key);
  }

  isLocal(key: Uint8Array): boolean {
    return this.clients.has(Buffer.from(key.buffer, key.byteOffset, KEY_LEN).toString('latin1'));
  }

  get connectionCount(): number {
    return this.stats.connections;
  }

  /** Routes packets for `key` through `fwd` while the key has no local connection. */
  addPacketForwarder(key: Uint8Array, fwd: PacketForwarder): void {
    const id = Buffer.from(key.buffer, key.byteOffset, KEY_LEN).toString('latin1');
    const list = this.forwarders.get(id);
    if (!list) {
      this.forwarders.set(id, [fwd]);
      if (!this.clients.has(id)) this.stats.clientsRemote++;
    } else if (!list.includes(fwd)) list.push(fwd);
  }

  removePacketForwarder(key: Uint8Array, fwd: PacketForwarder): void {
    const k = Buffer.from(key.buffer, key.byteOffset, KEY_LEN);
    const id = k.toString('latin1');
    const list = this.forwarders.get(id);
    if (!list) return;
    const i = list.indexOf(fwd);
    if (i < 0) return;
    list.splice(i, 1);
    if (list.length > 0) return;
    this.forwarders.delete(id);
    if (!this.clients.has(id)) {
      this.stats.clientsRemote--;
      this.peerGoneFromRegion(id, Buffer.from(k));
    }
  }

  /**
   * Stops accepting and ends every connection: with `restarting`, clients get
   * a Restarting frame first; queued frames are flushed, then sockets ended.
   */
  async close(opts: CloseOptions = {}): Promise<void> {
    this.closing = true;
    const frame = opts.restarting ? restartingFrame(opts.restarting.reconnectInMs, opts.restarting.tryForMs) : null;
    const all = [...this.conns];
    const done = all.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.streamGone) return resolve();
          this.closeWaiters.set(c, resolve);
        }),
    );
    for (const c of all) {
      if (frame && c.active) c.queueCtrl(frame);
      c.close('server_close', true);
    }
    const graceMs = opts.graceMs ?? 2000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(done),
      new Promise<void>((r) => {
        timer = setTimeout(r, graceMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    for (const c of all) c.stream.destroy();
  }

  // ---- Conn callbacks ---------------------------------------------------------------

  /**
   * The read buffer of every plain-TCP stream (raw or WebSocket) on this
   * server. Socket reads never nest and Conn copies out what outlives a read
   * (see StreamSink.beginRead), so one is enough.
   */
  readBuffer(): Buffer {
    return (this.sharedReadBuffer ??= Buffer.allocUnsafeSlow(READ_BUFFER_SIZE));
  }

  /** A maxFlushBytes write buffer; recycled through returnSlab once the transport is done with it. */
  takeSlab(): Buffer {
    return this.slabs.pop() ?? Buffer.allocUnsafeSlow(this.limits.maxFlushBytes);
  }

  returnSlab(b: Buffer): void {
    if (this.slabs.length < MAX_FREE_SLABS) this.slabs.push(b);
  }

  ipTo16(addr: string | undefined): Buffer | null {
    return ipTo16(addr);
  }

  markDirty(c: Conn): void {
    c.dirty = true;
    this.dirty[this.dirtyCount++] = c;
    // Inside a read the outermost endRead flushes (flushDirty); other sources
    // (timers, closes, mesh) defer to a microtask so one turn's writes batch.
    if (!this.flushScheduled && this.inputDepth === 0) {
      this.flushScheduled = true;
      queueMicrotask(this.flushAll);
    }
  }

  /** Flushes every dirty connection now (end of the outermost read). */
  flushDirty(): void {
    if (this.dirtyCount > 0) this.runFlush();
  }

  private runFlush(): void {
    this.flushScheduled = false;
    const list = this.dirty;
    const n = this.dirtyCount;
    // A flush can re-enter (a write that synchronously feeds another connection):
    // the nested run then finds no spare and takes a fresh array.
    this.dirty = this.spareDirty ?? [];
    this.spareDirty = null;
    this.dirtyCount = 0;
    for (let i = 0; i < n; i++) {
      const c = list[i]!;
      list[i] = undefined;
      if (c.dirty) c.flush();
    }
    this.spareDirty = list;
  }

  connClosed(c: Conn, reason: CloseReason): void {
    this.conns.delete(c);
    if (this.logger.isLevelEnabled('debug')) {
      this.logger.debug({ conn: c.id, key: c.keyId ? shortKey(c.key) : undefined, reason }, 'derp: connection closed');
    }
  }

  /** The transport under `c` has really closed (after a graceful end, later than connClosed). */
  streamClosed(c: Conn): void {
    const w = this.closeWaiters.get(c);
    if (w) {
      this.closeWaiters.delete(c);
      w();
    }
  }

  register(c: Conn): void {
    const id = c.keyId;
    let set = this.clients.get(id);
    const s = this.stats;
    if (!set) {
      set = { key: c.key, conns: [], active: null, dead: false };
      this.clients.set(id, set);
      s.clientsLocal++;
      if (this.forwarders.has(id)) s.clientsRemote--;
      this.emit('clientConnected', c.key);
    }
    set.conns.push(c);
    set.active = c;
    c.set = set;
    const n = set.conns.length;
    if (n === 2) {
      s.dupClientKeys++;
      s.dupClientConns += 2;
      s.dupClientConnsTotal++;
      if (this.healthOnDuplicate) for (const d of set.conns) d.queueCtrl(healthFrame(DUP_HEALTH));
    } else if (n > 2) {
      s.dupClientConns++;
      s.dupClientConnsTotal++;
      if (this.healthOnDuplicate) c.queueCtrl(healthFrame(DUP_HEALTH));
    }
    s.connections++;
    if (this.logger.isLevelEnabled('debug')) {
      this.logger.debug(
        { conn: c.id, key: shortKey(c.key), mesh: c.isMesh, transport: c.stream.kind, remote: c.stream.remoteAddress, dup: n > 1 },
        'derp: client connected',
      );
    }
    if (this.watchers.size > 0) {
      const f = peerPresentFrame(c.key, c.ip16, c.port, c.presentFlags());
      for (const w of this.watchers) w.queueCtrl(f);
    }
  }

  unregister(c: Conn): void {
    const s = this.stats;
    s.connections--;
    if (c.preferred) s.homeConnections--;
    if (c.isWatcher) {
      this.watchers.delete(c);
      s.watchers--;
    }
    if (c.seen) {
      for (const src of c.seen) {
        const subs = this.goneSubs.get(src);
        if (subs) {
          subs.delete(c);
          if (subs.size === 0) this.goneSubs.delete(src);
        }
      }
      c.seen = null;
    }
    const set = c.set;
    if (!set) return;
    c.set = null;
    const i = set.conns.indexOf(c);
    if (i >= 0) set.conns.splice(i, 1);
    const n = set.conns.length;
    if (n === 0) {
      set.dead = true;
      set.active = null;
      this.clients.delete(c.keyId);
      s.clientsLocal--;
      if (this.forwarders.has(c.keyId)) s.clientsRemote++;
      else this.peerGoneFromRegion(c.keyId, c.key);
      if (this.watchers.size > 0) {
        for (const w of this.watchers) w.queuePeerGone(c.key, PeerGoneReason.Disconnected);
      }
      this.emit('clientDisconnected', c.key);
      return;
    }
    if (n === 1) {
      s.dupClientKeys--;
      s.dupClientConns -= 2;
      if (this.healthOnDuplicate) set.conns[0]!.queueCtrl(healthFrame(''));
    } else s.dupClientConns--;
    if (set.active === c || set.active === null) {
      let best = set.conns[0]!;
      for (const d of set.conns) if (d.lastActivity > best.lastActivity || (d.lastActivity === best.lastActivity && d.id > best.id)) best = d;
      set.active = best;
    }
  }

  /** Last writer is active. */
  promote(c: Conn): void {
    if (c.set) c.set.active = c;
  }

  private lookup(c: Conn, p: Buffer, off: number): ClientSet | undefined {
    const cached = c.lastDstSet;
    if (cached !== null && !cached.dead && keyEquals(c.lastDst!, 0, p, off)) return cached as ClientSet;
    const set = this.clients.get(p.toString('latin1', off, off + KEY_LEN));
    if (set) {
      if (c.lastDst === null) c.lastDst = Buffer.allocUnsafe(KEY_LEN);
      p.copy(c.lastDst, 0, off, off + KEY_LEN);
      c.lastDstSet = set;
    }
    return set;
  }

  /** `inline`: p's SendPacket header precedes it in a buffer we own, so the frame may be rewritten in place. */
  routeSend(c: Conn, p: Buffer, inline: boolean): void {
    const s = this.stats;
    const n = p.length - KEY_LEN;
    const disco = isDisco(p, KEY_LEN);
    s.packetsReceived++;
    s.bytesReceived += n;
    if (disco) s.packetsReceivedDisco++;
    else s.packetsReceivedOther++;
    const set = this.lookup(c, p, 0);
    const dst = set?.active;
    if (dst) {
      this.deliver(dst, p, KEY_LEN, c.key, c.keyId, inline);
      return;
    }
    if (!set || set.conns.length === 0) {
      const fw = this.forwarders.get(p.toString('latin1', 0, KEY_LEN));
      if (fw && fw.length > 0) {
        s.packetsForwardedOut++;
        try {
          fw[0]!.forwardPacket(c.key, Buffer.from(p.subarray(0, KEY_LEN)), p.subarray(KEY_LEN));
        } catch (e) {
          this.logger.debug({ err: e }, 'derp: forwarder failed');
        }
        return;
      }
    }
    if (set && set.conns.length > 1) {
      this.recordDrop('dup_client', disco, n);
      return;
    }
    this.recordDrop('unknown_dest', disco, n);
    if (disco && c.allowNotHere()) c.queuePeerGone(Buffer.from(p.subarray(0, KEY_LEN)), PeerGoneReason.NotHere);
  }

  routeForward(c: Conn, p: Buffer): void {
    const s = this.stats;
    const n = p.length - 2 * KEY_LEN;
    const disco = isDisco(p, 2 * KEY_LEN);
    s.packetsForwardedIn++;
    const set = this.lookup(c, p, KEY_LEN);
    const dst = set?.active;
    if (dst) {
      const src = Buffer.from(p.subarray(0, KEY_LEN));
      this.deliver(dst, p, 2 * KEY_LEN, src, src.toString('latin1'), false);
      return;
    }
    if (set && set.conns.length > 1) {
      this.recordDrop('dup_client', disco, n);
      return;
    }
    this.recordDrop('unknown_dest_on_fwd', disco, n);
    if (disco && c.allowNotHere()) c.queuePeerGone(Buffer.from(p.subarray(KEY_LEN, 2 * KEY_LEN)), PeerGoneReason.NotHere);
  }

  private deliver(dst: Conn, p: Buffer, off: number, src: Buffer, srcId: string, inline: boolean): void {
    if (dst.isClosed) {
      this.recordDrop('gone_disconnected', isDisco(p, off), p.length - off);
      return;
    }
    let seen = dst.seen;
    if (seen === null) seen = dst.seen = new Set();
    if (!seen.has(srcId)) {
      seen.add(srcId);
      let subs = this.goneSubs.get(srcId);
      if (!subs) this.goneSubs.set(srcId, (subs = new Set()));
      subs.add(dst);
    }
    dst.enqueue(p, off, src, inline);
  }

  /** `key` has no local connection and no forwarder any more: tell whoever received from it. */
  private peerGoneFromRegion(id: string, key: Buffer): void {
    const subs = this.goneSubs.get(id);
    if (!subs) return;
    this.goneSubs.delete(id);
    for (const b of subs) {
      b.seen?.delete(id);
      b.queuePeerGone(key, PeerGoneReason.Disconnected);
    }
  }

  setPreferred(c: Conn, v: boolean): void {
    if (c.preferred === v) return;
    c.preferred = v;
    const s = this.stats;
    s.homeConnections += v ? 1 : -1;
    if (this.clock.monotonic() - c.connectedAt > 5000) {
      if (v) s.homeMovesIn++;
      else s.homeMovesOut++;
    }
  }

  addWatcher(c: Conn): void {
    if (c.key.equals(this.publicKey)) return; // a server that dialled itself
    if (!c.isWatcher) {
      c.isWatcher = true;
      this.watchers.add(c);
      this.stats.watchers++;
    }
    for (const set of this.clients.values()) {
      const a = set.active;
      if (a) c.queueCtrl(peerPresentFrame(a.key, a.ip16, a.port, a.presentFlags()));
    }
  }

  closePeer(key: Buffer): void {
    const set = this.clients.get(key.toString('latin1', 0, KEY_LEN));
    if (!set) return;
    for (const c of [...set.conns]) c.close('close_peer');
  }

  recordDrop(reason: DropReason, disco: boolean, bytes: number): void {
    const i = dropIndex(reason, disco);
    this.stats.droppedPackets[i]!++;
    this.stats.droppedBytes[i]! += bytes;
  }

  private acceptAllowed(): boolean {
    const rate = this.limits.acceptPerSec;
    if (rate <= 0) return true;
    const now = this.clock.monotonic();
    const burst = Math.max(1, this.limits.acceptBurst);
    this.acceptTokens = Math.min(burst, this.acceptTokens + ((now - this.acceptAt) * rate) / 1000);
    this.acceptAt = now;
    if (this.acceptTokens < 1) return false;
    this.acceptTokens -= 1;
    return true;
  }
}
