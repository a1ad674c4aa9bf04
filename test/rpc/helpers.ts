import pino from 'pino';
import type { ByteStream, ByteStreamHandlers } from '../../src/rpc/byte-stream.js';
import { PacketReassembler } from '../../src/rpc/drpc/reassembler.js';
import { Kind, encodePacket, type Packet } from '../../src/rpc/drpc/wire.js';
import { YamuxSession } from '../../src/rpc/yamux/session.js';
import type { YamuxStream } from '../../src/rpc/yamux/stream.js';

export const silent = pino({ level: 'silent' });

/** One end of an in-memory byte pipe; records what it wrote. */
export class PipeEnd implements ByteStream {
  peer!: PipeEnd;
  handlers: ByteStreamHandlers | null = null;
  readonly written: Uint8Array[] = [];
  private inbox: Uint8Array[] = [];
  closed = false;
  closeCode: number | undefined;
  /** When set, write() reports backpressure after this many bytes until drain() is called. */
  limit: number | null = null;
  private pendingBytes = 0;

  attach(h: ByteStreamHandlers): void {
    this.handlers = h;
    for (const c of this.inbox.splice(0)) h.onData(c);
  }

  write(chunk: Uint8Array): boolean {
    if (this.closed) return true;
    this.written.push(chunk);
    this.pendingBytes += chunk.length;
    const copy = chunk.slice();
    queueMicrotask(() => this.peer.receive(copy));
    return this.limit === null || this.pendingBytes < this.limit;
  }

  drain(): void {
    this.pendingBytes = 0;
    this.handlers?.onDrain();
  }

  receive(c: Uint8Array): void {
    if (this.closed) return;
    if (this.handlers) this.handlers.onData(c);
    else this.inbox.push(c);
  }

  close(code?: number): void {
    if (this.closed) return;
    this.closed = true;
    this.closeCode = code;
    queueMicrotask(() => {
      this.handlers?.onEnd(null);
      this.peer.end();
    });
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers?.onEnd(null);
  }
}

export function pipe(): [PipeEnd, PipeEnd] {
  const a = new PipeEnd();
  const b = new PipeEnd();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** Lets queued microtasks and timers of 0 ms run. */
export const tick = (n = 5): Promise<void> =>
  new Promise((r) => {
    let i = 0;
    const step = (): void => {
      if (++i >= n) r();
      else setImmediate(step);
    };
    setImmediate(step);
  });

export function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** Minimal dRPC client over a client-role yamux session, for loopback tests. */
export class TestDrpcClient {
  constructor(readonly session: YamuxSession) {}

  /** Opens a yamux stream and returns a call helper on it. */
  open(): TestCall {
    return new TestCall(this.session.openStream());
  }

  async unary(method: string, req: Uint8Array): Promise<Packet[]> {
    const call = this.open();
    await call.send([
      { kind: Kind.Invoke, data: new TextEncoder().encode(method) },
      { kind: Kind.Message, data: req },
      { kind: Kind.CloseSend, data: new Uint8Array(0) },
    ]);
    const out = await call.until((p) => p.kind === Kind.CloseSend || p.kind === Kind.Error);
    call.stream.closeWrite();
    return out;
  }
}

export class TestCall {
  private reasm = new PacketReassembler();
  private received: Packet[] = [];
  private waiters: (() => void)[] = [];
  streamId = 1;
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
    for (let p = this.reasm.next(); p; p = this.reasm.next()) this.received.push(p);
    if (this.stream.ended || this.stream.error) this.eof = true;
    for (const w of this.waiters.splice(0)) w();
  }

  send(items: { kind: number; data: Uint8Array; control?: boolean }[]): Promise<void> {
    const parts = items.map((it) => encodePacket({ kind: it.kind, streamId: this.streamId, messageId: this.messageId++, control: it.control ?? false, data: it.data }));
    return this.stream.write(Buffer.concat(parts));
  }

  /** Starts a new dRPC stream id on this transport. */
  nextStream(): void {
    this.streamId++;
    this.messageId = 1;
  }

  /** Resolves with all packets received so far once `pred` matches one of them (or EOF). */
  async until(pred: (p: Packet) => boolean, timeoutMs = 5000): Promise<Packet[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.received.findIndex(pred);
      if (i >= 0) return this.received.splice(0, i + 1);
      if (this.eof) return this.received.splice(0);
      if (Date.now() > deadline) throw new Error('timeout waiting for packet');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  async waitEof(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.eof) {
      if (Date.now() > deadline) throw new Error('timeout waiting for EOF');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }
}

export function pipedSessions(serverOpts: ConstructorParameters<typeof YamuxSession>[1] = {}): {
  server: YamuxSession;
  client: YamuxSession;
  serverEnd: PipeEnd;
  clientEnd: PipeEnd;
} {
  const [serverEnd, clientEnd] = pipe();
  const server = new YamuxSession(serverEnd, { keepaliveIntervalMs: null, ...serverOpts, role: 'server' });
  const client = new YamuxSession(clientEnd, { role: 'client', keepaliveIntervalMs: null });
  return { server, client, serverEnd, clientEnd };
}
