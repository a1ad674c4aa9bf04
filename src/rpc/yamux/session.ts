/**
 * yamux session over a ByteStream.
 *
 *   transport chunks ──► header/body parser ──► stream table ──► YamuxStream.read()
 *                                  │ ping SYN ─► ACK (priority queue)
 *   YamuxStream.write() ─► data queue ─┐
 *   ACK / window / ping / RST ─► control queue ─┴─► pump (control first) ─► transport
 *
 * tailnetd is the yamux SERVER: it accepts client-initiated odd stream ids and
 * never opens streams. The `client` role exists for loopback tests.
 */
import type { Logger } from 'pino';
import { systemClock, type Clock, type TimerHandle } from '../../util/clock.js';
import { MAX_WRITE_CHUNK, type ByteStream } from '../byte-stream.js';
import { GoAwayCode, YamuxError, yamuxError } from './errors.js';
import { Flag, FrameType, HEADER_SIZE, INITIAL_WINDOW, decodeHeader, encodeFrame, type YamuxHeader } from './frame.js';
import { YamuxStream, type StreamHost } from './stream.js';

export interface YamuxSessionOptions {
  role?: 'server' | 'client';
  clock?: Clock;
  logger?: Logger;
  /** Keepalive ping period; hashicorp default 30 s. null disables. */
  keepaliveIntervalMs?: number | null;
  /** How long a ping may go unanswered (hashicorp ConnectionWriteTimeout, 10 s). */
  pingTimeoutMs?: number;
  /** RTT of every successful keepalive ping, in ms. */
  onPingRtt?: (rttMs: number) => void;
  /** A new stream opened by the peer (already ACKed). */
  onStream?: (stream: YamuxStream) => void;
  /** Session ended; err is null for an orderly local close or clean transport end. */
  onClose?: (err: YamuxError | null) => void;
  /** Concurrent stream cap; new SYNs beyond it are RST (hashicorp caps its accept backlog at 256). */
  maxStreams?: number;
  /** hashicorp StreamCloseTimeout (5 min): reset a stream whose peer never sends FIN after ours. */
  streamCloseTimeoutMs?: number;
}

const CONTROL_QUEUE_LIMIT = 4096;

export class YamuxSession implements StreamHost {
  readonly clock: Clock;
  readonly maxFrameBody = MAX_WRITE_CHUNK - HEADER_SIZE;
  readonly streamCloseTimeoutMs: number;

  private readonly role: 'server' | 'client';
  private readonly streams = new Map<number, YamuxStream>();
  private readonly control: Uint8Array[] = [];
  private readonly data: Uint8Array[] = [];
  private writable = true;
  private pumpScheduled = false;
  private closed = false;
  private localGoAway = false;
  private remoteGoAway = false;
  private nextStreamId: number;

  private readonly hdr = new Uint8Array(HEADER_SIZE);
  private hdrFill = 0;
  private bodyLeft = 0;
  private bodyStream: YamuxStream | null = null;
  /** A Data|FIN frame: the FIN takes effect once its body has been delivered. */
  private finAfterBody: YamuxStream | null = null;

  private pingSeq = 0;
  private readonly pings = new Map<number, { start: number; timer: TimerHandle; resolve: (rtt: number) => void; reject: (e: Error) => void }>();
  private keepalive: TimerHandle | null = null;

  constructor(
    private readonly transport: ByteStream,
    private readonly opts: YamuxSessionOptions = {},
  ) {
    this.role = opts.role ?? 'server';
    this.clock = opts.clock ?? systemClock;
    this.streamCloseTimeoutMs = opts.streamCloseTimeoutMs ?? 5 * 60_000;
    this.nextStreamId = this.role === 'client' ? 1 : 2;
    const every = opts.keepaliveIntervalMs === undefined ? 30_000 : opts.keepaliveIntervalMs;
    if (every !== null) {
      this.keepalive = this.clock.setInterval(() => {
        this.ping().then(
          (rtt) => this.opts.onPingRtt?.(rtt),
          (err: unknown) => {
            if (err instanceof YamuxError && err.code === 'ping_timeout') {
              this.fail(yamuxError('keepalive_timeout', 'no ping reply'));
            }
          },
        );
      }, every);
    }
    transport.attach({
      onData: (chunk) => this.onData(chunk),
      onEnd: (err) => this.terminate(err ? yamuxError('transport_closed', err.message) : null),
      onDrain: () => {
        this.writable = true;
        this.pump();
      },
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Sends a ping and resolves with the RTT in ms; rejects with `ping_timeout`. */
  ping(): Promise<number> {
    if (this.closed) return Promise.reject(yamuxError('session_closed'));
    const id = (this.pingSeq = (this.pingSeq + 1) >>> 0);
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.pings.delete(id);
        reject(yamuxError('ping_timeout', `ping ${id} unanswered`));
      }, this.opts.pingTimeoutMs ?? 10_000);
      this.pings.set(id, { start: this.clock.monotonic(), timer, resolve, reject });
      this.enqueueControl({ type: FrameType.Ping, flags: Flag.SYN, streamId: 0, length: id });
    });
  }

  /** Client role only: opens a stream (WindowUpdate|SYN, delta 0). */
  openStream(): YamuxStream {
    if (this.role !== 'client') throw new Error('yamux server sessions never open streams');
    if (this.closed) throw yamuxError('session_closed');
    if (this.remoteGoAway) throw yamuxError('remote_goaway', 'peer sent GoAway');
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const s = new YamuxStream(id, this, INITIAL_WINDOW);
    this.streams.set(id, s);
    this.enqueueControl({ type: FrameType.WindowUpdate, flags: Flag.SYN, streamId: id, length: 0 });
    return s;
  }

  /** Tells the peer not to open more streams; existing ones continue. */
  goAway(code: number = GoAwayCode.Normal): void {
    if (this.closed || this.localGoAway) return;
    this.localGoAway = true;
    this.enqueueControl({ type: FrameType.GoAway, flags: 0, streamId: 0, length: code });
  }

  /** Flushes queued frames, then closes the transport. Streams fail with `session_closed`. */
  close(code?: number, reason?: string): void {
    if (this.closed) return;
    this.writable = true;
    for (;;) {
      const f = this.control.shift() ?? this.data.shift();
      if (!f) break;
      this.transport.write(f);
    }
    this.terminate(null);
    this.transport.close(code, reason);
  }

  // ---- StreamHost --------------------------------------------------------

  enqueueData(frame: Uint8Array): void {
    if (this.closed) return;
    this.data.push(frame);
    this.schedulePump();
  }

  enqueueControl(h: YamuxHeader): void {
    if (this.closed) return;
    if (this.control.length >= CONTROL_QUEUE_LIMIT) {
      // A peer that floods pings while never reading cannot grow us without bound.
      this.fail(yamuxError('bad_session_frame', 'control queue overflow'));
      return;
    }
    this.control.push(encodeFrame(h));
    this.schedulePump();
  }

  streamFinished(id: number): void {
    this.streams.delete(id);
  }

  // ---- internals ---------------------------------------------------------

  /** Frames queued in one tick go out together (fewer, larger transport messages). */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Writes queued frames, control first, packing them into messages of at most MAX_WRITE_CHUNK bytes. */
  private pump(): void {
    while (this.writable && !this.closed) {
      const first = this.control.shift() ?? this.data.shift();
      if (!first) return;
      let size = first.length;
      let batch: Uint8Array[] | null = null;
      for (;;) {
        const next = this.control[0] ?? this.data[0];
        if (!next || size + next.length > MAX_WRITE_CHUNK) break;
        if (this.control.length > 0) this.control.shift();
        else this.data.shift();
        (batch ??= [first]).push(next);
        size += next.length;
      }
      this.writable = this.transport.write(batch ? concat(batch, size) : first);
    }
  }

  private onData(chunk: Uint8Array): void {
    if (this.closed) return;
    try {
      let off = 0;
      while (off < chunk.length && !this.closed) {
        if (this.bodyLeft > 0) {
          const n = Math.min(this.bodyLeft, chunk.length - off);
          this.bodyStream?.pushData(chunk.subarray(off, off + n));
          this.bodyLeft -= n;
          off += n;
          if (this.bodyLeft === 0 && this.finAfterBody) {
            const s = this.finAfterBody;
            this.finAfterBody = null;
            s.remoteClosed();
          }
          continue;
        }
        let h: YamuxHeader;
        if (this.hdrFill === 0 && chunk.length - off >= HEADER_SIZE) {
          h = decodeHeader(chunk, off);
          off += HEADER_SIZE;
        } else {
          const n = Math.min(HEADER_SIZE - this.hdrFill, chunk.length - off);
          this.hdr.set(chunk.subarray(off, off + n), this.hdrFill);
          this.hdrFill += n;
          off += n;
          if (this.hdrFill < HEADER_SIZE) break;
          this.hdrFill = 0;
          h = decodeHeader(this.hdr, 0);
        }
        this.onHeader(h);
      }
    } catch (err) {
      if (err instanceof YamuxError) this.fail(err);
      else throw err;
    }
  }

  private onHeader(h: YamuxHeader): void {
    switch (h.type) {
      case FrameType.Ping:
        if (h.flags & Flag.SYN) this.enqueueControl({ type: FrameType.Ping, flags: Flag.ACK, streamId: 0, length: h.length });
        else if (h.flags & Flag.ACK) this.pingAcked(h.length);
        return;
      case FrameType.GoAway:
        this.remoteGoAway = true;
        if (h.length !== GoAwayCode.Normal) this.opts.logger?.warn({ code: h.length }, 'yamux peer sent GoAway with error');
        return;
      default:
        this.onStreamFrame(h);
    }
  }

  private onStreamFrame(h: YamuxHeader): void {
    let s = this.streams.get(h.streamId);
    if (h.flags & Flag.SYN) {
      if (s) throw yamuxError('duplicate_stream', `SYN for open stream ${h.streamId}`);
      s = this.accept(h);
    } else if (s && h.flags & Flag.ACK) {
      // Our openStream() was accepted; nothing else to track.
    }
    if (h.type === FrameType.Data) {
      if (s) s.reserve(h.length);
      // Unknown/forgotten streams: hashicorp discards the body.
      this.bodyLeft = h.length;
      this.bodyStream = s ?? null;
    } else if (s && h.length > 0) {
      s.addSendWindow(h.length);
    }
    if (!s) return;
    // Flags apply after the body (the body of a Data|FIN frame is still valid data).
    if (h.flags & Flag.RST) s.remoteReset();
    else if (h.flags & Flag.FIN) {
      if (this.bodyLeft > 0) this.finAfterBody = s;
      else s.remoteClosed();
    }
  }

  private accept(h: YamuxHeader): YamuxStream | undefined {
    const id = h.streamId;
    const expectOdd = this.role === 'server';
    if (id === 0 || (id % 2 === 1) !== expectOdd) {
      throw yamuxError('wrong_direction', `stream ${id} opened by ${expectOdd ? 'client' : 'server'} with wrong parity`);
    }
    if (this.localGoAway || this.streams.size >= (this.opts.maxStreams ?? 1024)) {
      this.enqueueControl({ type: FrameType.WindowUpdate, flags: Flag.RST, streamId: id, length: 0 });
      return undefined;
    }
    const initial = INITIAL_WINDOW + (h.type === FrameType.WindowUpdate ? h.length : 0);
    const s = new YamuxStream(id, this, initial);
    this.streams.set(id, s);
    this.enqueueControl({ type: FrameType.WindowUpdate, flags: Flag.ACK, streamId: id, length: 0 });
    this.opts.onStream?.(s);
    return s;
  }

  private pingAcked(id: number): void {
    const p = this.pings.get(id);
    if (!p) return;
    this.pings.delete(id);
    p.timer.cancel();
    p.resolve(this.clock.monotonic() - p.start);
  }

  /** Protocol failure: tell the peer why (GoAway) when there is a reason code, then close. */
  private fail(err: YamuxError): void {
    if (this.closed) return;
    this.opts.logger?.debug({ code: err.code, err: err.message }, 'yamux session failed');
    if (err.goAway !== null) {
      this.localGoAway = true;
      this.control.push(encodeFrame({ type: FrameType.GoAway, flags: 0, streamId: 0, length: err.goAway }));
    }
    this.writable = true;
    for (;;) {
      const f = this.control.shift() ?? (err.goAway !== null ? undefined : this.data.shift());
      if (!f) break;
      this.transport.write(f);
    }
    this.terminate(err);
    this.transport.close(err.goAway !== null ? 1002 : 1011, err.code);
  }

  private terminate(err: YamuxError | null): void {
    if (this.closed) return;
    this.closed = true;
    this.keepalive?.cancel();
    for (const p of this.pings.values()) {
      p.timer.cancel();
      p.reject(yamuxError('session_closed'));
    }
    this.pings.clear();
    const streamErr = err ?? yamuxError('session_closed');
    for (const s of [...this.streams.values()]) s.sessionClosed(streamErr);
    this.streams.clear();
    this.control.length = 0;
    this.data.length = 0;
    this.opts.onClose?.(err);
  }
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
