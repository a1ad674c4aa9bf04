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
 * nothing is changed and null says to keep the Readable path.
 */
import { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';

interface HandleLike {
  useUserBuffer(buf: Uint8Array): void;
}

export interface TakeOverOptions {
  /** Every read is written here; the callback must be done with it when it returns. */
  buffer: Buffer;
  /** `n` bytes arrived in buffer[0..n). */
  onRead(n: number, buffer: Buffer): void;
}

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
 * Switches `old` to read into `opts.buffer` and returns it, or returns null
 * (leaving it untouched) when it cannot be switched.
 */
export function takeOverSocket(old: Duplex, opts: TakeOverOptions): Socket | null {
  if (!(old instanceof Socket) || old instanceof TLSSocket) return null;
  const handle = (old as unknown as { _handle: HandleLike | null })._handle;
  if (handle === null || typeof handle !== 'object' || typeof handle.useUserBuffer !== 'function') return null;
  if (old.destroyed || old.connecting || old.readableLength > 0 || old.readableEnded || old.listenerCount('data') > 0) return null;
  const sym = onreadSymbols(old);
  if (sym === null) return null;
  const fields = old as unknown as Record<symbol, unknown>;
  if (fields[sym.buffer] !== null || fields[sym.callback] !== null) return null;
  fields[sym.buffer] = opts.buffer;
  fields[sym.callback] = (n: number, buf: Uint8Array): void => opts.onRead(n, buf as Buffer);
  fields[sym.generator] = null;
  handle.useUserBuffer(opts.buffer);
  return old;
}
