/**
 * Method registry: full dRPC names ("/coder.agent.v2.Agent/GetManifest") to
 * typed handlers. Handlers see decoded messages; the server sees raw bytes.
 */
import type { MessageCodec } from '../proto/schema.js';

export interface RpcContext {
  readonly method: string;
  /** Aborted when the caller cancels (Close/Cancel/Error packet, yamux FIN/RST, session end). */
  readonly signal: AbortSignal;
  /** InvokeMetadata pairs sent before the Invoke (Coder never sends any). */
  readonly metadata: ReadonlyMap<string, string>;
}

/** Byte-level view of one call, provided by the server connection. */
export interface RawCall {
  /** Next request message; null once the caller sent CloseSend or the call was cancelled. */
  recv(): Promise<Uint8Array | null>;
  send(message: Uint8Array): Promise<void>;
  readonly ctx: RpcContext;
}

/** Returns the unary response bytes (sent with CloseSend in one write) or nothing (CloseSend only). */
export type RawHandler = (call: RawCall) => Promise<Uint8Array | void>;

export interface ServerStream<Req, Res> extends AsyncIterable<Req> {
  /** Next request, or null at end of input (check ctx.signal.aborted to tell cancel from CloseSend). */
  recv(): Promise<Req | null>;
  send(res: Res): Promise<void>;
  /** Sends a message already encoded (fan-outs encode once for every recipient). */
  sendEncoded(bytes: Uint8Array): Promise<void>;
}

export class RpcMux {
  private readonly methods = new Map<string, RawHandler>();

  /** Registers a raw handler (used by the typed helpers; also handy for tests). */
  raw(name: string, h: RawHandler): this {
    if (this.methods.has(name)) throw new Error(`rpc method ${name} registered twice`);
    this.methods.set(name, h);
    return this;
  }

  unary<Req, Res>(name: string, req: MessageCodec<Req>, res: MessageCodec<Res>, fn: (req: Req, ctx: RpcContext) => Res | Promise<Res>): this {
    return this.raw(name, async (call) => {
      const body = await call.recv();
      if (body === null) throw new Error('EOF');
      const out = await fn(req.decode(body), call.ctx);
      return res.encode(out);
    });
  }

  serverStream<Req, Res>(
    name: string,
    req: MessageCodec<Req>,
    res: MessageCodec<Res>,
    fn: (req: Req, send: (m: Res) => Promise<void>, ctx: RpcContext) => Promise<void>,
  ): this {
    return this.raw(name, async (call) => {
      const body = await call.recv();
      if (body === null) throw new Error('EOF');
      await fn(req.decode(body), (m) => call.send(res.encode(m)), call.ctx);
    });
  }

  bidi<Req, Res>(name: string, req: MessageCodec<Req>, res: MessageCodec<Res>, fn: (stream: ServerStream<Req, Res>, ctx: RpcContext) => Promise<void>): this {
    return this.raw(name, async (call) => {
      const recv = async (): Promise<Req | null> => {
        const body = await call.recv();
        return body === null ? null : req.decode(body);
      };
      const stream: ServerStream<Req, Res> = {
        recv,
        send: (m) => call.send(res.encode(m)),
        sendEncoded: (bytes) => call.send(bytes),
        async *[Symbol.asyncIterator]() {
          for (;;) {
            const m = await recv();
            if (m === null) return;
            yield m;
          }
        },
      };
      await fn(stream, call.ctx);
    });
  }

  lookup(name: string): RawHandler | undefined {
    return this.methods.get(name);
  }

  get names(): string[] {
    return [...this.methods.keys()];
  }
}
