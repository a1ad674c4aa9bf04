/** An in-memory DerpStream for driving DerpServer without sockets (fuzzing). */
import type { DerpStream, StreamSink } from '../../src/derp/stream.js';

export class MemStream implements DerpStream {
  readonly kind = 'other' as const;
  readonly remoteAddress = '192.0.2.1';
  readonly remotePort = 41641;
  sink: StreamSink | null = null;
  out: Buffer[] = [];
  outBytes = 0;
  ended = false;
  destroyed = false;
  paused = false;

  start(sink: StreamSink): void {
    this.sink = sink;
  }
  write(buf: Buffer): boolean {
    this.out.push(buf);
    this.outBytes += buf.length;
    return true;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  end(): void {
    this.ended = true;
    this.sink?.closed();
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.sink?.closed();
  }
  get open(): boolean {
    return !this.ended && !this.destroyed;
  }
  feed(b: Buffer): void {
    this.sink?.data(b);
  }
}
