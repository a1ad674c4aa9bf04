/**
 * Raw DERP on a plain TCP socket taken over from the HTTP server
 * (socket-takeover.ts). Reads land in one buffer shared by every such
 * connection of a DerpServer and go straight to the sink, bracketed by
 * beginRead(mem)/endRead: the sink (Conn) copies out whatever it still needs
 * before endRead returns, and no per-read buffer is ever allocated.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { takeOverSocket } from './socket-takeover.js';
import type { DerpStream, StreamSink } from './stream.js';

export class TcpStream implements DerpStream {
  readonly kind = 'tcp' as const;
  readonly reusesReadBuffer = true;
  private sink: StreamSink | null = null;
  /** Reads that arrived before start() (copied: the read buffer is shared). */
  private early: Buffer[] = [];
  private ended = false;
  /** The sink paused us (before start() finished, e.g. async admission of the head's ClientInfo). */
  private paused = false;
  private sock!: Socket;

  private constructor(private readonly head: Buffer) {}

  /** A TcpStream reading `sock` into `readBuffer`, or null when it cannot be taken over (use SocketStream). */
  static takeOver(sock: Duplex, head: Buffer, readBuffer: Buffer): TcpStream | null {
    const stream = new TcpStream(head);
    const taken = takeOverSocket(sock, { buffer: readBuffer, onRead: (n, b) => stream.onRead(n, b) });
    if (taken === null) return null;
    stream.sock = taken;
    return stream;
  }

  // Asked only when needed (PeerPresent, logs): getpeername is a syscall per connection.
  get remoteAddress(): string | undefined {
    return this.sock.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.sock.remotePort;
  }

  private onRead(n: number, b: Buffer): void {
    const sink = this.sink;
    if (sink === null) {
      this.early.push(Buffer.from(b.subarray(0, n)));
      return;
    }
    sink.beginRead?.(b.buffer);
    try {
      sink.data(b, 0, n);
    } finally {
      sink.endRead?.();
    }
  }

  start(sink: StreamSink): void {
    const sock = this.sock;
    let err: Error | undefined;
    sock.on('error', (e: Error) => {
      err = e;
    });
    sock.on('close', () => sink.closed(err));
    sock.on('drain', () => sink.drain());
    sock.on('end', () => {
      // Half-close from the peer ends the session (Go treats EOF as the end).
      if (!this.ended) sock.destroy();
    });
    this.sink = sink;
    if (this.head.length > 0) sink.data(this.head);
    const early = this.early;
    this.early = [];
    for (const c of early) sink.data(c);
    // Flowing mode, so that EOF is reported as 'end' (no data goes through the Readable).
    if (!this.paused) sock.resume();
  }

  write(buf: Buffer, done?: () => void, start = 0): boolean {
    const sock = this.sock;
    if (sock.destroyed) return true;
    if (start > 0) buf = buf.subarray(start);
    return done ? sock.write(buf, (e?: Error | null) => e || done()) : sock.write(buf);
  }

  pause(): void {
    this.paused = true;
    this.sock.pause();
  }

  resume(): void {
    this.paused = false;
    this.sock.resume();
  }

  end(): void {
    this.ended = true;
    this.sock.end();
  }

  destroy(): void {
    this.sock.destroy();
  }
}
