/**
 * The server's own tailnet presence (Coder's "server tailnet"): one node key
 * per replica, attached to tailnetd's DERP relay, registered with the
 * coordinator as a client peer with one tunnel per agent in use.
 *
 *   dial(agentId, port) ─► ensureAgent: core.addTunnel(self, agent)
 *        ◄─ PeerSink.enqueue(NODE about agent) ─ agentPeerFromNode ─ entry.info
 *     ─► TailnetPeer.openSession(agent node key) ─► TcpStack.dial ─► TailnetSocket
 *   TailnetPeer.send ─► DerpLink ─► DERP (in-process)     DERP RecvPacket ─► TailnetPeer.receive
 *
 * Keeping the agent's view of us alive (tailnet-peer §2.6, §2.9): keepalives
 * run while connections are open (TailnetPeer), our node is re-sent with a new
 * as_of when handshakes go unanswered and before dialing after a long idle
 * spell (the agent evicts peers that have not handshaken for 5 min), and an
 * agent's session and tunnel are dropped after `idleMs` without connections.
 */
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Coordinator, Peer } from '../coordinator/index.js';
import { nodeRecord, type CoordinateResponse, type PeerSink } from '../coordinator/index.js';
import type { CloseReason } from '../coordinator/errors.js';
import type { DerpClient } from '../derp/client.js';
import type { PeerMetrics } from '../metrics/peer.js';
import {
  AGENT_PORT_HTTP_API,
  AGENT_PORT_RECONNECTING_PTY,
  DerpLink,
  TailnetPeer,
  agentPeerFromNode,
  generateTailnetAddress,
  ownNode,
  randomNodeId,
  type AgentPeerInfo,
  type AgentSession,
  type TailnetSocket,
} from '../tailnet/index.js';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import { generateKeyPair } from '../wireguard/index.js';
import { dialResultOf, peerError } from './errors.js';

export interface ServerTailnetOptions {
  coordinator: Coordinator;
  /** Opens a DERP session logged in with `privateKey` (in-process to the embedded relay). */
  connectDerp(privateKey: Buffer): Promise<DerpClient>;
  /** Region our node announces as preferred_derp (the relay connectDerp reaches). */
  regionId: number;
  logger: Logger;
  clock?: Clock;
  metrics?: PeerMetrics;
  /** Close an agent's session and tunnel after this long without connections (default 5 min). */
  idleMs?: number;
  /** Re-send our node before dialing when the agent has been idle this long (default 4 min). */
  refreshAfterMs?: number;
  /** DERP reconnect back-off bounds (ms). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Test seam: TailnetPeer tuning. */
  peerTuning?: { persistentKeepaliveMs?: number; firstContactRetriesMs?: number[]; reannounceAfter?: number };
}

export interface DialOptions {
  /** Bound on waiting for the agent's node plus the TCP handshake (default 15 s). */
  timeoutMs?: number;
}

/** What the API routes need: a connected byte stream to an agent port. */
export interface AgentDialer {
  dial(agentId: string, port: number, opts?: DialOptions): Promise<Duplex>;
}

interface AgentEntry {
  id: string;
  info: AgentPeerInfo | null;
  session: AgentSession | null;
  connections: number;
  lastActive: number;
  idleTimer: TimerHandle | null;
  waiters: Set<() => void>;
}

const hex = (k: Uint8Array): string => Buffer.from(k).toString('hex');

export class ServerTailnet implements AgentDialer {
  readonly clientId = randomUUID();
  readonly address = generateTailnetAddress();
  readonly nodeId = randomNodeId();
  readonly peer: TailnetPeer;
  private readonly privateKey: Uint8Array;
  private readonly discoKey: Uint8Array;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly agents = new Map<string, AgentEntry>();
  private readonly byKey = new Map<string, AgentEntry>();
  private link: DerpLink | null = null;
  private corePeer: Peer | null = null;
  private closed = false;
  private derpBackoff: number;
  private derpTimer: TimerHandle | null = null;
  private coordTimer: TimerHandle | null = null;
  private linkReady: Promise<void>;
  private resolveLink: (() => void) | null = null;

  constructor(private readonly opts: ServerTailnetOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger;
    const kp = generateKeyPair();
    this.privateKey = kp.privateKey;
    this.discoKey = generateKeyPair().publicKey;
    this.derpBackoff = opts.reconnectMinMs ?? 500;
    this.linkReady = new Promise((r) => (this.resolveLink = r));
    const t = opts.peerTuning ?? {};
    this.peer = new TailnetPeer({
      privateKey: this.privateKey,
      address: this.address,
      clock: this.clock,
      ...(t.persistentKeepaliveMs !== undefined ? { persistentKeepaliveMs: t.persistentKeepaliveMs } : {}),
      ...(t.firstContactRetriesMs ? { firstContactRetriesMs: t.firstContactRetriesMs } : {}),
      ...(t.reannounceAfter !== undefined ? { reannounceAfter: t.reannounceAfter } : {}),
      send: (dst, d) => {
        if (!this.link) return; // WireGuard retries once the relay is back
        this.opts.metrics?.bytes('tx', d.length);
        this.link.send(dst, d);
      },
      onEvent: (e) => {
        if (e.type === 'reannounce') {
          const entry = this.byKey.get(hex(e.agent));
          this.log.info({ agent_id: entry?.id, reason: e.reason }, 'server tailnet: handshakes unanswered, re-announcing our node');
          this.announce();
        }
      },
    });
    opts.metrics?.setSessionSource(() => {
      let sessions = 0;
      let connections = 0;
      for (const a of this.agents.values()) {
        if (a.session) sessions++;
        connections += a.connections;
      }
      return { sessions, connections };
    });
  }

  /** Registers with the coordinator, then attaches to DERP (admission may require a known node key). */
  async start(): Promise<void> {
    this.register();
    await this.connectDerp();
  }

  get publicKey(): Uint8Array {
    return this.peer.publicKey;
  }

  /** A connected TCP stream to `port` on the agent, or a PeerError/TailnetError. */
  async dial(agentId: string, port: number, opts: DialOptions = {}): Promise<TailnetSocket> {
    const timeoutMs = opts.timeoutMs ?? 15_000;
    const started = this.clock.monotonic();
    const left = (): number => Math.max(1, timeoutMs - (this.clock.monotonic() - started));
    try {
      if (this.closed) throw peerError('closed', 'server tailnet is closed');
      const entry = this.ensureAgent(agentId.toLowerCase());
      if (entry.connections === 0 && entry.session && this.clock.now() - entry.lastActive > (this.opts.refreshAfterMs ?? 240_000)) {
        // The agent may have pruned us (no handshake for 5 min) and dropped its keys: refresh our
        // node and start over with a fresh WireGuard peer, so the first packet is a handshake.
        this.announce();
        entry.session.close();
        entry.session = null;
      }
      entry.connections++; // holds the entry against the idle sweep while dialing
      this.cancelIdle(entry);
      let socket: TailnetSocket;
      try {
        await this.withTimeout(this.linkReady, left(), 'DERP relay not connected');
        const info = await this.agentInfo(entry, left());
        const session = this.sessionFor(entry, info);
        socket = await session.dial(port, { timeoutMs: left() });
      } catch (e) {
        this.release(entry);
        throw e;
      }
      socket.once('close', () => this.release(entry));
      this.opts.metrics?.dial(port, 'ok');
      return socket;
    } catch (e) {
      this.opts.metrics?.dial(port, dialResultOf(e));
      throw e;
    }
  }

  /** Stops everything: sessions, tunnels, coordinator registration, DERP. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.derpTimer?.cancel();
    this.coordTimer?.cancel();
    for (const e of this.agents.values()) {
      e.idleTimer?.cancel();
      for (const w of e.waiters) w();
    }
    this.agents.clear();
    this.byKey.clear();
    this.peer.close();
    const p = this.corePeer;
    this.corePeer = null;
    if (p) this.opts.coordinator.core.disconnect(p);
    this.link?.close();
    this.link = null;
  }

  /** Debug view. */
  snapshot(): Array<{ agentId: string; nodeKey: string | null; connections: number; reachable: boolean }> {
    return [...this.agents.values()].map((a) => ({ agentId: a.id, nodeKey: a.info ? hex(a.info.nodeKey) : null, connections: a.connections, reachable: a.session?.reachable ?? false }));
  }

  // ---- agents -----------------------------------------------------------------

  private ensureAgent(id: string): AgentEntry {
    let e = this.agents.get(id);
    if (e) return e;
    e = { id, info: null, session: null, connections: 0, lastActive: this.clock.now(), idleTimer: null, waiters: new Set() };
    this.agents.set(id, e);
    const node = this.opts.coordinator.node(id);
    if (node) this.noteAgentInfo(e, agentPeerFromNode(node));
    if (this.corePeer) this.opts.coordinator.core.addTunnel(this.corePeer, id);
    return e;
  }

  private agentInfo(e: AgentEntry, timeoutMs: number): Promise<AgentPeerInfo> {
    if (e.info) return Promise.resolve(e.info);
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        e.waiters.delete(wake);
        reject(peerError('no_agent_node', 'agent has announced no reachable tailnet node (not coordinating, or netcheck unfinished)'));
      }, timeoutMs);
      const wake = (): void => {
        timer.cancel();
        e.waiters.delete(wake);
        if (e.info) resolve(e.info);
        else reject(peerError('closed', 'server tailnet is closed'));
      };
      e.waiters.add(wake);
    });
  }

  private noteAgentInfo(e: AgentEntry, info: AgentPeerInfo | null): void {
    if (!info) return; // preferred_derp 0 or unusable keys: keep what we have (tailnet.Conn does the same)
    const old = e.info;
    if (old && hex(old.nodeKey) !== hex(info.nodeKey)) {
      // New agent identity (agent restarted): connections of the old session cannot survive.
      this.byKey.delete(hex(old.nodeKey));
      e.session?.close();
      e.session = null;
    }
    e.info = info;
    this.byKey.set(hex(info.nodeKey), e);
    for (const w of [...e.waiters]) w();
  }

  private sessionFor(e: AgentEntry, info: AgentPeerInfo): AgentSession {
    if (e.session && this.peer.session(info.nodeKey) === e.session) return e.session;
    e.session = this.peer.openSession(info.nodeKey, info.address);
    return e.session;
  }

  private release(e: AgentEntry): void {
    e.connections = Math.max(0, e.connections - 1);
    e.lastActive = this.clock.now();
    if (e.connections === 0 && !this.closed) this.armIdle(e);
  }

  private cancelIdle(e: AgentEntry): void {
    e.idleTimer?.cancel();
    e.idleTimer = null;
  }

  private armIdle(e: AgentEntry): void {
    this.cancelIdle(e);
    e.idleTimer = this.clock.setTimeout(() => {
      e.idleTimer = null;
      if (e.connections > 0 || this.agents.get(e.id) !== e) return;
      this.agents.delete(e.id);
      if (e.info) this.byKey.delete(hex(e.info.nodeKey));
      e.session?.close();
      if (this.corePeer) this.opts.coordinator.core.removeTunnel(this.corePeer, e.id);
    }, this.opts.idleMs ?? 300_000);
  }

  // ---- coordinator --------------------------------------------------------------

  private ownRecord() {
    return nodeRecord(ownNode({ id: this.nodeId, nodeKey: this.publicKey, discoKey: this.discoKey, preferredDerp: this.opts.regionId, address: this.address, asOf: new Date(this.clock.now()) }));
  }

  private register(): void {
    if (this.closed) return;
    const core = this.opts.coordinator.core;
    const sink: PeerSink = {
      lastWriteAt: 0,
      enqueue: (resp) => {
        this.onCoordinate(resp);
        return true;
      },
      close: (reason: CloseReason, message: string) => {
        if (this.closed || this.corePeer === null) return;
        this.corePeer = null;
        this.log.warn({ reason, message }, 'server tailnet: coordinator dropped us, registering again');
        this.coordTimer = this.clock.setTimeout(() => this.register(), 1000);
      },
    };
    const p = core.connect(this.clientId, 'client', 'tailnetd-server', sink);
    if (p === null) return; // coordinator closed (shutdown)
    this.corePeer = p;
    core.updateSelf(p, this.ownRecord());
    for (const id of this.agents.keys()) core.addTunnel(p, id);
  }

  /** Re-sends our node with a fresh as_of so every agent we tunnel to (re-)adds us. */
  private announce(): void {
    if (this.corePeer) this.opts.coordinator.core.updateSelf(this.corePeer, this.ownRecord());
  }

  private onCoordinate(resp: CoordinateResponse): void {
    for (const u of resp.updates) {
      const e = this.agents.get(u.id);
      if (!e) continue;
      if (u.kind === 'NODE' && u.node) this.noteAgentInfo(e, agentPeerFromNode(u.node.node));
      // DISCONNECTED/LOST: keep the last node (the agent may come back with the same key);
      // dials then fail on the TCP timeout or the relay's PeerGone.
    }
  }

  // ---- DERP -----------------------------------------------------------------------

  private async connectDerp(): Promise<void> {
    if (this.closed) return;
    try {
      const client = await this.opts.connectDerp(Buffer.from(this.privateKey));
      if (this.closed) {
        client.close();
        return;
      }
      const link = new DerpLink(client);
      link.onDatagram = (src, d) => {
        this.opts.metrics?.bytes('rx', d.length);
        this.peer.receive(src, d);
      };
      link.onPeerGone = (key) => this.peer.peerGone(key);
      this.link = link;
      this.derpBackoff = this.opts.reconnectMinMs ?? 500;
      this.resolveLink?.();
      void link.closed.then(() => this.onLinkClosed(link));
    } catch (e) {
      this.log.warn({ err: String(e) }, 'server tailnet: DERP connect failed');
      this.scheduleDerp();
    }
  }

  private onLinkClosed(link: DerpLink): void {
    if (this.link !== link || this.closed) return;
    this.link = null;
    this.linkReady = new Promise((r) => (this.resolveLink = r));
    this.log.warn('server tailnet: DERP link closed, reconnecting');
    this.scheduleDerp();
  }

  private scheduleDerp(): void {
    if (this.closed) return;
    const delay = this.derpBackoff;
    this.derpBackoff = Math.min(delay * 2, this.opts.reconnectMaxMs ?? 10_000);
    this.derpTimer = this.clock.setTimeout(() => void this.connectDerp(), delay);
  }

  private withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const t = this.clock.setTimeout(() => reject(peerError('unreachable', what)), ms);
      p.then(
        (v) => {
          t.cancel();
          resolve(v);
        },
        (err: unknown) => {
          t.cancel();
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }
}

export { AGENT_PORT_HTTP_API, AGENT_PORT_RECONNECTING_PTY };
