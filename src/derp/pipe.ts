/**
 * An in-memory connected pair of byte streams (Node 20 lacks
 * stream.duplexPair). Writes on one end are readable on the other (copied,
 * as through a socket), with backpressure: a write completes once the other
 * end wants more data.
 */
import { Duplex } from 'node:stream';

class PipeEnd extends Duplex {
  peer!: PipeEnd;
  private waiting: (() => void) | null = null;

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.peer.destroyed) {
      cb(new Error('pipe closed'));
      return;
    }
    // Copy like a socket would: the writer may reuse its buffer once cb runs.
    if (this.peer.push(Buffer.from(chunk))) cb();
    else this.peer.waiting = cb;
  }

  override _read(): void {
    const w = this.waiting;
    this.waiting = null;
    w?.();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.peer.push(null);
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const w = this.waiting;
    this.waiting = null;
    w?.();
    if (!this.peer.destroyed) {
      this.peer.push(null);
      this.peer.destroy();
    }
    cb(err);
  }
}

export function duplexPair(): [Duplex, Duplex] {
  const a = new PipeEnd();
  const b = new PipeEnd();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
