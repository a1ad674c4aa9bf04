/**
 * Per-session TCP demultiplexer: IPv6 packets in, TCBs by (local port,
 * remote port), IPv6 packets out; CLOSED-state replies for unknown
 * connections (RFC 9293 §3.10.7.1). Pure: output() is the only way out.
 *
 *   input(ipv6) ─► decode/verify ─► TCB(lport, rport) ─► TailnetSocket
 *                                   └ none ─► RST per CLOSED rules
 *   TCB.output(seg) ─► encodeTcp ─► encodeIpv6 ─► output(packet)
 */
import { randomBytes } from 'node:crypto';
import { formatIpv6, parseIpv6 } from '../wireguard/allowed-ips.js';
import { systemClock, type Clock } from '../util/clock.js';
import { tailnetError, type TailnetError } from './errors.js';
import { NEXT_HEADER_TCP, decodeIpv6, encodeIpv6, equalAddr } from './ipv6.js';
import { TcpConnection, type TcpOptions } from './tcp.js';
import { ACK, RST, type TcpSegment, decodeTcp, encodeTcp, segLen, seqAdd } from './tcp-segment.js';
import { TailnetSocket } from './tcp-socket.js';

export interface TcpStackRandom {
  /** Candidate ephemeral port. */
  port(): number;
  iss(): number;
}

export const systemStackRandom: TcpStackRandom = {
  port: () => 49152 + (randomBytes(2).readUInt16BE(0) % 16384),
  iss: () => randomBytes(4).readUInt32BE(0),
};

export interface TcpStackOptions {
  localAddress: Uint8Array | string;
  remoteAddress: Uint8Array | string;
  output(packet: Uint8Array): void;
  clock?: Clock;
  random?: TcpStackRandom;
  /** Overrides for every TCB (buffers, RTO bounds, timeouts). */
  tcp?: Partial<Omit<TcpOptions, 'clock' | 'localPort' | 'remotePort' | 'iss'>>;
  /** Called whenever the number of live TCBs changes (keepalive policy, metrics). */
  onConnectionCount?(n: number): void;
}

export interface ConnectOptions {
  /** Abort with ETIMEDOUT when not established in time (0 = no limit beyond the TCB's). */
  timeoutMs?: number;
  allowHalfOpen?: boolean;
}

interface Entry {
  conn: TcpConnection;
  socket: TailnetSocket;
}

const EMPTY = new Uint8Array(0);
const asAddr = (a: Uint8Array | string): Uint8Array => (typeof a === 'string' ? parseIpv6(a) : a);

export class TcpStack {
  private readonly local: Uint8Array;
  private readonly remote: Uint8Array;
  private readonly clock: Clock;
  private readonly random: TcpStackRandom;
  private readonly conns = new Map<number, Entry>();
  private failed: TailnetError | null = null;
  /** Counters for metrics and tests. */
  readonly stats = { badPackets: 0, resetsSent: 0 };

  constructor(private readonly opts: TcpStackOptions) {
    this.local = asAddr(opts.localAddress);
    this.remote = asAddr(opts.remoteAddress);
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? systemStackRandom;
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  /** Active open; the socket emits 'connect' when established or 'error'. */
  connect(remotePort: number, opts: ConnectOptions = {}): TailnetSocket {
    if (this.failed) throw this.failed;
    const localPort = this.allocPort(remotePort);
    const socket = new TailnetSocket({
      localAddress: formatIpv6(this.local),
      remoteAddress: formatIpv6(this.remote),
      localPort,
      remotePort,
      clock: this.clock,
      allowHalfOpen: opts.allowHalfOpen,
    });
    const key = this.key(localPort, remotePort);
    const events = socket.tcpEvents(
      (seg) => this.send(seg),
      () => {
        if (this.conns.get(key)?.socket === socket) {
          this.conns.delete(key);
          this.opts.onConnectionCount?.(this.conns.size);
        }
      },
    );
    const conn = new TcpConnection(
      { ...this.opts.tcp, clock: this.clock, localPort, remotePort, iss: this.random.iss() },
      events,
    );
    socket.attach(conn);
    this.conns.set(key, { conn, socket });
    this.opts.onConnectionCount?.(this.conns.size);
    if (opts.timeoutMs && opts.timeoutMs > 0) {
      const t = this.clock.setTimeout(() => {
        if (socket.connecting && !socket.destroyed) socket.destroy(tailnetError('ETIMEDOUT', 'connect timed out'));
      }, opts.timeoutMs);
      socket.once('connect', () => t.cancel());
      socket.once('close', () => t.cancel());
    }
    conn.open();
    return socket;
  }

  /** connect() as a promise that settles on 'connect' or the first error. */
  dial(remotePort: number, opts: ConnectOptions = {}): Promise<TailnetSocket> {
    return new Promise((resolve, reject) => {
      let socket: TailnetSocket;
      try {
        socket = this.connect(remotePort, opts);
      } catch (e) {
        reject(e);
        return;
      }
      const onErr = (e: Error): void => reject(e);
      socket.once('error', onErr);
      socket.once('connect', () => {
        socket.off('error', onErr);
        resolve(socket);
      });
    });
  }

  /** One IPv6 packet from the peer (already authenticated by WireGuard). */
  input(packet: Uint8Array): void {
    const ip = decodeIpv6(packet);
    if (!ip || ip.nextHeader !== NEXT_HEADER_TCP || !equalAddr(ip.src, this.remote) || !equalAddr(ip.dst, this.local)) {
      this.stats.badPackets++;
      return;
    }
    const seg = decodeTcp(ip.payload, ip.src, ip.dst);
    if (!seg) {
      this.stats.badPackets++;
      return;
    }
    const e = this.conns.get(this.key(seg.dstPort, seg.srcPort));
    if (e) e.conn.input(seg);
    else this.replyClosed(seg);
  }

  /** Fails every connection locally (session loss); later connects throw the same error. */
  fail(err: TailnetError = tailnetError('EHOSTUNREACH', 'tailnet session lost')): void {
    this.failed = err;
    for (const e of [...this.conns.values()]) e.conn.fail(err);
    this.conns.clear();
    this.opts.onConnectionCount?.(0);
  }

  /** Fails only connections still in SYN-SENT (e.g. the relay reports the agent gone); others keep retrying. */
  failConnecting(err: TailnetError): number {
    let n = 0;
    for (const e of [...this.conns.values()]) {
      if (e.conn.state === 'SYN-SENT') {
        e.conn.fail(err);
        n++;
      }
    }
    return n;
  }

  private replyClosed(seg: TcpSegment): void {
    if (seg.flags & RST) return;
    this.stats.resetsSent++;
    if (seg.flags & ACK) {
      this.send({ srcPort: seg.dstPort, dstPort: seg.srcPort, seq: seg.ack, ack: 0, flags: RST, window: 0, urgent: 0, mss: null, payload: EMPTY });
    } else {
      this.send({
        srcPort: seg.dstPort,
        dstPort: seg.srcPort,
        seq: 0,
        ack: seqAdd(seg.seq, segLen(seg)),
        flags: RST | ACK,
        window: 0,
        urgent: 0,
        mss: null,
        payload: EMPTY,
      });
    }
  }

  private send(seg: TcpSegment): void {
    this.opts.output(encodeIpv6(this.local, this.remote, NEXT_HEADER_TCP, encodeTcp(seg, this.local, this.remote)));
  }

  private key(localPort: number, remotePort: number): number {
    return localPort * 65536 + remotePort;
  }

  private allocPort(remotePort: number): number {
    for (let i = 0; i < 64; i++) {
      const p = this.random.port();
      if (!this.conns.has(this.key(p, remotePort))) return p;
    }
    for (let p = 49152; p <= 65535; p++) if (!this.conns.has(this.key(p, remotePort))) return p;
    throw tailnetError('EADDRINUSE', 'no free local port');
  }
}
