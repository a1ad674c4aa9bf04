/**
 * TypeScript DERP client (for tests, benches and tailnetd's own peer).
 *
 *   connect(url) ─┬─ raw: TCP/TLS → "GET /derp Upgrade: DERP" → 101 (or fast start) ─┐
 *                 └─ websocket: ws subprotocol "derp" ─────────────────────────────────┤
 *                                                            byte stream ⇄ FrameParser ┘
 *   handshake: ServerKey → ClientInfo (sealed) → ServerInfo (opened) → ready
 *
 * Messages arrive through `onMessage`/`onPacket` callbacks or the async
 * iterator. Server pings are answered automatically; our pings resolve on
 * the matching pong. Writes issued in one tick go out as one buffer.
 */
import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { randomBytes, type KeyObject } from 'node:crypto';
import { WebSocket } from 'ws';
import {
  FrameParser,
  FrameType,
  KEY_LEN,
  MAGIC,
  MAX_CLIENT_FRAME,
  MAX_PACKET_SIZE,
  MAX_SERVER_KEY,
  MIN_SERVER_KEY,
  PING_LEN,
  WATCH_CONNS_FRAME,
  closePeerFrame,
  encodeFrame,
  forwardPacketFrame,
  notePreferredFrame,
  pingFrame,
  pongFrame,
  writeFrameHeader,
} from './frame.js';
import { boxKey, openWithKey, sealWithKey } from './box.js';
import { encodeClientInfo, parseServerInfo, type ServerInfo } from './info.js';
import { derpError, DerpError } from './errors.js';
import { privateKeyObject, publicFromPrivate } from './key.js';
import { WS_MAX_OUT_MESSAGE } from './stream.js';

export type DerpMessage =
  | { type: 'packet'; src: Buffer; data: Buffer }
  | { type: 'peerGone'; key: Buffer; reason: number }
  | { type: 'peerPresent'; key: Buffer; ip: Buffer | null; port: number; flags: number }
  | { type: 'keepAlive' }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  | { type: 'health'; problem: string }
  | { type: 'restarting'; reconnectInMs: number; tryForMs: number }
  | { type: 'serverInfo'; info: ServerInfo };

export interface DerpClientOptions {
  meshKey?: string;
  /** Use DERP-over-WebSocket instead of the Upgrade: DERP hijack. */
  websocket?: boolean;
  /** Server key known in advance: raw transport uses fast start (no 101, ClientInfo pipelined). */
  serverPublicKey?: Buffer;
  /** Extra request headers (Coder clients send proxy/auth headers). */
  headers?: Record<string, string>;
  tls?: ConnectionOptions;
  isProber?: boolean;
  canAckPings?: boolean;
  /** Whole connect budget (default 10 s). */
  timeoutMs?: number;
}

const LIMIT_ALL = (): number => MAX_CLIENT_FRAME;

export class DerpClient implements AsyncIterable<DerpMessage> {
  readonly publicKey: Buffer;
  serverPublicKey: Buffer | null = null;
  serverInfo: ServerInfo | null = null;
  /** Called for every message; when set, messages are not queued for recv(). */
  onMessage: ((m: DerpMessage) => void) | null = null;
  /** Fast path for packets (takes precedence over onMessage for packets). */
  onPacket: ((src: Buffer, data: Buffer) => void) | null = null;
  /** Set once the connection is gone. */
  closeError: Error | null = null;
  readonly closed: Promise<void>;

  private readonly priv: KeyObject;
  private readonly parser: FrameParser;
  private sock: Duplex | null = null;
  private ws: WebSocket | null = null;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  private readonly queue: DerpMessage[] = [];
  private waiters: { resolve: (m: DerpMessage) => void; reject: (e: Error) => void }[] = [];
  private pings = new Map<string, () => void>();
  private handshakeDone = false;
  private boxK: Buffer | null = null;
  private resolveReady!: () => void;
  private rejectReady!: (e: Error) => void;
  private resolveClosed!: () => void;
  private readonly ready: Promise<void>;

  private constructor(
    privateKey: Buffer,
    private readonly opts: DerpClientOptions,
  ) {
    this.priv = privateKeyObject(privateKey);
    this.publicKey = publicFromPrivate(privateKey);
    this.parser = new FrameParser(LIMIT_ALL, (t, p) => this.onFrame(t, p));
    this.ready = new Promise((res, rej) => {
      this.resolveReady = res;
      this.rejectReady = rej;
    });
    this.ready.catch(() => {});
    this.closed = new Promise((r) => (this.resolveClosed = r));
  }

  /** Connects to `url` (http(s)://host:port/derp) and completes the handshake (ServerInfo received). */
  static async connect(url: string, privateKey: Buffer, opts: DerpClientOptions = {}): Promise<DerpClient> {
    const c = new DerpClient(privateKey, opts);
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const timer = setTimeout(() => c.fail(derpError('handshake_timeout', 'DERP connect timed out')), timeoutMs);
    try {
      if (opts.websocket) c.openWebSocket(url);
      else c.openRaw(url);
      await c.ready;
      return c;
    } catch (e) {
      c.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Runs the DERP handshake directly on `stream` (no HTTP), as Coder's
   * embedded relay does — e.g. the other end of DerpServer.connectInProcess().
   */
  static async connectDuplex(stream: Duplex, privateKey: Buffer, opts: DerpClientOptions = {}): Promise<DerpClient> {
    const c = new DerpClient(privateKey, opts);
    const timer = setTimeout(() => c.fail(derpError('handshake_timeout', 'DERP connect timed out')), opts.timeoutMs ?? 10_000);
    try {
      c.attach(stream, false);
      await c.ready;
      return c;
    } catch (e) {
      c.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- transports ------------------------------------------------------------

  private openRaw(url: string): void {
    const u = new URL(url);
    const secure = u.protocol === 'https:';
    const port = Number(u.port || (secure ? 443 : 80));
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const sock = secure
      ? tlsConnect({ host, port, servername: host, ALPNProtocols: ['http/1.1'], ...this.opts.tls })
      : netConnect({ host, port });
    this.sock = sock;
    sock.setNoDelay(true);
    const fast = !!this.opts.serverPublicKey;
    let req =
      `GET ${u.pathname || '/derp'} HTTP/1.1\r\nHost: ${u.host}\r\nUser-Agent: tailnetd-derp-client\r\n` +
      `Connection: Upgrade\r\nUpgrade: DERP\r\n`;
    if (fast) req += 'Derp-Fast-Start: 1\r\n';
    for (const [k, v] of Object.entries(this.opts.headers ?? {})) req += `${k}: ${v}\r\n`;
    req += '\r\n';
    let first = Buffer.from(req);
    if (fast) {
      this.serverPublicKey = Buffer.from(this.opts.serverPublicKey!);
      first = Buffer.concat([first, this.clientInfoFrame()]);
    }
    sock.write(first);
    this.attach(sock, !fast);
  }

  /** Reads DERP frames from `sock`, after an HTTP 101 response when `http`. */
  private attach(sock: Duplex, http: boolean): void {
    this.sock = sock;
    let head: Buffer | null = http ? Buffer.alloc(0) : null;
    sock.on('data', (chunk: Buffer) => {
      if (head !== null) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) {
          if (head.length > 16384) this.fail(derpError('upgrade_failed', 'HTTP response too large'));
          return;
        }
        const status = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
        if (!/^HTTP\/1\.[01] 101 /.test(status)) {
          this.fail(derpError('upgrade_failed', `unexpected response: ${status}`));
          return;
        }
        const rest = head.subarray(end + 4);
        head = null;
        if (rest.length > 0) this.feed(rest);
        return;
      }
      this.feed(chunk);
    });
    sock.on('drain', () => this.flush());
    sock.on('error', (e: Error) => this.fail(e));
    sock.on('close', () => this.fail(derpError('closed', 'connection closed')));
  }

  private openWebSocket(url: string): void {
    const u = new URL(url);
    u.protocol = u.protocol === 'https:' ? 'wss:' : u.protocol === 'http:' ? 'ws:' : u.protocol;
    const ws = new WebSocket(u.toString(), 'derp', {
      perMessageDeflate: false,
      headers: this.opts.headers ?? {},
      maxPayload: 4 * MAX_CLIENT_FRAME,
      ...(this.opts.tls ? { rejectUnauthorized: this.opts.tls.rejectUnauthorized ?? true, ca: this.opts.tls.ca } : {}),
    });
    this.ws = ws;
    ws.on('open', () => {
      if (ws.protocol !== 'derp') this.fail(derpError('upgrade_failed', 'server did not accept the derp subprotocol'));
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        this.fail(derpError('bad_frame', 'text WebSocket message'));
        return;
      }
      this.feed(data);
    });
    ws.on('unexpected-response', (_req, res) => this.fail(derpError('upgrade_failed', `unexpected response: ${res.statusCode}`)));
    ws.on('error', (e) => this.fail(e));
    ws.on('close', () => this.fail(derpError('closed', 'connection closed')));
  }

  private feed(chunk: Buffer): void {
    try {
      this.parser.push(chunk);
    } catch (e) {
      this.fail(e as Error);
    }
  }

  // ---- handshake and dispatch ------------------------------------------------------

  private clientInfoFrame(): Buffer {
    this.boxK = boxKey(this.priv, this.serverPublicKey!);
    const json = encodeClientInfo({
      ...(this.opts.meshKey ? { meshKey: this.opts.meshKey } : {}),
      canAckPings: this.opts.canAckPings ?? true,
      isProber: !!this.opts.isProber,
    });
    return encodeFrame(FrameType.ClientInfo, this.publicKey, sealWithKey(this.boxK, json));
  }

  private onFrame(type: number, p: Buffer): boolean {
    if (!this.serverPublicKey) {
      if (type !== FrameType.ServerKey) throw derpError('unexpected_frame', 'first frame is not ServerKey');
      if (p.length < MIN_SERVER_KEY || p.length > MAX_SERVER_KEY) throw derpError('bad_frame', 'bad ServerKey length');
      if (!p.subarray(0, 8).equals(MAGIC)) throw derpError('bad_magic', 'bad ServerKey magic');
      this.serverPublicKey = Buffer.from(p.subarray(8, 8 + KEY_LEN));
      this.writeNow(this.clientInfoFrame());
      return true;
    }
    switch (type) {
      case FrameType.ServerKey:
        return true; // fast start: the key came from elsewhere
      case FrameType.ServerInfo: {
        const info = parseServerInfo(openWithKey(this.boxK!, p));
        this.serverInfo = info;
        if (!this.handshakeDone) {
          this.handshakeDone = true;
          this.resolveReady();
        }
        this.deliver({ type: 'serverInfo', info });
        return true;
      }
      case FrameType.RecvPacket:
        if (p.length < KEY_LEN) return true;
        if (this.onPacket) this.onPacket(p.subarray(0, KEY_LEN), p.subarray(KEY_LEN));
        else this.deliver({ type: 'packet', src: Buffer.from(p.subarray(0, KEY_LEN)), data: p.subarray(KEY_LEN) });
        return true;
      case FrameType.KeepAlive:
        this.deliver({ type: 'keepAlive' });
        return true;
      case FrameType.PeerGone:
        if (p.length < KEY_LEN) return true;
        this.deliver({ type: 'peerGone', key: Buffer.from(p.subarray(0, KEY_LEN)), reason: p.length > KEY_LEN ? p[KEY_LEN]! : 0 });
        return true;
      case FrameType.PeerPresent: {
        if (p.length < KEY_LEN) return true;
        const hasAddr = p.length >= KEY_LEN + 18;
        this.deliver({
          type: 'peerPresent',
          key: Buffer.from(p.subarray(0, KEY_LEN)),
          ip: hasAddr ? Buffer.from(p.subarray(32, 48)) : null,
          port: hasAddr ? p.readUInt16BE(48) : 0,
          flags: p.length >= KEY_LEN + 19 ? p[50]! : 0,
        });
        return true;
      }
      case FrameType.Ping:
        if (p.length < PING_LEN) return true;
        this.write(pongFrame(p));
        this.deliver({ type: 'ping', data: Buffer.from(p.subarray(0, PING_LEN)) });
        return true;
      case FrameType.Pong: {
        if (p.length < PING_LEN) return true;
        const id = p.toString('hex', 0, PING_LEN);
        const w = this.pings.get(id);
        if (w) {
          this.pings.delete(id);
          w();
        } else this.deliver({ type: 'pong', data: Buffer.from(p.subarray(0, PING_LEN)) });
        return true;
      }
      case FrameType.Health:
        this.deliver({ type: 'health', problem: p.toString('utf8') });
        return true;
      case FrameType.Restarting:
        if (p.length < 8) return true;
        this.deliver({ type: 'restarting', reconnectInMs: p.readUInt32BE(0), tryForMs: p.readUInt32BE(4) });
        return true;
      default:
        return true;
    }
  }

  private deliver(m: DerpMessage): void {
    if (this.onMessage) {
      this.onMessage(m);
      return;
    }
    const w = this.waiters.shift();
    if (w) w.resolve(m);
    else this.queue.push(m);
  }

  // ---- public API -------------------------------------------------------------------

  /**
   * Next message; rejects once the connection is gone and the queue is
   * empty, or with a `read_timeout` DerpError after `timeoutMs`.
   */
  recv(timeoutMs?: number): Promise<DerpMessage> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    if (this.closeError) return Promise.reject(this.closeError);
    return new Promise((resolve, reject) => {
      if (timeoutMs === undefined) {
        this.waiters.push({ resolve, reject });
        return;
      }
      const t = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(derpError('read_timeout', 'no message in time'));
      }, timeoutMs);
      const w = {
        resolve: (x: DerpMessage) => {
          clearTimeout(t);
          resolve(x);
        },
        reject: (e: Error) => {
          clearTimeout(t);
          reject(e);
        },
      };
      this.waiters.push(w);
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<DerpMessage> {
    for (;;) {
      let m: DerpMessage;
      try {
        m = await this.recv();
      } catch {
        return;
      }
      yield m;
    }
  }

  send(dst: Uint8Array, packet: Uint8Array): void {
    if (packet.length > MAX_PACKET_SIZE) throw derpError('packet_too_large', 'packet exceeds 64 KiB');
    const out = Buffer.allocUnsafe(5 + KEY_LEN + packet.length);
    writeFrameHeader(out, 0, FrameType.SendPacket, KEY_LEN + packet.length);
    out.set(dst.subarray(0, KEY_LEN), 5);
    out.set(packet, 5 + KEY_LEN);
    this.write(out);
  }

  /** Mesh only: deliver `packet` from `src` to `dst` (never re-forwarded). */
  forwardPacket(src: Uint8Array, dst: Uint8Array, packet: Uint8Array): void {
    this.write(forwardPacketFrame(src, dst, packet));
  }

  notePreferred(preferred: boolean): void {
    this.write(notePreferredFrame(preferred));
  }

  /** Mesh only: subscribe to PeerPresent/PeerGone. */
  watchConns(): void {
    this.write(WATCH_CONNS_FRAME);
  }

  /** Mesh only: close every connection of `key` on the server. */
  closePeer(key: Uint8Array): void {
    this.write(closePeerFrame(key));
  }

  /** Round trip through the server; resolves on the matching pong. */
  ping(timeoutMs = 5000): Promise<void> {
    const data = randomBytes(PING_LEN);
    const id = data.toString('hex');
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.pings.delete(id);
        reject(derpError('read_timeout', 'ping timed out'));
      }, timeoutMs);
      this.pings.set(id, () => {
        clearTimeout(t);
        resolve();
      });
      this.write(pingFrame(data));
    });
  }

  /** Queues raw bytes (already framed); written with everything else queued this tick. */
  write(buf: Buffer): void {
    if (this.closeError) return;
    this.pending.push(buf);
    this.pendingBytes += buf.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** Bytes accepted by write() but not yet handed to the socket, plus the socket's own buffer. */
  get bufferedAmount(): number {
    return this.pendingBytes + (this.sock?.writableLength ?? this.ws?.bufferedAmount ?? 0);
  }

  private writeNow(buf: Buffer): void {
    this.write(buf);
    this.flush();
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0 || this.closeError) return;
    const out = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    if (this.sock) this.sock.write(out);
    else if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      for (let o = 0; o < out.length; o += WS_MAX_OUT_MESSAGE) {
        this.ws.send(out.subarray(o, Math.min(out.length, o + WS_MAX_OUT_MESSAGE)), { binary: true, compress: false });
      }
    } else if (this.ws) {
      this.ws.once('open', () => this.writeNow(out));
    }
  }

  private fail(e: Error): void {
    if (this.closeError) return;
    this.closeError = e instanceof DerpError ? e : derpError('closed', e.message);
    this.rejectReady(this.closeError);
    for (const w of this.waiters) w.reject(this.closeError);
    this.waiters = [];
    this.sock?.destroy();
    if (this.ws && this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
    this.resolveClosed();
  }

  close(): void {
    if (this.closeError) return;
    if (this.pending.length > 0) this.flush();
    this.closeError = derpError('closed', 'client closed');
    this.rejectReady(this.closeError);
    for (const w of this.waiters) w.reject(this.closeError);
    this.waiters = [];
    if (this.sock) this.sock.end(() => this.sock?.destroy());
    if (this.ws) this.ws.close(1000);
    this.resolveClosed();
  }
}
