/**
 * The byte-stream seam between transports and DerpServer. A transport wraps
 * its connection (hijacked TCP/TLS socket, WebSocket, in-process duplex) as a
 * DerpStream; the server only sees chunks in, bytes out, backpressure and close.
 */
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { SharedReads } from './socket-takeover.js';
import { WS_MAX_SMALL_HEADER, WS_OP_BINARY, WS_OP_CLOSE, WS_OP_PING, WS_OP_PONG, WsReader, wsCloseFrame, wsFrame, wsHeaderLen, writeWsHeaderBefore } from './ws.js';

export interface StreamSink {
  /**
   * Bytes chunk[start..end) (the whole chunk by default) arrived. A chunk
   * inside a beginRead(mem) bracket is not referenced after endRead.
   */
  data(chunk: Buffer, start?: number, end?: number): void;
  /** Writes may continue after write() returned false. */
  drain(): void;
  closed(err?: Error): void;
  /**
   * Optional bracket around one transport read that makes several data()
   * calls (a TCP chunk holding many WebSocket messages): the output they
   * route is written once, at endRead, not after each data() call. `mem`:
   * the read's chunks live in this memory, which the transport reuses after
   * endRead (a transport that reusesReadBuffer must always bracket).
   */
  beginRead?(mem?: ArrayBufferLike): void;
  endRead?(): void;
}

export interface DerpStream {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly kind: 'tcp' | 'websocket' | 'other';
  /** Bytes the transport wants free in front of the data of each write (see write's `start`); 0 if absent. */
  readonly headroom?: number;
  /** Preferred largest write (data bytes); larger ones still work, split by the transport. */
  readonly maxWrite?: number;
  /** Reads land in one buffer, overwritten by the next read (see StreamSink.beginRead). */
  readonly reusesReadBuffer?: boolean;
  start(sink: StreamSink): void;
  /**
   * Sends buf[start..] (start defaults to 0); buf[0..start) is scratch space
   * the transport may overwrite (a WebSocket frame header goes there).
   * False when the caller should wait for sink.drain(). `done`, if given, is
   * called once the transport no longer references `buf` (so it can be
   * reused); it may never be called (stream died, or the transport cannot
   * tell, e.g. an arbitrary Duplex).
   */
  write(buf: Buffer, done?: () => void, start?: number): boolean;
  pause(): void;
  resume(): void;
  /** Flush what was written, then close. */
  end(): void;
  /** Close now, discarding unsent bytes. */
  destroy(): void;
}

/**
 * A net.Socket / tls.TLSSocket / any Duplex carrying raw DERP bytes. Given a
 * read buffer, a plain TCP socket reads into it (socket-takeover.ts) instead
 * of through its Readable: that buffer is shared by the server's connections,
 * so each read is bracketed by sink.beginRead(mem)/endRead and the sink copies
 * out what it keeps.
 */
export class SocketStream implements DerpStream {
  readonly kind: 'tcp' | 'other';
  readonly reusesReadBuffer: boolean;
  private readonly shared: SharedReads | null;
  private ended = false;

  constructor(
    private readonly sock: Duplex,
    private readonly head?: Buffer,
    readBuffer?: Buffer,
  ) {
    this.kind = sock instanceof Socket ? 'tcp' : 'other';
    this.shared = readBuffer ? SharedReads.attach(sock, readBuffer) : null;
    this.reusesReadBuffer = this.shared !== null;
  }

  // Asked only when needed (PeerPresent, logs): getpeername is a syscall per connection.
  get remoteAddress(): string | undefined {
    return (this.sock as Partial<Socket>).remoteAddress;
  }

  get remotePort(): number | undefined {
    return (this.sock as Partial<Socket>).remotePort;
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
    if (this.head && this.head.length > 0) sink.data(this.head);
    if (this.shared === null) {
      sock.on('data', (c: Buffer) => sink.data(c));
      return;
    }
    this.shared.start((c, n, mem) => {
      sink.beginRead?.(mem);
      try {
        sink.data(c, 0, n);
      } finally {
        sink.endRead?.();
      }
    });
  }

  write(buf: Buffer, done?: () => void, start = 0): boolean {
    if (this.sock.destroyed) return true;
    if (start > 0) buf = buf.subarray(start);
    // Only a real socket is known to be done with the bytes at callback time.
    return done && this.kind === 'tcp' ? this.sock.write(buf, (err?: Error | null) => err || done()) : this.sock.write(buf);
  }

  pause(): void {
    if (this.shared) this.shared.pause();
    else this.sock.pause();
  }

  resume(): void {
    if (this.shared) this.shared.resume();
    else this.sock.resume();
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
 * DERP over WebSocket binary messages via the `ws` library (kept for
 * embedders; the HTTP handlers use WsSocketStream): incoming message payloads are
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
    // ws emits the messages of one socket read one by one: bracket them until the
    // microtask after that read, so what they route leaves in one write.
    let reading = false;
    const readDone = (): void => {
      reading = false;
      sink.endRead?.();
    };
    this.ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (!reading && sink.beginRead) {
        reading = true;
        sink.beginRead();
        queueMicrotask(readDone);
      }
      if (!isBinary) {
        this.ws.close(1003, 'binary only');
        return;
      }
      if (Buffer.isBuffer(data)) sink.data(data);
      else if (Array.isArray(data)) for (const d of data) sink.data(d);
      else sink.data(Buffer.from(data));
    });
  }

  write(buf: Buffer, done?: () => void, start = 0): boolean {
    if (this.ws.readyState !== 1) return true;
    if (start > 0) buf = buf.subarray(start);
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

const NO_SINK: StreamSink = { data: () => {}, drain: () => {}, closed: () => {} };
/** After we send a Close frame, how long the peer gets to close the TCP connection. */
const WS_CLOSE_WAIT_MS = 5000;

/**
 * DERP over WebSocket on the upgraded socket itself (the 101 was built by
 * http.ts): client frames are unmasked in place and streamed to the sink
 * without assembling messages; each write becomes one unmasked binary
 * message whose header goes into the caller's headroom, so a flush is one
 * socket write with no copy. Writes over 16 KiB are split (copied) into
 * several messages, since Go peers reject messages over 32 KiB.
 */
export class WsSocketStream implements DerpStream {
  readonly kind = 'websocket' as const;
  readonly headroom = WS_MAX_SMALL_HEADER;
  readonly maxWrite = WS_MAX_OUT_MESSAGE;
  /** Reads go to the server's shared buffer (see socket-takeover.ts). */
  readonly reusesReadBuffer: boolean;
  private readonly shared: SharedReads | null;
  private prefix: Buffer | null;
  private sink: StreamSink = NO_SINK;
  private readonly reader: WsReader;
  /** A Close frame went out: nothing more is sent. */
  private closeSent = false;
  private ended = false;

  constructor(
    private readonly sock: Duplex,
    private readonly head: Buffer,
    /** The HTTP 101 response, sent in the same write as the first message. */
    handshake: Buffer,
    maxMessage: number,
    /** The peer's address, when known; asked of the socket otherwise. */
    private readonly peerAddress: string | undefined,
    private readonly peerPort: number | undefined,
    /** Read into this shared buffer instead of Node's Readable when the socket can be taken over. */
    readBuffer?: Buffer,
  ) {
    this.prefix = handshake;
    this.reader = new WsReader(
      {
        data: (b, start, end) => this.sink.data(b, start, end),
        control: (op, p) => this.onControl(op, p),
        error: (code, reason) => this.closeWith(code, reason),
      },
      maxMessage,
    );
    this.shared = readBuffer ? SharedReads.attach(sock, readBuffer) : null;
    this.reusesReadBuffer = this.shared !== null;
  }

  // Asked only when needed (PeerPresent, logs): getpeername is a syscall per connection.
  get remoteAddress(): string | undefined {
    return this.peerAddress ?? (this.sock as Partial<Socket>).remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.peerPort ?? (this.sock as Partial<Socket>).remotePort;
  }

  start(sink: StreamSink): void {
    this.sink = sink;
    const sock = this.sock;
    let err: Error | undefined;
    sock.on('error', (e: Error) => {
      err = e;
    });
    sock.on('close', () => sink.closed(err));
    sock.on('drain', () => sink.drain());
    sock.on('end', () => {
      if (!this.ended) sock.destroy();
    });
    if (this.head.length > 0) this.read(this.head, this.head.length, undefined);
    if (this.shared === null) sock.on('data', (c: Buffer) => this.read(c, c.length, undefined));
    else this.shared.start((c, n, mem) => this.read(c, n, mem));
  }

  /** One socket read: what its messages route leaves in one write per receiver. */
  private read(c: Buffer, n: number, mem: ArrayBufferLike | undefined): void {
    const sink = this.sink;
    sink.beginRead?.(mem);
    try {
      if (!this.reader.dead) this.reader.push(c, n);
    } finally {
      sink.endRead?.();
    }
  }

  write(buf: Buffer, done?: () => void, start = 0): boolean {
    const sock = this.sock;
    if (sock.destroyed || this.closeSent) return true;
    const n = buf.length - start;
    if (n === 0) return true;
    if (this.prefix === null && n <= WS_MAX_OUT_MESSAGE && start >= wsHeaderLen(n)) {
      const frame = buf.subarray(writeWsHeaderBefore(buf, start, WS_OP_BINARY, n));
      if (done) sock.write(frame, (e?: Error | null) => e || done());
      else sock.write(frame);
    } else {
      sock.write(this.frameCopy(buf, start));
      // The bytes were copied: the caller may reuse `buf` now.
      done?.();
    }
    // Like the ws-based stream, allow WS_HIGH_WATER of unsent bytes (WebSocket
    // readers are slower than raw DERP ones); past the socket's own mark it
    // emits 'drain' once empty.
    return sock.writableLength <= WS_HIGH_WATER;
  }

  /** buf[start..] as ≤16 KiB messages in one new buffer, after the pending handshake if any. */
  private frameCopy(buf: Buffer, start: number): Buffer {
    const pre = this.prefix;
    this.prefix = null;
    const n = buf.length - start;
    let total = pre ? pre.length : 0;
    for (let o = 0; o < n; o += WS_MAX_OUT_MESSAGE) {
      const m = Math.min(WS_MAX_OUT_MESSAGE, n - o);
      total += wsHeaderLen(m) + m;
    }
    const out = Buffer.allocUnsafe(total);
    let w = 0;
    if (pre) w += pre.copy(out, 0);
    for (let o = 0; o < n; o += WS_MAX_OUT_MESSAGE) {
      const m = Math.min(WS_MAX_OUT_MESSAGE, n - o);
      w += wsHeaderLen(m);
      writeWsHeaderBefore(out, w, WS_OP_BINARY, m);
      w += buf.copy(out, w, start + o, start + o + m);
    }
    return out;
  }

  private onControl(op: number, payload: Buffer): void {
    if (op === WS_OP_PING) {
      if (!this.closeSent && !this.sock.destroyed) this.sock.write(wsFrame(WS_OP_PONG, payload));
    } else if (op === WS_OP_CLOSE) {
      // Echo the peer's status (1000 for none), then finish; 'close' reaches the sink.
      this.closeWith(payload.length >= 2 ? payload.readUInt16BE(0) : 1000, '');
    }
  }

  pause(): void {
    if (this.shared) this.shared.pause();
    else this.sock.pause();
  }

  resume(): void {
    if (this.shared) this.shared.resume();
    else this.sock.resume();
  }

  /** Close 1000 after what was written (Go reads it as a clean EOF). */
  end(): void {
    this.closeWith(1000, '');
  }

  destroy(): void {
    this.sock.destroy();
  }

  /** Sends a Close frame (once) and ends our side; the peer closes the TCP connection. */
  closeWith(code: number, reason: string): void {
    const sock = this.sock;
    if (this.ended || sock.destroyed) return;
    if (!this.closeSent) {
      const f = wsCloseFrame(code, reason);
      const pre = this.prefix;
      this.prefix = null;
      sock.write(pre ? Buffer.concat([pre, f]) : f);
      this.closeSent = true;
    }
    this.ended = true;
    sock.end();
    const t = setTimeout(() => sock.destroy(), WS_CLOSE_WAIT_MS);
    t.unref();
    sock.once('close', () => clearTimeout(t));
  }
}
