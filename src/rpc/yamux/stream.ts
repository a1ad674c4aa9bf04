/**
 * One yamux stream. Receive side: chunks are buffered until read(); the
 * window credit is returned to the peer only as data is read, so unread data
 * never exceeds the window we advertised. Send side: write() frames data only
 * within the peer's window and resolves once every byte is queued on the
 * session; FIN is queued behind pending data, RST goes out at once.
 */
import type { Clock, TimerHandle } from '../../util/clock.js';
import { yamuxError, type YamuxError } from './errors.js';
import { Flag, FrameType, INITIAL_WINDOW, encodeFrame, type YamuxHeader } from './frame.js';

/** What a stream needs from its session (kept narrow to avoid a cycle of concrete types). */
export interface StreamHost {
  readonly clock: Clock;
  readonly maxFrameBody: number;
  readonly streamCloseTimeoutMs: number;
  enqueueData(frame: Uint8Array): void;
  enqueueControl(h: YamuxHeader): void;
  streamFinished(id: number): void;
}

interface PendingWrite {
  data: Uint8Array;
  off: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class YamuxStream {
  /** Called whenever data, FIN or RST arrives. */
  onReadable: (() => void) | null = null;

  private recvBuf: Uint8Array[] = [];
  private recvBytes = 0;
  private recvWindow = INITIAL_WINDOW;
  private pendingCredit = 0;
  private remoteFin = false;
  private failure: YamuxError | null = null;

  private sendWindow: number;
  private writes: PendingWrite[] = [];
  private finRequested = false;
  private finSent = false;
  private closeTimer: TimerHandle | null = null;
  private done = false;

  constructor(
    readonly id: number,
    private readonly host: StreamHost,
    initialSendWindow: number,
  ) {
    this.sendWindow = initialSendWindow;
  }

  // ---- reading -----------------------------------------------------------

  /** Next buffered chunk, or null when nothing is buffered (see `ended` / `error`). */
  read(): Uint8Array | null {
    const chunk = this.recvBuf.shift();
    if (!chunk) return null;
    this.recvBytes -= chunk.length;
    this.credit(chunk.length);
    return chunk;
  }

  /** Bytes received and not yet read. */
  get buffered(): number {
    return this.recvBytes;
  }

  /** The peer half-closed (FIN) and every byte has been read. */
  get ended(): boolean {
    return this.remoteFin && this.recvBytes === 0;
  }

  /** Set when the stream was reset by either side or the session died. */
  get error(): YamuxError | null {
    return this.failure;
  }

  /** Remaining receive window we granted the peer (for tests and metrics). */
  get receiveWindow(): number {
    return this.recvWindow;
  }

  get remoteWindow(): number {
    return this.sendWindow;
  }

  // ---- writing -----------------------------------------------------------

  /** Queues bytes; resolves when all are framed within the peer's window. */
  write(data: Uint8Array): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.finRequested) return Promise.reject(yamuxError('stream_closed', `write after close on stream ${this.id}`));
    if (data.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.writes.push({ data, off: 0, resolve, reject });
      this.flush();
    });
  }

  /** Half-close: FIN after every queued write. Idempotent. */
  closeWrite(): void {
    if (this.finRequested || this.failure) return;
    this.finRequested = true;
    this.flush();
  }

  /** Abort both directions and tell the peer (RST). */
  reset(): void {
    if (this.done) return;
    this.host.enqueueControl({ type: FrameType.WindowUpdate, flags: Flag.RST, streamId: this.id, length: 0 });
    this.fail(yamuxError('stream_reset', `stream ${this.id} reset locally`));
  }

  // ---- session side ------------------------------------------------------

  /** Checks and consumes receive window for an incoming DATA body of `length` bytes. */
  reserve(length: number): void {
    if (length > this.recvWindow) {
      throw yamuxError('window_exceeded', `stream ${this.id}: ${length} bytes, window ${this.recvWindow}`);
    }
    this.recvWindow -= length;
  }

  /** Body bytes (already reserved) for this stream. */
  pushData(chunk: Uint8Array): void {
    if (this.done || this.remoteFin) {
      // Data after FIN/RST: credit it back silently, nobody will read it.
      this.credit(chunk.length);
      return;
    }
    this.recvBuf.push(chunk);
    this.recvBytes += chunk.length;
    this.onReadable?.();
  }

  addSendWindow(delta: number): void {
    this.sendWindow += delta;
    if (delta > 0) this.flush();
  }

  remoteClosed(): void {
    if (this.remoteFin || this.done) return;
    this.remoteFin = true;
    this.closeTimer?.cancel();
    this.closeTimer = null;
    if (this.finSent) this.finish();
    this.onReadable?.();
  }

  remoteReset(): void {
    this.fail(yamuxError('stream_reset', `stream ${this.id} reset by peer`));
  }

  /** Session died: fail without sending anything. */
  sessionClosed(err: YamuxError): void {
    this.fail(err);
  }

  private fail(err: YamuxError): void {
    if (this.done) return;
    this.failure = err;
    for (const w of this.writes.splice(0)) w.reject(err);
    this.recvBuf = [];
    this.recvBytes = 0;
    this.finish();
    this.onReadable?.();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.closeTimer?.cancel();
    this.closeTimer = null;
    this.host.streamFinished(this.id);
  }

  private credit(n: number): void {
    this.pendingCredit += n;
    // Like hashicorp/yamux: grant only once at least half the window is owed.
    if (this.pendingCredit >= INITIAL_WINDOW / 2 && !this.done && !this.remoteFin) {
      const delta = this.pendingCredit;
      this.pendingCredit = 0;
      this.recvWindow += delta;
      this.host.enqueueControl({ type: FrameType.WindowUpdate, flags: 0, streamId: this.id, length: delta });
    }
  }

  private flush(): void {
    while (this.writes.length > 0 && this.sendWindow > 0 && !this.failure) {
      const w = this.writes[0]!;
      const n = Math.min(this.sendWindow, this.host.maxFrameBody, w.data.length - w.off);
      const body = w.data.subarray(w.off, w.off + n);
      this.host.enqueueData(encodeFrame({ type: FrameType.Data, flags: 0, streamId: this.id, length: n }, body));
      this.sendWindow -= n;
      w.off += n;
      if (w.off === w.data.length) {
        this.writes.shift();
        w.resolve();
      }
    }
    if (this.finRequested && !this.finSent && this.writes.length === 0 && !this.failure) {
      this.finSent = true;
      this.host.enqueueData(encodeFrame({ type: FrameType.WindowUpdate, flags: Flag.FIN, streamId: this.id, length: 0 }));
      if (this.remoteFin) this.finish();
      else {
        // hashicorp/yamux StreamCloseTimeout: reset if the peer never closes its side.
        this.closeTimer = this.host.clock.setTimeout(() => this.reset(), this.host.streamCloseTimeoutMs);
      }
    }
  }
}
