/**
 * A small Go-shaped v2 client for tests: WebSocket → yamux (client role) → one
 * yamux stream per RPC → dRPC packets, built on the src/rpc codecs. Like Coder's
 * drpcsdk it opens a fresh yamux stream for every call (dRPC stream id 1).
 */
import pino from 'pino';
import WebSocket from 'ws';
import { PacketReassembler } from '../../src/rpc/drpc/reassembler.js';
import { Kind, decodeErrorBody, encodePacket, type Packet } from '../../src/rpc/drpc/wire.js';
import { WsByteStream } from '../../src/rpc/ws-stream.js';
import { YamuxSession } from '../../src/rpc/yamux/session.js';
import type { YamuxStream } from '../../src/rpc/yamux/stream.js';
import type { MessageCodec } from '../../src/rpc/proto/schema.js';
import * as tp from '../../src/rpc/proto/tailnet.js';

const silent = pino({ level: 'silent' });

export class HttpRejection extends Error {
  constructor(
    readonly status: number,
    readonly body: { message?: string; detail?: string; validations?: { field: string; detail: string }[] },
  ) {
    super(`HTTP ${status}: ${JSON.stringify(body)}`);
  }
}

export class RpcCallError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** One dRPC call on its own yamux stream. */
export class Call {
  private readonly reasm = new PacketReassembler();
  private readonly packets: Packet[] = [];
  private waiters: (() => void)[] = [];
  private messageId = 1;
  eof = false;

  constructor(readonly stream: YamuxStream) {
    stream.onReadable = () => this.pump();
  }

  private pump(): void {
    for (;;) {
      const c = this.stream.read();
      if (!c) break;
      this.reasm.push(c);
    }
    for (let p = this.reasm.next(); p; p = this.reasm.next()) this.packets.push(p);
    if (this.stream.ended || this.stream.error) this.eof = true;
    for (const w of this.waiters.splice(0)) w();
  }

  sendPackets(items: { kind: number; data: Uint8Array; control?: boolean; streamId?: number; messageId?: number }[]): Promise<void> {
    const parts = items.map((it) =>
      encodePacket({ kind: it.kind, streamId: it.streamId ?? 1, messageId: it.messageId ?? this.messageId++, control: it.control ?? false, data: it.data }),
    );
    return this.stream.write(Buffer.concat(parts));
  }

  invoke(method: string): Promise<void> {
    return this.sendPackets([{ kind: Kind.Invoke, data: new TextEncoder().encode(method) }]);
  }

  message(data: Uint8Array): Promise<void> {
    return this.sendPackets([{ kind: Kind.Message, data }]);
  }

  closeSend(): Promise<void> {
    return this.sendPackets([{ kind: Kind.CloseSend, data: new Uint8Array(0) }]);
  }

  /** Next packet, or null at EOF / timeout. */
  async next(timeoutMs = 5000): Promise<Packet | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const p = this.packets.shift();
      if (p) return p;
      if (this.eof) return null;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** True when nothing arrives within `ms`. */
  async quiet(ms: number): Promise<boolean> {
    const p = await this.next(ms);
    if (p) this.packets.unshift(p);
    return p === null;
  }

  fin(): void {
    this.stream.closeWrite();
  }

  reset(): void {
    this.stream.reset();
  }
}

/** A Coordinate call with typed send/receive. */
export class CoordinateCall {
  constructor(readonly call: Call) {}

  send(req: Partial<tp.CoordinateRequest>): Promise<void> {
    return this.call.message(tp.CoordinateRequest.encode({ readyForHandshake: [], ...req }));
  }

  /** Next response; null when the stream ended (CloseSend/EOF) or nothing came in time. */
  async recv(timeoutMs = 5000): Promise<tp.CoordinateResponse | null> {
    for (;;) {
      const p = await this.call.next(timeoutMs);
      if (!p) return null;
      if (p.kind === Kind.Message) return tp.CoordinateResponse.decode(p.data);
      if (p.kind === Kind.Error) throw new RpcCallError(decodeErrorBody(p.data).code, decodeErrorBody(p.data).message);
      if (p.kind === Kind.CloseSend || p.kind === Kind.Close) return null;
    }
  }

  /** Receives until `pred` matches a peer update; returns it (throws on timeout). */
  async until(pred: (u: tp.PeerUpdate, r: tp.CoordinateResponse) => boolean, timeoutMs = 5000): Promise<tp.PeerUpdate> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.recv(Math.max(1, deadline - Date.now()));
      if (!r) throw new Error('coordinate stream ended or timed out before the expected update');
      for (const u of r.peerUpdates) if (pred(u, r)) return u;
    }
  }

  /** Receives until a response with a non-empty error arrives. */
  async untilError(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.recv(Math.max(1, deadline - Date.now()));
      if (!r) throw new Error('coordinate stream ended before an error');
      if (r.error) return r.error;
    }
  }

  /** Resolves true once the server ended the call (CloseSend or EOF), skipping other responses. */
  async ended(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const p = await this.call.next(Math.max(1, deadline - Date.now()));
      if (!p) return this.call.eof || Date.now() < deadline;
      if (p.kind === Kind.CloseSend || p.kind === Kind.Close || p.kind === Kind.Error) return true;
    }
  }
}

export interface DialOptions {
  token?: string;
  query?: Record<string, string>;
  /** Split every outgoing write into WebSocket messages of at most this many bytes. */
  splitWrites?: number;
}

export class RpcClient {
  private constructor(
    readonly ws: WebSocket,
    readonly session: YamuxSession,
    readonly closed: Promise<{ code: number; reason: string }>,
  ) {}

  static dial(baseUrl: string, path: string, opts: DialOptions = {}): Promise<RpcClient> {
    const u = new URL(path, baseUrl);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    for (const [k, v] of Object.entries(opts.query ?? {})) u.searchParams.set(k, v);
    const ws = new WebSocket(u, { headers: opts.token ? { 'Coder-Session-Token': opts.token } : {}, perMessageDeflate: false, maxPayload: 64 << 20 });
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    return new Promise<RpcClient>((resolve, reject) => {
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => {
          let parsed: HttpRejection['body'] = {};
          try {
            parsed = JSON.parse(body) as HttpRejection['body'];
          } catch {
            // not JSON
          }
          reject(new HttpRejection(res.statusCode ?? 0, parsed));
        });
      });
      ws.on('error', reject);
      ws.on('open', () => {
        const split = opts.splitWrites;
        if (split) {
          const send = ws.send.bind(ws) as (d: Buffer, o: { binary: boolean }, cb?: (e?: Error) => void) => void;
          (ws as unknown as { send: typeof send }).send = (d, o, cb) => {
            const buf = Buffer.from(d);
            for (let i = 0; i < buf.length; i += split) send(buf.subarray(i, i + split), { binary: true }, i + split >= buf.length ? cb : undefined);
          };
        }
        const session = new YamuxSession(new WsByteStream(ws), { role: 'client', logger: silent, keepaliveIntervalMs: null });
        resolve(new RpcClient(ws, session, closed));
      });
    });
  }

  open(): Call {
    return new Call(this.session.openStream());
  }

  async unaryRaw(method: string, body: Uint8Array): Promise<Uint8Array> {
    const call = this.open();
    await call.sendPackets([
      { kind: Kind.Invoke, data: new TextEncoder().encode(method) },
      { kind: Kind.Message, data: body },
      { kind: Kind.CloseSend, data: new Uint8Array(0) },
    ]);
    try {
      for (;;) {
        const p = await call.next();
        if (!p) throw new Error(`${method}: no response`);
        if (p.kind === Kind.Message) return p.data;
        if (p.kind === Kind.Error) {
          const e = decodeErrorBody(p.data);
          throw new RpcCallError(e.code, e.message);
        }
      }
    } finally {
      call.fin();
    }
  }

  async unary<Req, Res>(method: string, req: MessageCodec<Req>, res: MessageCodec<Res>, body: Req): Promise<Res> {
    return res.decode(await this.unaryRaw(method, req.encode(body)));
  }

  async coordinate(): Promise<CoordinateCall> {
    const call = this.open();
    await call.invoke(tp.TailnetMethods.Coordinate);
    return new CoordinateCall(call);
  }

  /** Starts StreamDERPMaps; read maps with next(). */
  async derpMaps(): Promise<{ call: Call; next(timeoutMs?: number): Promise<tp.DERPMap | null> }> {
    const call = this.open();
    await call.sendPackets([
      { kind: Kind.Invoke, data: new TextEncoder().encode(tp.TailnetMethods.StreamDERPMaps) },
      { kind: Kind.Message, data: new Uint8Array(0) },
      { kind: Kind.CloseSend, data: new Uint8Array(0) },
    ]);
    return {
      call,
      async next(timeoutMs = 5000) {
        for (;;) {
          const p = await call.next(timeoutMs);
          if (!p) return null;
          if (p.kind === Kind.Message) return tp.DERPMap.decode(p.data);
          if (p.kind !== Kind.Message) return null;
        }
      },
    };
  }

  close(): void {
    this.session.close(1000, '');
  }
}
