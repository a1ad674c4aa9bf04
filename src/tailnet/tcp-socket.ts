/**
 * stream.Duplex over a TcpConnection (spec §4.9): backpressure maps to the
 * send buffer and the receive window, errors carry socket-style codes, and
 * the net.Socket surface that node:http touches is present.
 */
import { Duplex } from 'node:stream';
import type { Clock, TimerHandle } from '../util/clock.js';
import { tailnetError } from './errors.js';
import type { TcpConnection, TcpEvents } from './tcp.js';

export interface TailnetSocketInit {
  localAddress: string;
  remoteAddress: string;
  localPort: number;
  remotePort: number;
  clock: Clock;
  allowHalfOpen?: boolean;
}

export class TailnetSocket extends Duplex {
  readonly localAddress: string;
  readonly remoteAddress: string;
  readonly localPort: number;
  readonly remotePort: number;
  readonly remoteFamily = 'IPv6';
  connecting = true;
  private conn: TcpConnection | null = null;
  private pendingWrite: ((err?: Error | null) => void) | null = null;
  private tcbClosed = false;
  private readonly clock: Clock;
  private idleMs = 0;
  private idleTimer: TimerHandle | null = null;

  constructor(init: TailnetSocketInit) {
    super({ allowHalfOpen: init.allowHalfOpen ?? false, readableHighWaterMark: 65_535 });
    this.localAddress = init.localAddress;
    this.remoteAddress = init.remoteAddress;
    this.localPort = init.localPort;
    this.remotePort = init.remotePort;
    this.clock = init.clock;
  }

  /** Events the TCB reports into this socket. */
  tcpEvents(output: TcpEvents['output'], onClosed: () => void): TcpEvents {
    return {
      output,
      connected: () => {
        this.connecting = false;
        this.touch();
        this.emit('connect');
        this.emit('ready');
      },
      data: (b) => {
        this.touch();
        this.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
      },
      end: () => {
        this.push(null);
      },
      drain: () => {
        const cb = this.pendingWrite;
        this.pendingWrite = null;
        cb?.();
      },
      error: (err) => {
        this.destroy(err);
      },
      closed: () => {
        this.tcbClosed = true;
        const cb = this.pendingWrite;
        this.pendingWrite = null;
        cb?.(tailnetError('EPIPE', 'connection closed'));
        this.clearIdle();
        onClosed();
      },
      receiveBuffered: () => this.readableLength,
    };
  }

  attach(conn: TcpConnection): void {
    this.conn = conn;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const conn = this.conn;
    if (!conn || this.tcbClosed) {
      cb(tailnetError('EPIPE', 'connection closed'));
      return;
    }
    this.touch();
    const data = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (conn.write(data)) cb();
    else if (conn.state === 'CLOSED') cb(tailnetError('EPIPE', 'connection closed'));
    else this.pendingWrite = cb;
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.conn?.close();
    cb();
  }

  override _read(): void {
    // Readable calls _read before it removes the bytes being read: look at the window afterwards.
    queueMicrotask(() => this.conn?.windowUpdate());
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.clearIdle();
    const clean = !err && this.writableFinished && this.readableEnded;
    // A clean close lets the TCB finish its FIN exchange; anything else is an abort (RST).
    if (!clean) this.conn?.abort();
    cb(err);
  }

  /** Half-closes (like net.Socket.destroySoon). */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  /** Idle timeout: emits 'timeout' after ms without traffic (0 disables). */
  setTimeout(ms: number, cb?: () => void): this {
    this.idleMs = ms;
    if (cb) this.once('timeout', cb);
    this.touch();
    return this;
  }

  setNoDelay(_noDelay?: boolean): this {
    return this; // Nagle is never used
  }

  setKeepAlive(_enable?: boolean, _delay?: number): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  address(): { address: string; family: string; port: number } {
    return { address: this.localAddress, family: 'IPv6', port: this.localPort };
  }

  private touch(): void {
    this.clearIdle();
    if (this.idleMs > 0) this.idleTimer = this.clock.setTimeout(() => this.emit('timeout'), this.idleMs);
  }

  private clearIdle(): void {
    this.idleTimer?.cancel();
    this.idleTimer = null;
  }
}
