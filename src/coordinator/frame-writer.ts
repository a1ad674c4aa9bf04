/**
 * Per-socket outbound path. Pre-framed messages go straight to the TCP socket
 * while it accepts writes; once the kernel buffer pushes back, messages wait
 * in a bounded queue (never blocking the caller) and a write-timeout timer
 * starts. A socket that does not drain in time is failed; a full queue is
 * reported to the caller, which drops the peer. Healthy sockets cost no timer.
 */
import type { Duplex } from 'node:stream';
import type { Clock, TimerHandle } from '../util/clock.js';

export interface FrameWriterOptions {
  clock: Clock;
  maxQueue: number;
  writeTimeoutMs: number;
  /** Called once when the socket stayed blocked past the write timeout. */
  onTimeout(): void;
  /** Accounting hook: one message of `bytes` handed to the socket. */
  onWrite?(bytes: number): void;
}

export class FrameWriter {
  private queue: Buffer[] = [];
  private head = 0;
  private blocked = false;
  private timer: TimerHandle | null = null;
  private ended = false;
  lastWriteAt = 0;

  constructor(
    private readonly socket: Duplex,
    private readonly opts: FrameWriterOptions,
  ) {
    socket.on('drain', this.onDrain);
  }

  /** Queued (not yet handed to the socket) messages. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  /** Hands a frame to the socket or queues it. Returns false only when the queue is full. */
  send(frame: Buffer): boolean {
    if (this.ended) return true;
    if (!this.blocked) {
      this.write(frame);
      return true;
    }
    if (this.queue.length - this.head >= this.opts.maxQueue) return false;
    this.queue.push(frame);
    return true;
  }

  /** Stops writing and releases queued frames. Idempotent. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.timer?.cancel();
    this.timer = null;
    this.socket.off('drain', this.onDrain);
    this.queue = [];
    this.head = 0;
  }

  private write(frame: Buffer): void {
    if (!this.socket.writable) return;
    this.lastWriteAt = this.opts.clock.now();
    this.opts.onWrite?.(frame.length);
    if (!this.socket.write(frame)) {
      this.blocked = true;
      this.timer ??= this.opts.clock.setTimeout(this.onTimer, this.opts.writeTimeoutMs);
    }
  }

  private readonly onDrain = (): void => {
    if (this.ended) return;
    this.timer?.cancel();
    this.timer = null;
    this.blocked = false;
    while (!this.blocked && this.head < this.queue.length) {
      const frame = this.queue[this.head] as Buffer;
      this.queue[this.head++] = EMPTY;
      this.write(frame);
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    }
  };

  private readonly onTimer = (): void => {
    this.timer = null;
    if (this.ended || !this.blocked) return;
    this.opts.onTimeout();
  };
}

const EMPTY = Buffer.alloc(0);
