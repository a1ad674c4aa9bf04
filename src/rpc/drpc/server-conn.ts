/**
 * dRPC server side of one transport (one yamux stream), as drpcserver +
 * drpcmanager do it:
 *
 *   yamux stream ─read()─► PacketReassembler ─► packet router ─► current call inbox ─► handler.recv()
 *   handler.send() ─► encodePacket ─► yamux stream.write()
 *
 * Calls on one transport run one at a time; an Invoke with a higher stream id
 * cancels any unfinished older call (Go manager behaviour). Coder opens a
 * fresh yamux stream per RPC, so normally there is exactly one call.
 * Reading pauses while the call's inbox is full, so yamux window credit is
 * only returned as the handler consumes messages.
 */
import type { Logger } from 'pino';
import { Reader } from '../proto/wire.js';
import type { YamuxStream } from '../yamux/stream.js';
import { DrpcCode, DrpcProtocolError, RpcError, drpcProtocolError } from './errors.js';
import type { RawHandler, RpcContext, RpcMux } from './mux.js';
import { PacketReassembler } from './reassembler.js';
import { Kind, MAX_PACKET_SIZE, encodeErrorBody, encodePacket, type Packet } from './wire.js';

/** Messages buffered per call before reading from the transport pauses. */
const INBOX_LIMIT = 4;
const EMPTY = new Uint8Array(0);
const utf8 = new TextDecoder();

export interface DrpcServerConnOptions {
  logger?: Logger;
  maxPacketSize?: number;
  /** Called once per finished call (method, outcome code) for metrics. */
  onCallEnd?: (method: string, outcome: 'ok' | 'error' | 'unimplemented' | 'cancelled') => void;
  /** A wire violation reset the transport (code = DrpcProtocolError.code, a metric label). */
  onProtocolError?: (code: string) => void;
}

class Call {
  readonly abort = new AbortController();
  readonly inbox: Uint8Array[] = [];
  recvClosed = false;
  finished = false;
  private waiter: ((m: Uint8Array | null) => void) | null = null;
  private nextMessageId = 1;
  readonly ctx: RpcContext;

  constructor(
    readonly streamId: number,
    readonly method: string,
    metadata: ReadonlyMap<string, string>,
    private readonly conn: DrpcServerConn,
  ) {
    this.ctx = { method, signal: this.abort.signal, metadata };
  }

  deliver(m: Uint8Array): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(m);
    } else this.inbox.push(m);
  }

  endInput(): void {
    this.recvClosed = true;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(null);
    }
  }

  cancel(): void {
    if (this.abort.signal.aborted) return;
    this.abort.abort(new Error('rpc cancelled'));
    this.inbox.length = 0;
    this.endInput();
  }

  recv(): Promise<Uint8Array | null> {
    const m = this.inbox.shift();
    if (m) {
      this.conn.resume();
      return Promise.resolve(m);
    }
    if (this.recvClosed || this.abort.signal.aborted) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.waiter = resolve;
      this.conn.resume();
    });
  }

  /** Encodes packets with consecutive message ids into one buffer. */
  packets(...items: { kind: number; data: Uint8Array }[]): Uint8Array {
    const parts = items.map((it) => encodePacket({ kind: it.kind, streamId: this.streamId, messageId: this.nextMessageId++, control: false, data: it.data }));
    if (parts.length === 1) return parts[0]!;
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  async send(message: Uint8Array): Promise<void> {
    if (this.abort.signal.aborted) throw new Error('rpc cancelled');
    if (this.finished) throw new Error('send after rpc finished');
    await this.conn.write(this.packets({ kind: Kind.Message, data: message }));
  }
}

export class DrpcServerConn {
  private readonly reasm: PacketReassembler;
  private current: Call | null = null;
  private lastStreamId = 0;
  private pendingMeta: { streamId: number; pairs: Map<string, string> } | null = null;
  private closed = false;
  private pulling = false;

  constructor(
    private readonly stream: YamuxStream,
    private readonly mux: RpcMux,
    private readonly opts: DrpcServerConnOptions = {},
  ) {
    this.reasm = new PacketReassembler(opts.maxPacketSize ?? MAX_PACKET_SIZE);
    stream.onReadable = () => this.pull();
    this.pull();
  }

  /** Called when the current call consumed a message. */
  resume(): void {
    queueMicrotask(() => this.pull());
  }

  write(bytes: Uint8Array): Promise<void> {
    return this.stream.write(bytes);
  }

  private pull(): void {
    if (this.closed || this.pulling) return;
    this.pulling = true;
    try {
      for (;;) {
        if (this.closed) return;
        const cur = this.current;
        if (cur && !cur.finished && cur.inbox.length >= INBOX_LIMIT) return;
        const pkt = this.reasm.next();
        if (pkt) {
          this.route(pkt);
          continue;
        }
        const chunk = this.stream.read();
        if (chunk) {
          this.reasm.push(chunk);
          continue;
        }
        if (this.stream.error) return this.shutdown('reset');
        if (this.stream.ended) return this.shutdown('eof');
        return;
      }
    } catch (err) {
      if (err instanceof DrpcProtocolError) {
        this.opts.logger?.debug({ code: err.code, err: err.message }, 'drpc protocol error; resetting transport');
        this.opts.onProtocolError?.(err.code);
        this.shutdown('protocol');
        return;
      }
      throw err;
    } finally {
      this.pulling = false;
    }
  }

  private route(pkt: Packet): void {
    const cur = this.current;
    if (cur && pkt.streamId === cur.streamId) {
      switch (pkt.kind) {
        case Kind.Message:
          if (!cur.recvClosed && !cur.finished) cur.deliver(pkt.data);
          return;
        case Kind.CloseSend:
          cur.endInput();
          return;
        case Kind.Close:
        case Kind.Cancel:
        case Kind.Error:
          this.cancelCall(cur);
          return;
        case Kind.Invoke:
          throw drpcProtocolError('invoke_on_existing_stream', 'invoke on existing stream');
        default:
          if (pkt.control) return;
          throw drpcProtocolError('unknown_packet_kind', `unknown packet kind: ${pkt.kind}`);
      }
    }
    if (pkt.streamId < this.lastStreamId) return; // packets for an older call: ignored
    if (pkt.kind === Kind.InvokeMetadata) {
      this.pendingMeta = { streamId: pkt.streamId, pairs: decodeMetadata(pkt.data) };
      return;
    }
    if (pkt.kind !== Kind.Invoke) return; // nothing to deliver it to
    if (cur && !cur.finished) this.cancelCall(cur);
    const method = utf8.decode(pkt.data);
    const meta = this.pendingMeta && this.pendingMeta.streamId === pkt.streamId ? this.pendingMeta.pairs : new Map<string, string>();
    this.pendingMeta = null;
    this.lastStreamId = pkt.streamId;
    const call = new Call(pkt.streamId, method, meta, this);
    this.current = call;
    void this.run(call, this.mux.lookup(method));
  }

  private async run(call: Call, handler: RawHandler | undefined): Promise<void> {
    let outcome: 'ok' | 'error' | 'unimplemented' | 'cancelled' = 'ok';
    try {
      if (!handler) {
        outcome = 'unimplemented';
        // Code 12 makes Go clients treat the method as "not offered" and back off.
        await this.write(call.packets({ kind: Kind.Error, data: encodeErrorBody(DrpcCode.Unimplemented, `protocol error: unknown rpc: "${call.method}"`) }));
        return;
      }
      const out = await handler({ recv: () => call.recv(), send: (m) => call.send(m), ctx: call.ctx });
      if (call.abort.signal.aborted) {
        outcome = 'cancelled';
        return;
      }
      call.finished = true;
      const bytes = out ? call.packets({ kind: Kind.Message, data: out }, { kind: Kind.CloseSend, data: EMPTY }) : call.packets({ kind: Kind.CloseSend, data: EMPTY });
      await this.write(bytes);
    } catch (err) {
      if (call.abort.signal.aborted) {
        outcome = 'cancelled';
        return;
      }
      call.finished = true;
      const code = err instanceof RpcError ? err.code : 0;
      outcome = code === DrpcCode.Unimplemented ? 'unimplemented' : 'error';
      const text = err instanceof Error ? err.message : String(err);
      if (!(err instanceof RpcError)) this.opts.logger?.debug({ method: call.method, err: text }, 'rpc handler failed');
      await this.write(call.packets({ kind: Kind.Error, data: encodeErrorBody(code, text) })).catch(() => undefined);
    } finally {
      call.finished = true;
      this.opts.onCallEnd?.(call.method, outcome);
      // Input left unread after the call ended must not stall the transport.
      call.inbox.length = 0;
      this.resume();
    }
  }

  private cancelCall(call: Call): void {
    call.cancel();
  }

  /**
   * eof: the client half-closed; cancel any running call and close our side.
   * reset/protocol: the transport is dead or violated the protocol.
   */
  private shutdown(why: 'eof' | 'reset' | 'protocol'): void {
    if (this.closed) return;
    this.closed = true;
    const cur = this.current;
    if (cur && !cur.finished) cur.cancel();
    if (why === 'eof') this.stream.closeWrite();
    else if (why === 'protocol') this.stream.reset();
  }
}

/** InvokeMetadata body: repeated field 1 of entries {1: key, 2: value}. */
function decodeMetadata(data: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  const r = new Reader(data);
  try {
    while (!r.done) {
      const [no, wt] = r.tag();
      if (no !== 1 || wt !== 2) {
        r.skip(wt, no);
        continue;
      }
      const e = r.sub();
      let k = '';
      let v = '';
      while (!e.done) {
        const [eno, ewt] = e.tag();
        if (eno === 1 && ewt === 2) k = e.string();
        else if (eno === 2 && ewt === 2) v = e.string();
        else e.skip(ewt, eno);
      }
      out.set(k, v);
    }
  } catch {
    throw drpcProtocolError('bad_metadata', 'malformed invoke metadata');
  }
  return out;
}
