/**
 * TCP transmission control block for an active open over IPv6 (spec §4.4–4.8;
 * RFC 9293, RFC 6298 RTO, RFC 5681 minimal congestion control, RFC 5961
 * RST/SYN checks). Pure state machine: segments in via input(), segments out
 * through events.output(), user data through events.data()/end(); all time
 * comes from the injected Clock.
 *
 *   write() ─► sendBuf ─► trySend ─► output(seg)      RTO timer ─► rewind/back-off
 *   input(seg) ─► acceptability ─► RST/SYN ─► ACK ─► data/OOO ─► FIN ─► data()/end()
 */
import type { Clock, TimerHandle } from '../util/clock.js';
import { ByteQueue } from './byte-queue.js';
import { tailnetError, type TailnetError } from './errors.js';
import {
  ACK,
  FIN,
  PSH,
  RST,
  SYN,
  type TcpSegment,
  segLen,
  seqAdd,
  seqDiff,
  seqGe,
  seqGt,
  seqLe,
  seqLt,
} from './tcp-segment.js';

export type TcpState =
  | 'CLOSED'
  | 'SYN-SENT'
  | 'ESTABLISHED'
  | 'FIN-WAIT-1'
  | 'FIN-WAIT-2'
  | 'CLOSE-WAIT'
  | 'CLOSING'
  | 'LAST-ACK'
  | 'TIME-WAIT';

export interface TcpEvents {
  /** A segment to transmit (ports, seq, ack, window filled in). */
  output(seg: TcpSegment): void;
  connected(): void;
  data(bytes: Uint8Array): void;
  /** The peer's FIN: no more data will arrive. */
  end(): void;
  /** Send-buffer space became available again. */
  drain(): void;
  /** The connection failed; the TCB is already CLOSED and closed() follows. */
  error(err: TailnetError): void;
  /** The TCB is deleted; the port may be reused. Always the last event. */
  closed(): void;
  /** Bytes delivered by data() that the consumer has not read yet. */
  receiveBuffered(): number;
}

export interface TcpOptions {
  clock: Clock;
  localPort: number;
  remotePort: number;
  iss: number;
  /** Our MSS (MTU 1280 − 40 − 20). */
  mss?: number;
  receiveBuffer?: number;
  sendBuffer?: number;
  minRtoMs?: number;
  maxRtoMs?: number;
  initialRtoMs?: number;
  /** RFC 9293 §3.8.3 R2 for data; abort after retransmitting this long without any ACK. */
  userTimeoutMs?: number;
  timeWaitMs?: number;
  maxOutOfOrderSegments?: number;
}

export const DEFAULT_MSS = 1220;
const MAX_WINDOW = 65_535;

interface OooSegment {
  seq: number;
  data: Uint8Array;
  fin: boolean;
}

export class TcpConnection {
  state: TcpState = 'CLOSED';
  readonly localPort: number;
  readonly remotePort: number;

  private readonly clock: Clock;
  private readonly ev: TcpEvents;
  private readonly mss: number;
  private readonly rcvBufSize: number;
  private readonly sndBufSize: number;
  private readonly minRto: number;
  private readonly maxRto: number;
  private readonly userTimeout: number;
  private readonly timeWaitMs: number;
  private readonly maxOoo: number;

  // Send side.
  private readonly iss: number;
  private sndUna: number;
  private sndNxt: number;
  private sndMax: number;
  private sndWnd = 0;
  private sndWl1 = 0;
  private sndWl2 = 0;
  sndMss = DEFAULT_MSS;
  private readonly sendBuf = new ByteQueue();
  private finQueued = false;
  private finSeq: number | null = null;
  private synRetransmitted = false;
  private sendBlocked = false;

  // Receive side.
  private rcvNxt = 0;
  private lastAdvertisedRight = 0;
  private ooo: OooSegment[] = [];
  private oooBytes = 0;
  private finReceived = false;

  // RTO (RFC 6298) and congestion control (RFC 5681).
  private srtt: number | null = null;
  private rttvar = 0;
  rto: number;
  private rttSeq: number | null = null;
  private rttStart = 0;
  private rtoTimer: TimerHandle | null = null;
  private retransmitSince: number | null = null;
  cwnd: number;
  ssthresh = MAX_WINDOW;
  private dupAcks = 0;
  private timeWaitTimer: TimerHandle | null = null;

  /** Counters for metrics and tests. */
  readonly stats = { retransmits: 0, segmentsOut: 0, segmentsIn: 0, challengeAcks: 0 };

  constructor(opts: TcpOptions, events: TcpEvents) {
    this.clock = opts.clock;
    this.ev = events;
    this.localPort = opts.localPort;
    this.remotePort = opts.remotePort;
    this.iss = opts.iss >>> 0;
    this.mss = opts.mss ?? DEFAULT_MSS;
    this.rcvBufSize = Math.min(opts.receiveBuffer ?? MAX_WINDOW, MAX_WINDOW);
    this.sndBufSize = opts.sendBuffer ?? 1 << 20;
    this.minRto = opts.minRtoMs ?? 1000;
    this.maxRto = opts.maxRtoMs ?? 60_000;
    this.rto = opts.initialRtoMs ?? 1000;
    this.userTimeout = opts.userTimeoutMs ?? 100_000;
    this.timeWaitMs = opts.timeWaitMs ?? 60_000;
    this.maxOoo = opts.maxOutOfOrderSegments ?? 64;
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.sndMax = this.iss;
    this.cwnd = 3 * this.mss;
  }

  // ------------------------------------------------------------ user calls

  /** OPEN (active): sends the SYN. */
  open(): void {
    if (this.state !== 'CLOSED') return;
    this.state = 'SYN-SENT';
    this.sndNxt = seqAdd(this.iss, 1);
    this.sndMax = this.sndNxt;
    this.sendSyn();
    this.armRto();
  }

  /** Space left in the send buffer. */
  get sendSpace(): number {
    return Math.max(0, this.sndBufSize - this.sendBuf.length);
  }

  /** Bytes queued or in flight. */
  get sendQueued(): number {
    return this.sendBuf.length;
  }

  /** SEND: queues data; returns false when the buffer is full (wait for drain()). */
  write(data: Uint8Array): boolean {
    if (this.finQueued || this.state === 'CLOSED') return false;
    this.sendBuf.push(data);
    this.trySend();
    const ok = this.sendBuf.length < this.sndBufSize;
    if (!ok) this.sendBlocked = true;
    return ok;
  }

  /** CLOSE: FIN after all queued data. */
  close(): void {
    if (this.finQueued) return;
    switch (this.state) {
      case 'SYN-SENT':
      case 'ESTABLISHED':
        this.finQueued = true;
        if (this.state === 'ESTABLISHED') this.state = 'FIN-WAIT-1';
        break;
      case 'CLOSE-WAIT':
        this.finQueued = true;
        this.state = 'LAST-ACK';
        break;
      default:
        return;
    }
    this.trySend();
  }

  /** ABORT: RST (when synchronized) and delete the TCB. */
  abort(): void {
    if (this.state === 'CLOSED') return;
    if (this.state !== 'SYN-SENT' && this.state !== 'TIME-WAIT') {
      this.emit({ seq: this.sndNxt, ack: 0, flags: RST, payload: EMPTY });
    }
    this.destroyTcb();
  }

  /** Fails the connection locally without sending anything (session loss). */
  fail(err: TailnetError): void {
    this.destroyTcb(err);
  }

  /** The consumer read data: advertise a larger window if it grew enough (SWS avoidance). */
  windowUpdate(): void {
    if (!this.synchronized() || this.finReceived) return;
    const right = seqAdd(this.rcvNxt, this.rcvWnd());
    if (seqDiff(right, this.lastAdvertisedRight) >= Math.min(this.sndMss, 32_768, this.rcvBufSize / 2)) this.sendAck();
  }

  // ------------------------------------------------------------ input

  input(seg: TcpSegment): void {
    this.stats.segmentsIn++;
    if (this.state === 'CLOSED') return;
    if (this.state === 'SYN-SENT') {
      this.inputSynSent(seg);
      return;
    }
    const len = segLen(seg);
    const wnd = this.rcvWnd();
    if (!this.acceptable(seg.seq, len, wnd)) {
      if (seg.flags & RST) return;
      // Zero window: still take a valid ACK at the right edge, or both sides can deadlock.
      if (wnd === 0 && seg.seq === this.rcvNxt && seg.flags & ACK) this.processAck(seg);
      if (this.state === 'TIME-WAIT' && seg.flags & FIN) this.armTimeWait();
      if (!this.isClosed()) this.sendAck();
      return;
    }
    if (seg.flags & RST) {
      if (this.state === 'TIME-WAIT') return; // RFC 1337: no TIME-WAIT assassination
      if (seg.seq === this.rcvNxt) this.reset();
      else this.challengeAck();
      return;
    }
    if (seg.flags & SYN) {
      this.challengeAck();
      return;
    }
    if (!(seg.flags & ACK)) return;
    if (!this.processAck(seg)) return;
    if (this.isClosed()) return;
    if (this.state === 'TIME-WAIT') {
      if (seg.flags & FIN) {
        this.sendAck();
        this.armTimeWait();
      }
      return;
    }
    if (this.state === 'ESTABLISHED' || this.state === 'FIN-WAIT-1' || this.state === 'FIN-WAIT-2') {
      this.processData(seg, wnd);
    }
  }

  private inputSynSent(seg: TcpSegment): void {
    const f = seg.flags;
    if (f & ACK && (seqLe(seg.ack, this.iss) || seqGt(seg.ack, this.sndNxt))) {
      if (!(f & RST)) this.emit({ seq: seg.ack, ack: 0, flags: RST, payload: EMPTY });
      return;
    }
    if (f & RST) {
      if (f & ACK) {
        this.destroyTcb(tailnetError('ECONNRESET', 'connection refused (reset during handshake)'));
      }
      return;
    }
    if (!(f & SYN) || !(f & ACK)) return; // no simultaneous open: gVisor never connects to us
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.sndUna = seg.ack;
    this.sndMss = Math.min(seg.mss ?? DEFAULT_MSS, this.mss);
    this.cwnd = Math.min(4 * this.sndMss, Math.max(2 * this.sndMss, 4380));
    this.sndWnd = seg.window;
    this.sndWl1 = seg.seq;
    this.sndWl2 = seg.ack;
    if (!this.synRetransmitted) this.rttSample(this.clock.monotonic() - this.rttStart);
    else if (this.rto < 3000) this.rto = 3000; // RFC 6298 §5.7
    this.rttSeq = null;
    this.retransmitSince = null;
    this.stopRto();
    this.state = this.finQueued ? 'FIN-WAIT-1' : 'ESTABLISHED';
    this.ev.connected();
    if (this.isClosed()) return;
    this.sendAck();
    this.trySend();
  }

  /** Processes the ACK field; returns false when the segment must be dropped. */
  private processAck(seg: TcpSegment): boolean {
    const ack = seg.ack;
    if (seqGt(ack, this.sndMax)) {
      this.sendAck();
      return false;
    }
    if (seqGt(ack, this.sndUna)) {
      let acked = seqDiff(ack, this.sndUna);
      const finAcked = this.finSeq !== null && seqGt(ack, this.finSeq);
      if (finAcked) acked -= 1;
      this.sendBuf.drop(acked);
      this.sndUna = ack;
      if (seqLt(this.sndNxt, this.sndUna)) this.sndNxt = this.sndUna;
      if (this.rttSeq !== null && seqGe(ack, this.rttSeq)) {
        this.rttSample(this.clock.monotonic() - this.rttStart);
        this.rttSeq = null;
      }
      if (this.cwnd < this.ssthresh) this.cwnd += Math.min(acked, this.sndMss);
      else this.cwnd += Math.max(1, Math.floor((this.sndMss * this.sndMss) / this.cwnd));
      this.dupAcks = 0;
      this.retransmitSince = null;
      if (this.sndUna === this.sndMax) this.stopRto();
      else this.armRto(true);
      if (finAcked) this.ourFinAcked();
      if (this.state === 'CLOSED') return false;
      if (this.sendBlocked && this.sendBuf.length < this.sndBufSize) {
        this.sendBlocked = false;
        this.ev.drain();
      }
    } else if (ack === this.sndUna) {
      this.retransmitSince = null;
      if (seg.payload.length === 0 && !(seg.flags & FIN) && seg.window === this.sndWnd && this.sndUna !== this.sndMax) {
        if (++this.dupAcks === 3) this.fastRetransmit();
      }
    }
    if (seqLt(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqLe(this.sndWl2, ack))) {
      this.sndWnd = seg.window;
      this.sndWl1 = seg.seq;
      this.sndWl2 = ack;
    }
    this.trySend();
    return true;
  }

  private ourFinAcked(): void {
    switch (this.state) {
      case 'FIN-WAIT-1':
        this.state = 'FIN-WAIT-2';
        break;
      case 'CLOSING':
        this.state = 'TIME-WAIT';
        this.armTimeWait();
        break;
      case 'LAST-ACK':
        this.destroyTcb();
        break;
      default:
        break;
    }
  }

  private processData(seg: TcpSegment, wnd: number): void {
    let seq = seg.seq;
    let data = seg.payload;
    let fin = (seg.flags & FIN) !== 0;
    // Trim to the window: the left part already received, the right part beyond the window.
    const early = seqDiff(this.rcvNxt, seq);
    if (early > 0) {
      data = data.subarray(Math.min(early, data.length));
      seq = this.rcvNxt;
    }
    const room = seqDiff(seqAdd(this.rcvNxt, wnd), seq);
    if (data.length > room) {
      data = data.subarray(0, Math.max(0, room));
      fin = false;
    }
    if (seq !== this.rcvNxt) {
      if (data.length > 0 || fin) this.storeOutOfOrder(seq, data, fin);
      this.sendAck(); // immediate duplicate ACK (RFC 5681 §4.2)
      return;
    }
    let advanced = false;
    if (data.length > 0) {
      this.rcvNxt = seqAdd(this.rcvNxt, data.length);
      advanced = true;
      this.ev.data(data);
      if (this.state === 'CLOSED') return;
    }
    if (fin) {
      this.receiveFin();
      return;
    }
    if (this.drainOutOfOrder()) return;
    if (advanced) this.sendAck();
  }

  private storeOutOfOrder(seq: number, data: Uint8Array, fin: boolean): void {
    if (this.ooo.length >= this.maxOoo || this.oooBytes + data.length > this.rcvBufSize) return;
    let i = 0;
    while (i < this.ooo.length && seqLt(this.ooo[i]!.seq, seq)) i++;
    const copy = new Uint8Array(data);
    this.ooo.splice(i, 0, { seq, data: copy, fin });
    this.oooBytes += copy.length;
  }

  /** Delivers buffered segments that became contiguous; returns true if a FIN was processed. */
  private drainOutOfOrder(): boolean {
    let delivered = false;
    while (this.ooo.length && seqLe(this.ooo[0]!.seq, this.rcvNxt)) {
      const s = this.ooo.shift()!;
      this.oooBytes -= s.data.length;
      const skip = seqDiff(this.rcvNxt, s.seq);
      if (skip > s.data.length || (skip === s.data.length && !s.fin)) continue; // fully duplicate
      const rest = s.data.subarray(skip);
      if (rest.length > 0) {
        this.rcvNxt = seqAdd(this.rcvNxt, rest.length);
        delivered = true;
        this.ev.data(rest);
        if (this.state === 'CLOSED') return true;
      }
      if (s.fin) {
        this.receiveFin();
        return true;
      }
    }
    if (delivered) this.sendAck();
    return false;
  }

  private receiveFin(): void {
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.finReceived = true;
    this.ooo = [];
    this.oooBytes = 0;
    this.sendAck();
    switch (this.state) {
      case 'ESTABLISHED':
        this.state = 'CLOSE-WAIT';
        break;
      case 'FIN-WAIT-1':
        if (this.finSeq !== null && seqGt(this.sndUna, this.finSeq)) {
          this.state = 'TIME-WAIT';
          this.armTimeWait();
        } else {
          this.state = 'CLOSING';
        }
        break;
      case 'FIN-WAIT-2':
        this.state = 'TIME-WAIT';
        this.armTimeWait();
        break;
      default:
        break;
    }
    this.ev.end();
  }

  private reset(): void {
    const quiet = this.state === 'CLOSING' || this.state === 'LAST-ACK' || this.state === 'TIME-WAIT';
    this.destroyTcb(quiet ? undefined : tailnetError('ECONNRESET', 'connection reset by peer'));
  }

  private challengeAck(): void {
    this.stats.challengeAcks++;
    this.sendAck();
  }

  private acceptable(seq: number, len: number, wnd: number): boolean {
    if (len === 0) {
      if (wnd === 0) return seq === this.rcvNxt;
      return seqLe(this.rcvNxt, seq) && seqLt(seq, seqAdd(this.rcvNxt, wnd));
    }
    if (wnd === 0) return false;
    const inWin = (s: number): boolean => seqLe(this.rcvNxt, s) && seqLt(s, seqAdd(this.rcvNxt, wnd));
    return inWin(seq) || inWin(seqAdd(seq, len - 1));
  }

  // ------------------------------------------------------------ output

  /** Re-reads the state after callbacks that may have closed the TCB (defeats narrowing). */
  private isClosed(): boolean {
    return this.state === 'CLOSED';
  }

  private synchronized(): boolean {
    return this.state !== 'CLOSED' && this.state !== 'SYN-SENT';
  }

  private rcvWnd(): number {
    if (this.finReceived) return this.rcvBufSize; // nothing more will be delivered
    return Math.max(0, Math.min(MAX_WINDOW, this.rcvBufSize - this.ev.receiveBuffered()));
  }

  private dataStart(): number {
    // Sequence number of sendBuf's first byte: SYN consumed one number before data.
    return seqGt(this.sndUna, this.iss) ? this.sndUna : seqAdd(this.iss, 1);
  }

  private sendSyn(): void {
    this.rttStart = this.clock.monotonic();
    this.emit({ seq: this.iss, ack: 0, flags: SYN, payload: EMPTY, mss: this.mss });
  }

  private sendAck(): void {
    this.emit({ seq: this.sndNxt, ack: this.rcvNxt, flags: ACK, payload: EMPTY });
  }

  private emit(s: { seq: number; ack: number; flags: number; payload: Uint8Array; mss?: number }): void {
    const withAck = (s.flags & ACK) !== 0;
    const window = s.flags & RST ? 0 : this.rcvWnd();
    if (withAck) this.lastAdvertisedRight = seqAdd(this.rcvNxt, window);
    this.stats.segmentsOut++;
    this.ev.output({
      srcPort: this.localPort,
      dstPort: this.remotePort,
      seq: s.seq,
      ack: withAck ? s.ack : 0,
      flags: s.flags,
      window,
      urgent: 0,
      mss: s.mss ?? null,
      payload: s.payload,
    });
  }

  /** Sends new (or rewound) data and the FIN as windows allow. */
  private trySend(): void {
    if (!this.synchronized() || this.state === 'TIME-WAIT') return;
    for (;;) {
      const start = this.dataStart();
      const offset = seqDiff(this.sndNxt, start);
      const avail = this.sendBuf.length - offset;
      const inFlight = seqDiff(this.sndNxt, this.sndUna);
      const usable = Math.min(this.sndWnd, this.cwnd) - inFlight;
      if (avail > 0) {
        if (usable <= 0) break;
        const n = Math.min(avail, usable, this.sndMss);
        const payload = this.sendBuf.read(offset, n);
        const last = offset + n === this.sendBuf.length;
        const fin = last && this.finQueued && usable > n;
        this.transmit(payload, fin, last);
        continue;
      }
      if (this.finQueued && (this.finSeq === null || this.sndNxt === this.finSeq)) {
        this.transmit(EMPTY, true, false);
      }
      break;
    }
    if (this.rtoTimer === null && (this.sendBuf.length > seqDiff(this.sndNxt, this.dataStart()) || this.sndUna !== this.sndMax)) {
      this.armRto(); // persist timer for a zero window, or retransmission timer
    }
  }

  private transmit(payload: Uint8Array, fin: boolean, push: boolean): void {
    const seq = this.sndNxt;
    let flags = ACK;
    if (push && payload.length > 0) flags |= PSH;
    if (fin) {
      flags |= FIN;
      this.finSeq = seqAdd(seq, payload.length);
    }
    const isNew = seq === this.sndMax;
    this.emit({ seq, ack: this.rcvNxt, flags, payload });
    this.sndNxt = seqAdd(seq, payload.length + (fin ? 1 : 0));
    if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
    if (!isNew) this.stats.retransmits++;
    if (isNew && this.rttSeq === null) {
      this.rttSeq = this.sndNxt;
      this.rttStart = this.clock.monotonic();
    }
    if (this.rtoTimer === null) this.armRto();
  }

  private fastRetransmit(): void {
    const flight = seqDiff(this.sndMax, this.sndUna);
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * this.sndMss);
    this.cwnd = this.ssthresh;
    this.rttSeq = null;
    this.retransmitOne();
  }

  /** Resends the earliest unacknowledged segment without moving SND.NXT. */
  private retransmitOne(): void {
    const start = this.dataStart();
    const offset = seqDiff(this.sndUna, start);
    const n = Math.min(this.sndMss, this.sendBuf.length - offset);
    const saved = this.sndNxt;
    this.sndNxt = this.sndUna;
    if (n > 0) {
      const payload = this.sendBuf.read(offset, n);
      const fin = this.finSeq !== null && seqAdd(this.sndUna, n) === this.finSeq;
      this.transmit(payload, fin, true);
    } else if (this.finSeq !== null && this.sndUna === this.finSeq) {
      this.transmit(EMPTY, true, false);
    }
    if (seqGt(saved, this.sndNxt)) this.sndNxt = saved;
  }

  // ------------------------------------------------------------ timers

  private rttSample(r: number): void {
    if (this.srtt === null) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.rto = Math.min(this.maxRto, Math.max(this.minRto, Math.ceil(this.srtt + Math.max(1, 4 * this.rttvar))));
  }

  private armRto(restart = false): void {
    if (this.rtoTimer && !restart) return;
    this.rtoTimer?.cancel();
    this.rtoTimer = this.clock.setTimeout(() => {
      this.rtoTimer = null;
      this.onRto();
    }, this.rto);
  }

  private stopRto(): void {
    this.rtoTimer?.cancel();
    this.rtoTimer = null;
  }

  private onRto(): void {
    if (this.state === 'CLOSED' || this.state === 'TIME-WAIT') return;
    const now = this.clock.monotonic();
    if (this.retransmitSince === null) this.retransmitSince = now;
    else if (now - this.retransmitSince >= this.userTimeout) {
      const connecting = this.state === 'SYN-SENT';
      if (!connecting) this.emit({ seq: this.sndNxt, ack: 0, flags: RST, payload: EMPTY });
      this.destroyTcb(
        connecting
          ? tailnetError('ETIMEDOUT', 'connect timed out')
          : tailnetError('ECONNABORTED', 'user timeout: data not acknowledged'),
      );
      return;
    }
    this.rto = Math.min(this.rto * 2, this.maxRto);
    this.rttSeq = null; // Karn: never time a retransmitted segment
    if (this.state === 'SYN-SENT') {
      this.synRetransmitted = true;
      this.stats.retransmits++;
      this.sendSyn();
      this.armRto();
      return;
    }
    const flight = seqDiff(this.sndMax, this.sndUna);
    if (flight > 0) {
      this.ssthresh = Math.max(Math.floor(flight / 2), 2 * this.sndMss);
      this.cwnd = this.sndMss;
      this.sndNxt = this.sndUna; // go back: resend from the first unacknowledged byte
      this.retransmitOne();
    } else if (this.sndWnd === 0 && this.sendBuf.length > 0) {
      // Zero-window probe: one byte of new data beyond the window.
      this.transmit(this.sendBuf.read(seqDiff(this.sndNxt, this.dataStart()), 1), false, true);
    }
    this.armRto();
  }

  private armTimeWait(): void {
    this.stopRto();
    this.timeWaitTimer?.cancel();
    this.timeWaitTimer = this.clock.setTimeout(() => {
      this.timeWaitTimer = null;
      this.destroyTcb();
    }, this.timeWaitMs);
  }

  /** Deletes the TCB; the state is CLOSED before any callback runs, so re-entrant aborts are no-ops. */
  private destroyTcb(err?: TailnetError): void {
    if (this.state === 'CLOSED') return;
    this.state = 'CLOSED';
    this.stopRto();
    this.timeWaitTimer?.cancel();
    this.timeWaitTimer = null;
    this.sendBuf.clear();
    this.ooo = [];
    if (err) this.ev.error(err);
    this.ev.closed();
  }
}

const EMPTY = new Uint8Array(0);
