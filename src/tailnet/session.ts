/**
 * tailnetd's tailnet peer without I/O: one identity (node key = WireGuard
 * static key = DERP login, one /128) and one session per agent. Every TCP
 * connection belongs to a session, never to an address, because all Coder
 * agents share one IP (spec §2.7).
 *
 *   receive(srcKey, datagram) ─► Device ─► deliver(peer, ip) ─► session(peer).stack ─► TailnetSocket
 *   session.dial(port) ─► TcpStack ─► WgPeer.send(ip) ─► Device ─► send(dstKey, datagram) ─► DERP
 *
 * Policy on top of wireguard-go's timers (spec §1.11, §2.9): quick retries of
 * the first handshake, persistent keepalive only while connections are open,
 * and a 'reannounce' event when handshakes go unanswered so the owner can
 * re-send our node through the coordinator.
 */
import { systemClock, type Clock } from '../util/clock.js';
import { parsePrefix6 } from '../wireguard/allowed-ips.js';
import { Device, type DeviceRandom } from '../wireguard/device.js';
import type { WgErrorCode } from '../wireguard/errors.js';
import type { PeerEvent, WgPeer } from '../wireguard/peer.js';
import { tailnetError, type TailnetError } from './errors.js';
import { AGENT_IP } from './node.js';
import { type ConnectOptions, TcpStack, type TcpStackOptions } from './stack.js';
import type { TailnetSocket } from './tcp-socket.js';

export type TailnetPeerEvent =
  | { type: 'handshake'; agent: Uint8Array }
  | { type: 'reannounce'; agent: Uint8Array; reason: 'unanswered' | 'failed' }
  | { type: 'drop'; agent: Uint8Array | null; reason: WgErrorCode };

export interface TailnetPeerOptions {
  /** Node private key: WireGuard static key and DERP login key. */
  privateKey: Uint8Array;
  /** Our /128 address (no prefix length). */
  address: string;
  /** Hands a datagram to the relay for the agent with this node key. */
  send(dst: Uint8Array, datagram: Uint8Array): void;
  onEvent?(e: TailnetPeerEvent): void;
  clock?: Clock;
  random?: DeviceRandom;
  /** Persistent keepalive while at least one connection is open (Tailscale uses 25 s). */
  persistentKeepaliveMs?: number;
  firstContactRetriesMs?: number[];
  /** Unanswered initiations before asking for a re-announcement. */
  reannounceAfter?: number;
  tcp?: TcpStackOptions['tcp'];
  stackRandom?: TcpStackOptions['random'];
}

const hexKey = (k: Uint8Array): string => Buffer.from(k).toString('hex');

export class AgentSession {
  readonly stack: TcpStack;
  private unanswered = 0;
  private closed = false;

  constructor(
    readonly agentKey: Uint8Array,
    readonly wg: WgPeer,
    stackOpts: TcpStackOptions,
    private readonly onClose: (s: AgentSession) => void,
  ) {
    this.stack = new TcpStack(stackOpts);
  }

  /** Active open to an agent port; the socket emits 'connect' or 'error'. */
  connect(port: number, opts?: ConnectOptions): TailnetSocket {
    return this.stack.connect(port, opts);
  }

  dial(port: number, opts?: ConnectOptions): Promise<TailnetSocket> {
    return this.stack.dial(port, opts);
  }

  /** True once a handshake with the agent has completed and keys are live. */
  get reachable(): boolean {
    return this.wg.hasSession;
  }

  /** Tears the session down: connections fail locally (EHOSTUNREACH unless given), keys are erased. */
  close(err: TailnetError = tailnetError('EHOSTUNREACH', 'agent session closed')): void {
    if (this.closed) return;
    this.closed = true;
    this.stack.fail(err);
    this.onClose(this);
  }

  /** @internal counts unanswered initiations; returns true when a re-announcement is due. */
  noteInitiation(threshold: number): boolean {
    this.unanswered++;
    return this.unanswered === threshold;
  }

  /** @internal */
  noteHandshake(): void {
    this.unanswered = 0;
  }
}

export class TailnetPeer {
  readonly device: Device;
  readonly address: string;
  private readonly sessions = new Map<string, AgentSession>();
  private readonly byPeer = new Map<WgPeer, AgentSession>();
  private readonly clock: Clock;

  constructor(private readonly opts: TailnetPeerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.address = opts.address;
    this.device = new Device({
      privateKey: opts.privateKey,
      clock: this.clock,
      random: opts.random,
      send: (peer, d) => opts.send(peer.publicKey, d),
      deliver: (peer, pkt) => this.byPeer.get(peer)?.stack.input(pkt),
      onEvent: (peer, e) => this.onDeviceEvent(peer, e),
    });
  }

  get publicKey(): Uint8Array {
    return this.device.publicKey;
  }

  /** A datagram the relay delivered from the node key `src`. */
  receive(src: Uint8Array, datagram: Uint8Array): void {
    this.device.receive(datagram, src);
  }

  session(agentKey: Uint8Array): AgentSession | undefined {
    return this.sessions.get(hexKey(agentKey));
  }

  /** Opens (or returns) the session with the agent whose node key is `agentKey`. */
  openSession(agentKey: Uint8Array, agentAddress: string = AGENT_IP): AgentSession {
    const existing = this.session(agentKey);
    if (existing) return existing;
    const wg = this.device.addPeer({
      publicKey: agentKey,
      allowedIps: [parsePrefix6(`${agentAddress}/128`)],
      firstContactRetriesMs: this.opts.firstContactRetriesMs ?? [250, 500, 1000, 2000],
    });
    const keepalive = this.opts.persistentKeepaliveMs ?? 25_000;
    const s = new AgentSession(
      new Uint8Array(agentKey),
      wg,
      {
        localAddress: this.address,
        remoteAddress: agentAddress,
        clock: this.clock,
        output: (p) => wg.send(p),
        tcp: this.opts.tcp,
        random: this.opts.stackRandom,
        onConnectionCount: (n) => {
          const want = n > 0 ? keepalive : 0;
          wg.setPersistentKeepalive(want);
        },
      },
      (closed) => {
        this.sessions.delete(hexKey(closed.agentKey));
        this.byPeer.delete(wg);
        this.device.removePeer(closed.agentKey);
      },
    );
    this.sessions.set(hexKey(agentKey), s);
    this.byPeer.set(wg, s);
    return s;
  }

  /**
   * The relay says the agent is not connected (DERP PeerGone): keep the
   * session and its established connections (WireGuard and TCP retry), but
   * fail dials still waiting for a SYN-ACK with EHOSTUNREACH.
   */
  peerGone(agentKey: Uint8Array): void {
    this.session(agentKey)?.stack.failConnecting(tailnetError('EHOSTUNREACH', 'agent not connected to the relay'));
  }

  /** Closes every session and the device. */
  close(): void {
    for (const s of [...this.sessions.values()]) s.close(tailnetError('EHOSTUNREACH', 'tailnet peer closed'));
    this.device.close();
  }

  private onDeviceEvent(peer: WgPeer | null, e: PeerEvent): void {
    const s = peer ? this.byPeer.get(peer) : undefined;
    const emit = this.opts.onEvent;
    switch (e.type) {
      case 'handshake-complete':
        if (s) {
          s.noteHandshake();
          emit?.({ type: 'handshake', agent: s.agentKey });
        }
        break;
      case 'initiation-sent':
        if (s && s.noteInitiation((this.opts.reannounceAfter ?? 2) + 1)) emit?.({ type: 'reannounce', agent: s.agentKey, reason: 'unanswered' });
        break;
      case 'handshake-failed':
        if (s) emit?.({ type: 'reannounce', agent: s.agentKey, reason: 'failed' });
        break;
      case 'drop':
        emit?.({ type: 'drop', agent: s?.agentKey ?? null, reason: e.reason });
        break;
      default:
        break;
    }
  }
}
