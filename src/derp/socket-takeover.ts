/**
 * Moves an upgraded plain-TCP connection off Node's Readable machinery: its
 * libuv handle is re-homed on a new net.Socket created with `onread`, so each
 * read lands in a caller-owned buffer and reaches a callback directly. Per
 * read that saves the Buffer + ArrayBuffer Node would allocate, the stream
 * push bookkeeping and a nextTick: young-generation garbage that sets how
 * often V8 scavenges (and so the relay's latency tail) at idle.
 *
 * Node has no public "detach handle" call; this uses the handle-owning
 * fields every net.Socket has had since Node 12 (`_handle`, `_server`) and
 * returns null, leaving the socket untouched, whenever they are not what we
 * expect (TLS, a mock Duplex, a destroyed socket, bytes already buffered).
 */
import { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';

interface HandleLike {
  readonly reading?: boolean;
  useUserBuffer(buf: Uint8Array): void;
  readStop(): number;
}

/** The internals of net.Socket this module touches (all present in Node ≥ 12). */
interface SocketInternals {
  _handle: HandleLike | null;
  _server: unknown;
  server: unknown;
}

export interface TakeOverOptions {
  /** Every read is written here; the callback must be done with it when it returns. */
  buffer: Buffer;
  /** `n` bytes arrived in buffer[0..n). */
  onRead(n: number, buffer: Buffer): void;
}

/**
 * A new socket on `old`'s handle reading into `opts.buffer`, or null if `old`
 * cannot be taken over (the caller then keeps using `old`). On success `old`
 * is inert: it no longer owns the handle and must not be used.
 */
export function takeOverSocket(old: Duplex, opts: TakeOverOptions): Socket | null {
  if (!(old instanceof Socket) || old instanceof TLSSocket) return null;
  const inner = old as unknown as SocketInternals;
  const handle = inner._handle;
  if (
    handle === null ||
    typeof handle !== 'object' ||
    typeof handle.useUserBuffer !== 'function' ||
    old.destroyed ||
    old.connecting ||
    old.readableLength > 0 ||
    old.writableLength > 0 ||
    old.readableEnded ||
    old.writableEnded
  ) {
    return null;
  }
  old.removeAllListeners('data');
  old.removeAllListeners('readable');
  inner._handle = null;
  const sock = new Socket({
    handle: handle as unknown as never,
    allowHalfOpen: true,
    onread: {
      buffer: opts.buffer,
      callback: (n: number, buf: Uint8Array): void => opts.onRead(n, buf as Buffer),
    },
  } as ConstructorParameters<typeof Socket>[0]);
  // The listening server counts this connection until its socket is destroyed
  // (server.close() waits for it): that is now the new socket's job.
  const fresh = sock as unknown as SocketInternals;
  fresh._server = inner._server;
  fresh.server = inner.server;
  inner._server = null;
  inner.server = null;
  return sock;
}
