/**
 * The byte-stream seam between transports and DerpServer. A transport wraps
 * its connection (hijacked TCP/TLS socket, WebSocket, in-process duplex) as a
 * DerpStream; the server only sees chunks in, bytes out, backpressure and close.
 */
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

export interface StreamSink {
  data(chunk: Buffer): void;
  /** Writes may continue after write() returned false. */
  drain(): void;
  closed(err?: Error): void;
}

export interface DerpStream {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly kind: 'tcp' | 'websocket' | 'other';
  start(sink: StreamSink): void;
  /**
   * False when the caller should wait for sink.drain(). `done`, if given, is
   * called once the transport no longer references `buf` (so it can be
   * reused); it may never be called (stream died, or the transport cannot
   * tell, e.g. an arbitrary Duplex).
   */
  write(buf: Buffer, done?: () => void): boolean;
  pause(): void;
  resume(): void;
  /** Flush what was written, then close. */
  end(): void;
  /** Close now, discarding unsent bytes. */
  destroy(): void;
}

/** A net.Socket / tls.TLSSocket / any Duplex carrying raw DERP bytes. */
export class SocketStream implements DerpStream {
  readonly kind: 'tcp' | 'other';
  private ended = false;

  constructor(
    private readonly sock: Duplex,
    private readonly head?: Buffer,
  ) {
    this.kind = sock instanceof Socket ? 'tcp' : 'other';
  }

  get remoteAddress(): string | undefined {
    return (this.sock as Partial<Socket>).remoteAddress;
  }

  get remotePort(): number | undefined {
    return (this.sock as Partial<Socket>).remotePort;
  }

  start(sink: StreamSink): void {
    let err: Error | undefined;
    this.sock.on('error', (e: Error) => {
      err = e;
    });
    this.sock.on('close', () => sink.closed(err));
    this.sock.on('drain', () => sink.drain());
    this.sock.on('end', () => {
      // Half-close from the peer ends the session (Go treats EOF as the end).
      if (!this.ended) this.sock.destroy();
    });
    if (this.head && this.head.length > 0) sink.data(this.head);
    this.sock.on('data', (c: Buffer) => sink.data(c));
  }

  write(buf: Buffer, done?: () => void): boolean {
    if (this.sock.destroyed) return true;
    // Only a real socket is known to be done with the bytes at callback time.
    return done && this.kind === 'tcp' ? this.sock.write(buf, (err?: Error | null) => err || done()) : this.sock.write(buf);
  }

  pause(): void {
    this.sock.pause();
  }

  resume(): void {
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

/** Go peers reject WebSocket messages over 32 KiB; stay well below. */
export const WS_MAX_OUT_MESSAGE = 16 * 1024;
const WS_HIGH_WATER = 256 * 1024;

/**
 * DERP over WebSocket binary messages: incoming message payloads are
 * concatenated into the byte stream, outgoing bytes are cut into ≤16 KiB
 * messages. A text message is a protocol violation (close 1003, like Go).
 */
export class WsStream implements DerpStream {
  readonly kind = 'websocket' as const;
  private outstanding = 0;
  private wantDrain = false;
  private sink: StreamSink | null = null;

  constructor(
    private readonly ws: WebSocket,
    readonly remoteAddress: string | undefined,
    readonly remotePort: number | undefined,
  ) {}

  start(sink: StreamSink): void {
    this.sink = sink;
    let err: Error | undefined;
    this.ws.on('error', (e: Error) => {
      err = e;
    });
    this.ws.on('close', () => sink.closed(err));
    this.ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (!isBinary) {
        this.ws.close(1003, 'binary only');
        return;
      }
      if (Buffer.isBuffer(data)) sink.data(data);
      else if (Array.isArray(data)) for (const d of data) sink.data(d);
      else sink.data(Buffer.from(data));
    });
  }

  write(buf: Buffer, done?: () => void): boolean {
    if (this.ws.readyState !== 1) return true;
    const total = buf.length;
    this.outstanding += total;
    for (let o = 0; o < total; o += WS_MAX_OUT_MESSAGE) {
      const end = Math.min(total, o + WS_MAX_OUT_MESSAGE);
      const last = end === total;
      this.ws.send(
        buf.subarray(o, end),
        { binary: true, compress: false },
        last
          ? (err) => {
              this.written(total);
              if (!err) done?.();
            }
          : undefined,
      );
    }
    if (this.outstanding > WS_HIGH_WATER) {
      this.wantDrain = true;
      return false;
    }
    return true;
  }

  private written(n: number): void {
    this.outstanding -= n;
    if (this.wantDrain && this.outstanding <= WS_HIGH_WATER / 2) {
      this.wantDrain = false;
      this.sink?.drain();
    }
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  end(): void {
    this.ws.close(1000);
  }

  destroy(): void {
    this.ws.terminate();
  }

  closeWith(code: number, reason: string): void {
    this.ws.close(code, reason);
  }
}
