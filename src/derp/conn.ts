/**
 * One DERP connection as seen by the server: handshake, read dispatch, send
 * queues and the writer. All cross-connection state (routing, client sets,
 * watchers, forwarders) lives in DerpServer; Conn calls into it.
 *
 *   stream ─data→ FrameParser ─frame→ onHandshake / onFrame ─→ server.route…
 *   server ─enqueue→ qDisco / qOther / ctrl ─(microtask)→ flush() ─write→ stream
 */
import { randomBytes } from 'node:crypto';
import type { DerpServerCore } from './server.js';
import type { DerpStream, StreamSink } from './stream.js';
import { PacketQueue } from './queue.js';
import { DerpError, derpError, isDerpError } from './errors.js';
import {
  FRAME_HEADER_LEN,
  FrameParser,
  FrameType,
  KEY_LEN,
  MAX_CLIENT_INFO,
  MAX_PACKET_SIZE,
  MAX_PING,
  MIN_CLIENT_INFO,
  PING_LEN,
  PeerGoneReason,
  PeerPresentFlags,
  SKIP,
  encodeFrame,
  isDisco,
  isZeroKey,
  peerGoneFrame,
  pongFrame,
  writeRecvPacket,
} from './frame.js';
import { boxKey, openWithKey, sealWithKey } from './box.js';
import { encodeServerInfo, meshKeyMatches, parseClientInfo } from './info.js';
import { CLOSE_REASONS, type CloseReason } from '../metrics/derp.js';
import type { TimerHandle } from '../util/clock.js';

const HANDSHAKE_LIMITS = new Int32Array(256); // every other type: 0 → any payload closes
HANDSHAKE_LIMITS[FrameType.ClientInfo] = MAX_CLIENT_INFO;

const ACTIVE_LIMITS = new Int32Array(256).fill(SKIP);
ACTIVE_LIMITS[FrameType.SendPacket] = KEY_LEN + MAX_PACKET_SIZE;
ACTIVE_LIMITS[FrameType.ForwardPacket] = 2 * KEY_LEN + MAX_PACKET_SIZE;
ACTIVE_LIMITS[FrameType.NotePreferred] = 1;
ACTIVE_LIMITS[FrameType.WatchConns] = 0;
ACTIVE_LIMITS[FrameType.ClosePeer] = KEY_LEN;
ACTIVE_LIMITS[FrameType.Ping] = MAX_PING;

const ST_HANDSHAKE = 0;
const ST_ADMITTING = 1;
const ST_ACTIVE = 2;
const ST_CLOSED = 3;

/** Flushes up to this size use Node's small-buffer pool; larger ones a recycled slab. */
const SMALL_WRITE = 4096;
/** ServerInfo's plaintext is the same for every client. */
const SERVER_INFO = encodeServerInfo();

const closeIndex = new Map<CloseReason, number>(CLOSE_REASONS.map((r, i) => [r, i]));
const EMPTY_KEY = Buffer.alloc(KEY_LEN);

function reasonFor(e: DerpError): CloseReason {
  switch (e.code) {
    case 'frame_too_large':
      return 'frame_too_large';
    case 'insufficient_permissions':
      return 'insufficient_permissions';
    case 'write_timeout':
      return 'write_timeout';
    default:
      return 'protocol_error';
  }
}

export interface ConnInfo {
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
  /** The request carried a non-empty Ideal-Node header. */
  notIdeal?: boolean;
  /** Bytes to send before the ServerKey frame, in the same write (e.g. the HTTP 101). */
  preamble?: Buffer;
}

export class Conn implements StreamSink {
  readonly id: number;
  key: Buffer = EMPTY_KEY;
  keyId = '';
  isMesh = false;
  isProber = false;
  canAckPings = false;
  readonly notIdeal: boolean;
  preferred = false;
  connectedAt = 0;
  /** Sequence of the last frame received, for the last-writer-is-active duplicate policy. */
  lastActivity = 0;
  /** ClientSet this connection belongs to once registered (typed loosely to avoid a cycle). */
  set: { conns: Conn[]; active: Conn | null; dead: boolean } | null = null;
  isWatcher = false;
  /** The transport reported its close. */
  streamGone = false;

  readonly qDisco: PacketQueue;
  readonly qOther: PacketQueue;
  private ctrl: Buffer[] = [];
  pendingBytes = 0;
  dirty = false;
  private blocked = false;
  private pongPending = false;
  /** Keys this connection has received packets from (PeerGone subscriptions). */
  seen: Set<string> | null = null;
  /** Routing cache: last destination looked up by this sender. */
  lastDst: Buffer | null = null;
  lastDstSet: { conns: Conn[]; active: Conn | null; dead: boolean } | null = null;

  private state = ST_HANDSHAKE;
  private readonly parser: FrameParser;
  private handshakeTimer: TimerHandle | null = null;
  private keepAliveTimer: TimerHandle | null = null;
  private writeTimer: TimerHandle | null = null;
  private rateTimer: TimerHandle | null = null;
  private notHereTokens: number;
  private notHereAt: number;
  private rateTokens = 0;
  private rateAt = 0;
  private closeReason: CloseReason | null = null;
  /** Peer address, from ConnInfo or (lazily: a syscall) the stream; see ip16/port. */
  private readonly info: ConnInfo;
  private peerIp16: Buffer | null | undefined;
  /** Read chunks are fresh buffers nobody else holds (socket reads), so frames in them may be rewritten. */
  private readonly ownsInput: boolean;
  /** This connection's current read is lent to the server (see beginRead). */
  private lending = false;
  /** The current read reuses its buffer but could not be lent: data() copies. */
  private copyReads = false;
  /** The transport's write headroom and preferred write size. */
  private readonly headroom: number;
  private readonly maxWrite: number;

  constructor(
    private readonly srv: DerpServerCore,
    readonly stream: DerpStream,
    id: number,
    info: ConnInfo,
  ) {
    this.id = id;
    this.notIdeal = !!info.notIdeal;
    const lim = srv.limits;
    this.qDisco = new PacketQueue(lim.queueDepth);
    this.qOther = new PacketQueue(lim.queueDepth);
    this.notHereTokens = lim.notHereBurst;
    this.notHereAt = srv.clock.monotonic();
    this.info = info;
    this.headroom = stream.headroom ?? 0;
    this.ownsInput = stream.kind !== 'other' && stream.reusesReadBuffer !== true;
    this.maxWrite = stream.maxWrite ?? Number.MAX_SAFE_INTEGER;
    this.parser = new FrameParser(
      (t) => (this.state === ST_ACTIVE ? ACTIVE_LIMITS[t]! : HANDSHAKE_LIMITS[t]!),
      (t, p) => (this.state === ST_ACTIVE ? this.onFrame(t, p) : this.onHandshake(t, p)),
    );
  }

  /** Sends ServerKey (after the optional preamble) and starts reading. */
  start(preamble: Buffer | undefined, serverKeyFrame: Buffer): void {
    this.handshakeTimer = this.srv.clock.setTimeout(() => this.close('handshake_timeout'), this.srv.limits.handshakeTimeoutMs);
    this.stream.write(preamble ? Buffer.concat([preamble, serverKeyFrame]) : serverKeyFrame);
    this.stream.start(this);
  }

  /** The peer's IP as 16 bytes (PeerPresent), worked out on first use. */
  get ip16(): Buffer | null {
    if (this.peerIp16 === undefined) this.peerIp16 = this.srv.ipTo16(this.info.remoteAddress ?? this.stream.remoteAddress);
    return this.peerIp16;
  }

  get port(): number {
    return this.info.remotePort ?? this.stream.remotePort ?? 0;
  }

  get isClosed(): boolean {
    return this.state === ST_CLOSED;
  }

  get active(): boolean {
    return this.state === ST_ACTIVE;
  }

  // ---- StreamSink ------------------------------------------------------------

  data(chunk: Buffer, start = 0, end = chunk.length): void {
    if (this.state === ST_CLOSED) return;
    const srv = this.srv;
    srv.tick = srv.clock.monotonic();
    if (this.copyReads) {
      chunk = Buffer.from(chunk.subarray(start, end));
      start = 0;
      end = chunk.length;
    }
    srv.inputDepth++;
    try {
      this.parser.push(chunk, start, end);
    } catch (e) {
      this.fail(e);
    } finally {
      if (--srv.inputDepth === 0) srv.flushDirty();
    }
  }

  /**
   * A transport read that may make several data() calls begins; `mem` is
   * given when its chunks live in a buffer the transport reuses after
   * endRead. That read is lent to the server (srv.transientInput) so what
   * must outlive it is copied out; a nested read, which cannot be lent,
   * copies its chunks instead.
   */
  beginRead(mem?: ArrayBufferLike): void {
    const srv = this.srv;
    if (mem !== undefined) {
      if (srv.inputDepth === 0 && srv.transientInput === null) {
        srv.transientInput = mem;
        this.lending = true;
      } else this.copyReads = true;
    }
    srv.inputDepth++;
  }

  /**
   * The outermost read ended: write what it routed now. Same batch a
   * microtask would flush, without queueMicrotask's per-call AsyncResource
   * and bound function.
   */
  endRead(): void {
    const srv = this.srv;
    // Frames held while paused (rate limit, admission) outlive the read.
    if (this.lending) this.parser.copyHeld(srv.transientInput!);
    if (--srv.inputDepth === 0) srv.flushDirty();
    if (this.lending) {
      srv.transientInput = null;
      this.lending = false;
    }
    this.copyReads = false;
  }

  drain(): void {
    if (!this.blocked) return;
    this.blocked = false;
    this.writeTimer?.cancel();
    this.writeTimer = null;
    if (this.pendingBytes > 0) this.srv.markDirty(this);
  }

  closed(err?: Error): void {
    this.streamGone = true;
    this.close(this.closeReason ?? (err ? 'stream_error' : 'eof'));
    this.srv.streamClosed(this);
  }

  // ---- handshake -------------------------------------------------------------

  private onHandshake(type: number, p: Buffer): boolean {
    if (this.state !== ST_HANDSHAKE) return false;
    try {
      if (type !== FrameType.ClientInfo) throw derpError('unexpected_frame', `frame 0x${type.toString(16)} before ClientInfo`);
      if (p.length < MIN_CLIENT_INFO) throw derpError('frame_too_short', 'short ClientInfo');
      const key = Buffer.from(p.subarray(0, KEY_LEN));
      if (isZeroKey(key)) throw derpError('bad_key', 'zero client key');
      const k = boxKey(this.srv.privateKeyObject, key);
      const info = parseClientInfo(openWithKey(k, p.subarray(KEY_LEN)));
      this.key = key;
      this.keyId = key.toString('latin1');
      this.isMesh = meshKeyMatches(this.srv.meshKey, info.meshKey);
      this.isProber = info.isProber;
      this.canAckPings = info.canAckPings;
      const serverInfo = encodeFrame(FrameType.ServerInfo, sealWithKey(k, SERVER_INFO));
      const admit = this.srv.admit;
      if (this.isMesh || !admit) {
        this.activate(serverInfo);
        return true;
      }
      let verdict: boolean | Promise<boolean>;
      try {
        verdict = admit(key);
      } catch {
        verdict = false;
      }
      if (typeof verdict === 'boolean') {
        if (!verdict) {
          this.close('not_admitted');
          return false;
        }
        this.activate(serverInfo);
        return true;
      }
      // Async admission: hold further input until the verdict.
      this.state = ST_ADMITTING;
      this.stream.pause();
      verdict.then(
        (ok) => this.admitted(ok, serverInfo),
        () => this.admitted(false, serverInfo),
      );
      return false;
    } catch (e) {
      this.close(isDerpError(e) && e.code === 'frame_too_large' ? 'frame_too_large' : 'handshake_failed');
      return false;
    }
  }

  private admitted(ok: boolean, serverInfo: Buffer): void {
    if (this.state !== ST_ADMITTING) return;
    if (!ok) {
      this.close('not_admitted');
      return;
    }
    this.activate(serverInfo);
    this.stream.resume();
    try {
      this.parser.resume();
    } catch (e) {
      this.fail(e);
    }
  }

  private activate(serverInfo: Buffer): void {
    this.handshakeTimer?.cancel();
    this.handshakeTimer = null;
    this.state = ST_ACTIVE;
    this.connectedAt = this.srv.clock.monotonic();
    const lim = this.srv.limits;
    this.rateTokens = lim.perClientBurstBytes;
    this.rateAt = this.connectedAt;
    // ServerInfo goes out before anything registration might queue.
    this.queueCtrl(serverInfo);
    this.srv.register(this);
    const period = lim.keepAliveMs + Math.floor(this.srv.random() * lim.keepAliveJitterMs);
    this.keepAliveTimer = this.srv.clock.setInterval(() => this.queueCtrl(this.srv.keepAliveFrame), period);
  }

  // ---- steady state ------------------------------------------------------------

  private onFrame(type: number, p: Buffer): boolean {
    const srv = this.srv;
    this.lastActivity = ++srv.activitySeq;
    const set = this.set;
    if (set !== null && set.conns.length > 1 && set.active !== this) srv.promote(this);
    switch (type) {
      case FrameType.SendPacket:
        if (p.length < KEY_LEN) throw derpError('frame_too_short', 'short SendPacket');
        srv.routeSend(this, p, this.ownsInput && this.parser.inline);
        break;
      case FrameType.ForwardPacket:
        if (!this.isMesh) throw derpError('insufficient_permissions', 'ForwardPacket without mesh key');
        if (p.length < 2 * KEY_LEN) throw derpError('frame_too_short', 'short ForwardPacket');
        srv.routeForward(this, p);
        break;
      case FrameType.Ping:
        if (p.length < PING_LEN) throw derpError('frame_too_short', 'short Ping');
        srv.stats.gotPing++;
        if (!this.pongPending) {
          this.pongPending = true;
          this.queueCtrl(pongFrame(p));
        }
        break;
      case FrameType.NotePreferred:
        srv.setPreferred(this, p[0] !== 0);
        break;
      case FrameType.WatchConns:
        if (!this.isMesh) throw derpError('insufficient_permissions', 'WatchConns without mesh key');
        srv.addWatcher(this);
        break;
      case FrameType.ClosePeer:
        if (!this.isMesh) throw derpError('insufficient_permissions', 'ClosePeer without mesh key');
        srv.closePeer(p);
        break;
      default:
        break;
    }
    if (this.state !== ST_ACTIVE) return false;
    // Per-client receive limit: spend tokens (possibly into debt) and stop
    // reading until the debt is repaid; TCP backpressure does the rest.
    const rate = srv.limits.perClientBytesPerSec;
    if (rate > 0 && !this.isMesh) {
      const now = srv.tick;
      const burst = srv.limits.perClientBurstBytes;
      this.rateTokens = Math.min(burst, this.rateTokens + ((now - this.rateAt) * rate) / 1000);
      this.rateAt = now;
      this.rateTokens -= Math.min(p.length + 5, burst);
      if (this.rateTokens < 0) {
        this.stream.pause();
        this.parser.pause();
        const waitMs = Math.ceil((-this.rateTokens * 1000) / rate);
        srv.stats.rateLimitWaits++;
        this.rateTimer = srv.clock.setTimeout(() => this.unthrottle(), waitMs);
        return false;
      }
    }
    return true;
  }

  private unthrottle(): void {
    this.rateTimer = null;
    if (this.state !== ST_ACTIVE) return;
    this.srv.tick = this.srv.clock.monotonic();
    this.stream.resume();
    try {
      this.parser.resume();
    } catch (e) {
      this.fail(e);
    }
  }

  /** Non-disco, rate-limited PeerGone(NotHere) budget: burst 3, 1 token/s. */
  allowNotHere(): boolean {
    const now = this.srv.tick;
    const lim = this.srv.limits;
    this.notHereTokens = Math.min(lim.notHereBurst, this.notHereTokens + ((now - this.notHereAt) * lim.notHerePerSec) / 1000);
    this.notHereAt = now;
    if (this.notHereTokens < 1) return false;
    this.notHereTokens -= 1;
    return true;
  }

  // ---- queues and writer ---------------------------------------------------------

  /**
   * Queues a packet (payload starts at `off`) from `src`; head-drops when
   * full. `inline`: pay is a SendPacket payload whose header precedes it in a
   * buffer we own (see sendInPlace).
   */
  enqueue(pay: Buffer, off: number, src: Buffer, inline = false): void {
    const disco = isDisco(pay, off);
    const q = disco ? this.qDisco : this.qOther;
    if (q.full) {
      const dp = q.pay[q.head]!;
      const doff = q.off[q.head]!;
      this.pendingBytes -= q.frontFrameLen();
      q.dropFront();
      this.srv.recordDrop('queue_head', disco, dp.length - doff);
    }
    if (this.blocked) {
      // The packet will wait: copy it out so it does not pin the sender's
      // whole read chunk (up to 64 KiB) for as long as it sits here.
      const copy = Buffer.allocUnsafe(pay.length - off);
      pay.copy(copy, 0, off);
      pay = copy;
      off = 0;
      inline = false;
    }
    q.push(pay, off, src, this.srv.tick, inline && off === KEY_LEN ? 1 : 0);
    this.pendingBytes += 37 + pay.length - off;
    if (!this.dirty) this.srv.markDirty(this);
  }

  queueCtrl(frame: Buffer): void {
    if (this.state === ST_CLOSED) return;
    this.ctrl.push(frame);
    this.pendingBytes += frame.length;
    if (!this.dirty) this.srv.markDirty(this);
  }

  queuePeerGone(key: Buffer, reason: number): void {
    if (reason === PeerGoneReason.NotHere) this.srv.stats.peerGoneNotHere++;
    else this.srv.stats.peerGoneDisconnected++;
    this.queueCtrl(peerGoneFrame(key, reason));
  }

  presentFlags(): number {
    let f = 0;
    if (this.isMesh) f |= PeerPresentFlags.IsMeshPeer;
    if (this.isProber) f |= PeerPresentFlags.IsProber;
    if (this.notIdeal) f |= PeerPresentFlags.NotIdeal;
    return f === 0 ? PeerPresentFlags.IsRegular : f;
  }

  /**
   * Writes queued frames as one buffer per write (after the transport's
   * headroom), up to the flush budget and the transport's preferred write
   * size, until the stream pushes back.
   */
  flush(): void {
    this.dirty = false;
    const srv = this.srv;
    const stats = srv.stats;
    const hr = this.headroom;
    while (this.pendingBytes > 0 && !this.blocked && this.state !== ST_CLOSED) {
      if (hr === 0 && this.ctrl.length === 0) {
        const dn = this.qDisco.size;
        const on = this.qOther.size;
        const q = dn === 1 && on === 0 ? this.qDisco : on === 1 && dn === 0 ? this.qOther : null;
        if (q !== null && q.inl[q.head] === 1) {
          this.sendInPlace(q);
          continue;
        }
      }
      const size = Math.min(this.pendingBytes, srv.limits.maxFlushBytes - hr);
      const slab = size + hr > SMALL_WRITE ? srv.takeSlab() : null;
      const out = slab ?? Buffer.allocUnsafe(size + hr);
      // One frame larger than the preferred write still goes out (alone).
      let lim = hr + Math.min(size, this.maxWrite);
      let o = hr;
      const ctrl = this.ctrl;
      let ci = 0;
      while (ci < ctrl.length) {
        const f = ctrl[ci]!;
        if (o + f.length > lim) {
          if (o !== hr || hr + f.length > out.length) break;
          lim = hr + f.length;
        }
        ci++;
        f.copy(out, o);
        o += f.length;
        if (f[0] === FrameType.Pong) {
          this.pongPending = false;
          stats.sentPong++;
        }
      }
      if (ci > 0) this.ctrl = ci === ctrl.length ? [] : ctrl.slice(ci);
      let packets = 0;
      let bytes = 0;
      let qsum = 0;
      const now = srv.clock.monotonic();
      for (let qi = 0; qi < 2; qi++) {
        const q = qi === 0 ? this.qDisco : this.qOther;
        while (q.size > 0) {
          const h = q.head;
          const pay = q.pay[h]!;
          const off = q.off[h]!;
          const flen = 37 + pay.length - off;
          if (o + flen > lim) {
            if (o !== hr || hr + flen > out.length) break;
            lim = hr + flen;
          }
          o = writeRecvPacket(out, o, q.src[h]!, pay, off);
          qsum += now - q.at[h]!;
          bytes += pay.length - off;
          packets++;
          q.dropFront();
        }
      }
      this.pendingBytes -= o - hr;
      if (o === hr) break; // cannot happen: the budget exceeds any single frame
      if (packets > 0) {
        stats.packetsSent += packets;
        stats.bytesSent += bytes;
        // EWMA with α = 0.1 applied per packet, folded for the batch.
        const avg = qsum / packets;
        const keep = packets === 1 ? 0.9 : Math.pow(0.9, packets);
        stats.averageQueueDurationMs = stats.averageQueueDurationMs * keep + avg * (1 - keep);
      }
      const data = o === out.length ? out : out.subarray(0, o);
      if (!(slab ? this.stream.write(data, () => srv.returnSlab(slab), hr) : this.stream.write(data, undefined, hr))) this.pushedBack();
    }
  }

  /**
   * The only pending item is one packet whose SendPacket frame arrived whole
   * in a read chunk we own: SendPacket and RecvPacket frames have the same
   * length (key ‖ packet), so turning the type byte into RecvPacket and the
   * destination key into the source key makes the outgoing frame in place;
   * it is written with no copy and no allocation of its bytes.
   */
  private sendInPlace(q: PacketQueue): void {
    const srv = this.srv;
    const h = q.head;
    const pay = q.pay[h]!;
    const src = q.src[h]!;
    const frame = Buffer.from(pay.buffer, pay.byteOffset - FRAME_HEADER_LEN, FRAME_HEADER_LEN + pay.length);
    frame[0] = FrameType.RecvPacket;
    for (let i = 0; i < KEY_LEN; i++) frame[FRAME_HEADER_LEN + i] = src[i]!;
    const stats = srv.stats;
    stats.packetsSent++;
    stats.bytesSent += pay.length - KEY_LEN;
    stats.averageQueueDurationMs = stats.averageQueueDurationMs * 0.9 + (srv.clock.monotonic() - q.at[h]!) * 0.1;
    q.dropFront();
    this.pendingBytes -= frame.length;
    if (!this.stream.write(frame)) this.pushedBack();
  }

  /** The stream refused more: wait for drain, closing the connection if it takes too long. */
  private pushedBack(): void {
    const srv = this.srv;
    this.blocked = true;
    // What stays queued now outlives the current read: own it.
    const lent = srv.transientInput;
    if (lent !== null) {
      this.qDisco.copyOut(lent);
      this.qOther.copyOut(lent);
    }
    const wt = this.isMesh ? srv.limits.meshWriteTimeoutMs : srv.limits.writeTimeoutMs;
    if (wt > 0 && this.writeTimer === null) {
      this.writeTimer = srv.clock.setTimeout(() => {
        this.writeTimer = null;
        if (this.blocked) {
          srv.stats.writeTimeouts++;
          this.close('write_timeout');
        }
      }, wt);
    }
  }

  // ---- teardown ---------------------------------------------------------------------

  private fail(e: unknown): void {
    if (isDerpError(e)) this.close(reasonFor(e));
    else {
      this.srv.logger.error({ err: e, conn: this.id }, 'derp: unexpected error');
      this.close('protocol_error');
    }
  }

  /** Ends the connection. `graceful` flushes queued control frames first. */
  close(reason: CloseReason, graceful = false): void {
    if (this.state === ST_CLOSED) return;
    const wasActive = this.state === ST_ACTIVE;
    if (graceful && wasActive) this.flush();
    this.state = ST_CLOSED;
    this.closeReason = reason;
    this.handshakeTimer?.cancel();
    this.keepAliveTimer?.cancel();
    this.writeTimer?.cancel();
    this.rateTimer?.cancel();
    this.srv.stats.closes[closeIndex.get(reason)!]!++;
    if (wasActive) this.srv.unregister(this);
    const drop = (pay: Buffer, off: number): void => this.srv.recordDrop('gone_disconnected', isDisco(pay, off), pay.length - off);
    this.qDisco.clear(drop);
    this.qOther.clear(drop);
    this.ctrl = [];
    this.pendingBytes = 0;
    if (graceful) this.stream.end();
    else this.stream.destroy();
    this.srv.connClosed(this, reason);
  }
}

/** 8 random bytes, for pings. */
export const randomPingData = (): Buffer => randomBytes(PING_LEN);
