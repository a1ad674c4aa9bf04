/**
 * Moves an upgraded plain-TCP connection off Node's Readable machinery: the
 * socket is switched to what `net.Socket`'s documented `onread` option sets
 * up (its handle reads into a caller-owned buffer and calls back directly),
 * after the fact, since the HTTP server created the socket. Per read that
 * saves the Buffer + ArrayBuffer Node would allocate, the stream push
 * bookkeeping and a nextTick: young-generation garbage that sets how often
 * V8 scavenges (and so the relay's latency tail) at idle.
 *
 * The switch sets the three per-socket fields `onread` fills (own symbol
 * properties named kBuffer, kBufferCb, kBufferGen, present since Node 12)
 * and tells the handle to use the buffer. Re-creating the socket on the
 * handle would use only documented options but costs a second Socket per
 * connection (~40 µs, measurable in a connect storm). Whenever the fields
 * or the handle are not what we expect (TLS, a mock Duplex, another Node),
 * nothing is changed and attach() returns null: keep the Readable path.
 */
import { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';

interface HandleLike {
  useUserBuffer(buf: Uint8Array): void;
}

type Deliver = (chunk: Buffer, n: number, mem: ArrayBufferLike | undefined) => void;

interface OnreadSymbols {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}

let symbols: OnreadSymbols | null | undefined;

function onreadSymbols(sock: Socket): OnreadSymbols | null {
  if (symbols !== undefined) return symbols;
  const own = Object.getOwnPropertySymbols(sock);
  const find = (name: string): symbol | undefined => own.find((s) => s.description === name);
  const buffer = find('kBuffer');
  const callback = find('kBufferCb');
  const generator = find('kBufferGen');
  symbols = buffer && callback && generator ? { buffer, callback, generator } : null;
  return symbols;
}

/**
 * The reads of one socket switched to a shared buffer. Reads before start()
 * are copied and replayed then; each later read reaches `deliver` with the
 * buffer's memory (the caller lends it to its sink for that read).
 */
export class SharedReads {
  private deliver: Deliver | null = null;
  private early: Buffer[] = [];
  private paused = false;

  private constructor(private readonly sock: Socket) {}

  /** Switches `sock` to read into `buffer`, or returns null (socket untouched) when it cannot be. */
  static attach(sock: Duplex, buffer: Buffer): SharedReads | null {
    if (!(sock instanceof Socket) || sock instanceof TLSSocket) return null;
    const handle = (sock as unknown as { _handle: HandleLike | null })._handle;
    if (handle === null || typeof handle !== 'object' || typeof handle.useUserBuffer !== 'function') return null;
    if (sock.destroyed || sock.connecting || sock.readableLength > 0 || sock.readableEnded || sock.listenerCount('data') > 0) return null;
    const sym = onreadSymbols(sock);
    if (sym === null) return null;
    const fields = sock as unknown as Record<symbol, unknown>;
    if (fields[sym.buffer] !== null || fields[sym.callback] !== null) return null;
    const reads = new SharedReads(sock);
    fields[sym.buffer] = buffer;
    fields[sym.callback] = (n: number, buf: Uint8Array): void => reads.onRead(n, buf as Buffer);
    fields[sym.generator] = null;
    handle.useUserBuffer(buffer);
    return reads;
  }

  private onRead(n: number, b: Buffer): void {
    if (this.deliver !== null) this.deliver(b, n, b.buffer);
    else this.early.push(Buffer.from(b.subarray(0, n)));
  }

  start(deliver: Deliver): void {
    for (const c of this.early) deliver(c, c.length, undefined);
    this.early = [];
    this.deliver = deliver;
    // Flowing mode, so that EOF is reported as 'end' (no data goes through the Readable).
    if (!this.paused) this.sock.resume();
  }

  pause(): void {
    this.paused = true;
    this.sock.pause();
  }

  resume(): void {
    this.paused = false;
    this.sock.resume();
  }
}
