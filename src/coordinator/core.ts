/**
 * Coordinator core: the single synchronous owner of coordination state.
 *
 *   adapters (v1 JSON WebSocket today, v2 dRPC stream later, shard bus later)
 *        │  connect / updateSelf / addTunnel / removeTunnel /
 *        │  readyForHandshake / disconnect / lost        (all synchronous)
 *        ▼
 *   ┌──────────────── CoordinatorCore ────────────────┐
 *   │ peers: id → Peer {node, sink, sent-cache}       │
 *   │ tunnels: src → dsts, dst → srcs (owned by src)  │
 *   │ names: agent id → debug name (LRU 512)          │
 *   └──────────────────────┬──────────────────────────┘
 *                          │ CoordinateResponse per recipient (shared
 *                          ▼ instance per fan-out, encoded once)
 *                PeerSink.enqueue (bounded, never blocks)
 *
 * No method awaits: every mutation and its fan-out happen in one turn of the
 * event loop, so state is never observed half-updated. A sink whose queue is
 * full makes the core drop that peer (partners get DISCONNECTED "failed
 * update"), so one stuck socket never slows anyone else.
 *
 * Semantics follow Coder's tailnet v2 core (tailnet-v2.md §3.5): NODE to every
 * tunnel partner, "init" batch on connect, per-recipient de-duplication, LOST
 * vs DISCONNECTED, tunnels survive their destination's absence.
 */
import type { CloseReason } from './errors.js';
import { Lru } from './lru.js';
import type { NodeRecord } from './node.js';
import { TunnelStore } from './tunnels.js';
import { CoordinateResponse, type PeerId, type PeerInfo, type PeerKind, type PeerSink, type PeerUpdate } from './types.js';

/** Hot-path counters; the metrics module implements this with pre-bound children. */
export interface CoreStats {
  /** One node accepted from a peer, fanned out to `delivered` recipients in `seconds`. */
  fanout(kind: PeerKind, delivered: number, duplicates: number, seconds: number): void;
  overflow(): void;
}

const noStats: CoreStats = { fanout() {}, overflow() {} };

/**
 * Change hooks for a replication layer (the shard bus): called synchronously
 * after the core applied the change. Must not throw; may not re-enter the core
 * synchronously (defer with queueMicrotask).
 */
export interface CoreObserver {
  connected(peer: Peer): void;
  nodeChanged(peer: Peer): void;
  tunnelAdded(peer: Peer, dst: PeerId): void;
  tunnelRemoved(peer: Peer, dst: PeerId): void;
  /** The peer left: `kind` says how its partners were told (overwrite and close do not call this). */
  removed(peer: Peer, kind: 'LOST' | 'DISCONNECTED'): void;
}

export interface CoreOptions {
  now?: () => number;
  monotonic?: () => number;
  stats?: CoreStats;
  nameCacheSize?: number;
  observer?: CoreObserver;
}

/** A registered peer session. Handles of overwritten/removed sessions are inert. */
export class Peer implements PeerInfo {
  node: NodeRecord | null = null;
  /** What this recipient last received about each other peer (NODE de-duplication). */
  readonly sent = new Map<PeerId, NodeRecord>();
  alive = true;
  overwrites = 0;

  constructor(
    readonly id: PeerId,
    readonly kind: PeerKind,
    readonly name: string,
    readonly sink: PeerSink,
    readonly createdAt: number,
  ) {}

  get lastWriteAt(): number {
    return this.sink.lastWriteAt;
  }
}

export class CoordinatorCore {
  private readonly peers = new Map<PeerId, Peer>();
  private readonly tunnels = new TunnelStore();
  private readonly names: Lru<PeerId, string>;
  private readonly now: () => number;
  private readonly monotonic: () => number;
  private readonly stats: CoreStats;
  private readonly kindCounts = { agent: 0, client: 0 };
  private closed = false;
  /** The recipient offerNode last reported as overflowed (3). */
  private overflowed: Peer | null = null;
  private readonly observer: CoreObserver | undefined;

  constructor(opts: CoreOptions = {}) {
    this.observer = opts.observer;
    this.now = opts.now ?? Date.now;
    this.monotonic = opts.monotonic ?? (() => performance.now());
    this.stats = opts.stats ?? noStats;
    this.names = new Lru(opts.nameCacheSize ?? 512);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Registers a peer stream. A live session with the same id is overwritten:
   * it is told so and closed, its partners hear nothing, and its node and
   * tunnels carry over to the new session. The new stream gets one "init"
   * response with the nodes of all tunnel partners that have one.
   * Returns null when the coordinator is closed.
   */
  connect(id: PeerId, kind: PeerKind, name: string, sink: PeerSink): Peer | null {
    if (this.closed) return null;
    const peer = new Peer(id, kind, name, sink, this.now());
    const old = this.peers.get(id);
    if (old !== undefined) {
      old.alive = false;
      peer.overwrites = old.overwrites + 1;
      peer.node = old.node;
      this.kindCounts[old.kind]--;
      old.sink.enqueue(new CoordinateResponse([], 'peer ID overwritten by new connection'));
      old.sink.close('overwritten', 'peer ID overwritten by new connection');
    }
    this.peers.set(id, peer);
    this.kindCounts[kind]++;
    if (kind === 'agent') this.names.set(id, name);

    const init: PeerUpdate[] = [];
    for (const other of this.tunnels.partners(id)) {
      const o = this.peers.get(other);
      if (o?.node) {
        peer.sent.set(other, o.node);
        init.push({ id: other, kind: 'NODE', node: o.node, reason: 'init' });
      }
    }
    if (init.length > 0 && !sink.enqueue(new CoordinateResponse(init))) {
      this.fail(peer);
      return null;
    }
    this.observer?.connected(peer);
    return peer;
  }

  /** Stores the peer's node and sends it to every tunnel partner that has not seen it. */
  updateSelf(peer: Peer, node: NodeRecord): void {
    if (!peer.alive) return;
    const t0 = this.monotonic();
    peer.node = node;
    const resp = new CoordinateResponse([{ id: peer.id, kind: 'NODE', node, reason: 'node update' }]);
    let delivered = 0;
    let duplicates = 0;
    // Overflowed recipients are rare: the list is only allocated when one occurs.
    let failed: Peer[] | null = null;
    const dsts = this.tunnels.destinationsOf(peer.id);
    if (dsts !== undefined) {
      for (const d of dsts) {
        const r = this.offerNode(d, peer.id, node, resp);
        if (r === 1) delivered++;
        else if (r === 2) duplicates++;
        else if (r === 3) (failed ??= []).push(this.takeOverflowed());
      }
    }
    const srcs = this.tunnels.sourcesOf(peer.id);
    if (srcs !== undefined) {
      for (const s of srcs) {
        const r = this.offerNode(s, peer.id, node, resp);
        if (r === 1) delivered++;
        else if (r === 2) duplicates++;
        else if (r === 3) (failed ??= []).push(this.takeOverflowed());
      }
    }
    if (failed !== null) for (const f of failed) this.fail(f);
    this.observer?.nodeChanged(peer);
    this.stats.fanout(peer.kind, delivered, duplicates, (this.monotonic() - t0) / 1000);
  }

  /** Records tunnel peer→dst and exchanges nodes that already exist. */
  addTunnel(peer: Peer, dst: PeerId): void {
    if (!peer.alive || dst === peer.id) return;
    this.tunnels.add(peer.id, dst);
    this.observer?.tunnelAdded(peer, dst);
    const other = this.peers.get(dst);
    if (other === undefined) return;
    if (other.node !== null) this.sendNode(peer, other.id, other.node, 'add tunnel');
    if (peer.node !== null && other.alive) this.sendNode(other, peer.id, peer.node, 'add tunnel');
  }

  /** Deletes tunnel peer→dst; both ends hear DISCONNECTED about each other. */
  removeTunnel(peer: Peer, dst: PeerId): void {
    if (!peer.alive || !this.tunnels.remove(peer.id, dst)) return;
    this.observer?.tunnelRemoved(peer, dst);
    if (this.tunnels.has(dst, peer.id)) return; // still partners through the reverse tunnel
    this.sendGone(peer, dst, 'DISCONNECTED', 'remove tunnel');
    const other = this.peers.get(dst);
    if (other !== undefined) this.sendGone(other, peer.id, 'DISCONNECTED', 'remove tunnel');
  }

  /**
   * Tells `src` that `peer` (the tunnel destination) is ready for its handshake.
   * Returns an error text when they share no tunnel (non-fatal for the caller).
   */
  readyForHandshake(peer: Peer, src: PeerId): string | null {
    if (!peer.alive) return null;
    if (!this.tunnels.shared(peer.id, src)) return `you do not share a tunnel with "${src}"`;
    const other = this.peers.get(src);
    if (other !== undefined) {
      this.deliver(other, new CoordinateResponse([{ id: peer.id, kind: 'READY_FOR_HANDSHAKE', node: null, reason: '' }]));
    }
    return null;
  }

  /** Graceful goodbye: partners get DISCONNECTED. The caller ends the stream. */
  disconnect(peer: Peer): void {
    this.remove(peer, 'DISCONNECTED', 'graceful disconnect');
  }

  /** The stream ended without a goodbye: partners get LOST. The caller ends the stream. */
  lost(peer: Peer): void {
    this.remove(peer, 'LOST', 'lost');
  }

  /** Shuts down: every peer is closed; partners are not notified. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const all = [...this.peers.values()];
    this.peers.clear();
    this.kindCounts.agent = 0;
    this.kindCounts.client = 0;
    for (const p of all) {
      p.alive = false;
      const lostUpdates: PeerUpdate[] = [];
      for (const id of p.sent.keys()) lostUpdates.push({ id, kind: 'LOST', node: null, reason: 'coordinator close' });
      p.sink.enqueue(new CoordinateResponse(lostUpdates, 'coordinator closed'));
      p.sink.close('coordinator_closed', 'coordinator closed');
    }
  }

  // ---- queries (tests, debug page, API) ----

  /** Node of a connected peer. */
  node(id: PeerId): NodeRecord | null {
    return this.peers.get(id)?.node ?? null;
  }

  peer(id: PeerId): PeerInfo | undefined {
    return this.peers.get(id);
  }

  /** Number of connected peers with a node (v1 `NodeCount`). */
  nodeCount(): number {
    let n = 0;
    for (const p of this.peers.values()) if (p.node !== null) n++;
    return n;
  }

  /** Connected agents (v1 `AgentCount`). */
  agentCount(): number {
    return this.kindCounts.agent;
  }

  clientCount(): number {
    return this.kindCounts.client;
  }

  tunnelCount(): number {
    return this.tunnels.size;
  }

  /** Connected agents that have at least one tunnel pointing at them. */
  agentsWithClients(): number {
    let n = 0;
    for (const [dst] of this.tunnels.destinations()) if (this.peers.get(dst)?.kind === 'agent') n++;
    return n;
  }

  allPeers(): IterableIterator<PeerInfo> {
    return this.peers.values();
  }

  /** Peers whose tunnels point at `dst` (connected sources only). */
  sourcesOf(dst: PeerId): PeerInfo[] {
    const out: PeerInfo[] = [];
    for (const s of this.tunnels.sourcesOf(dst) ?? []) {
      const p = this.peers.get(s);
      if (p !== undefined) out.push(p);
    }
    return out;
  }

  /** Tunnel destinations that are not connected, with their connected sources. */
  missingDestinations(): Array<{ id: PeerId; name: string; sources: PeerInfo[] }> {
    const out: Array<{ id: PeerId; name: string; sources: PeerInfo[] }> = [];
    for (const [dst] of this.tunnels.destinations()) {
      if (this.peers.has(dst)) continue;
      out.push({ id: dst, name: this.names.get(dst) ?? 'unknown', sources: this.sourcesOf(dst) });
    }
    return out;
  }

  // ---- internals ----

  /** Fan-out step for one recipient: 0 = absent, 1 = enqueued, 2 = duplicate, 3 = queue full (caller fails it). */
  private offerNode(toId: PeerId, about: PeerId, node: NodeRecord, resp: CoordinateResponse): 0 | 1 | 2 | 3 {
    const to = this.peers.get(toId);
    if (to === undefined) return 0;
    const prev = to.sent.get(about);
    if (prev !== undefined && (prev === node || prev.json === node.json)) return 2;
    to.sent.set(about, node);
    if (to.sink.enqueue(resp)) return 1;
    this.overflowed = to;
    return 3;
  }

  private takeOverflowed(): Peer {
    const p = this.overflowed as Peer;
    this.overflowed = null;
    return p;
  }

  private remove(peer: Peer, kind: 'LOST' | 'DISCONNECTED', reason: string): void {
    if (!peer.alive) return;
    peer.alive = false;
    this.peers.delete(peer.id);
    this.kindCounts[peer.kind]--;
    const partners = this.tunnels.partners(peer.id);
    this.tunnels.removeAllFrom(peer.id);
    for (const id of partners) {
      const other = this.peers.get(id);
      if (other !== undefined) this.sendGone(other, peer.id, kind, reason);
    }
    this.observer?.removed(peer, kind);
  }

  /** A recipient whose queue overflowed: removed, partners told DISCONNECTED "failed update". */
  private fail(peer: Peer): void {
    if (!peer.alive) return;
    this.stats.overflow();
    this.remove(peer, 'DISCONNECTED', 'failed update');
    peer.sink.close('queue_overflow', 'outbound queue overflow');
  }

  private sendNode(to: Peer, about: PeerId, node: NodeRecord, reason: string): void {
    const prev = to.sent.get(about);
    if (prev !== undefined && prev.json === node.json) return;
    to.sent.set(about, node);
    this.deliver(to, new CoordinateResponse([{ id: about, kind: 'NODE', node, reason }]));
  }

  /** DISCONNECTED/LOST go only to recipients that were sent a NODE about that peer. */
  private sendGone(to: Peer, about: PeerId, kind: 'LOST' | 'DISCONNECTED', reason: string): void {
    if (!to.sent.delete(about)) return;
    this.deliver(to, new CoordinateResponse([{ id: about, kind, node: null, reason }]));
  }

  private deliver(to: Peer, resp: CoordinateResponse): void {
    if (!to.sink.enqueue(resp)) this.fail(to);
  }
}
