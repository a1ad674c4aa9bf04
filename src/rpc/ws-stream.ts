/**
 * `ws` WebSocket → ByteStream. Binary messages are chunks of one byte stream
 * (Go's websocket.NetConn writes yamux headers and bodies as separate
 * messages); a text message is a protocol violation and closes with 1003.
 * Outbound backpressure is tracked with send callbacks, since `ws` has no
 * drain event.
 */
import type { RawData, WebSocket } from 'ws';
import type { ByteStream, ByteStreamHandlers } from './byte-stream.js';

export interface WsByteStreamOptions {
  /** write() returns false above this many unsent bytes (default 256 KiB). */
  highWaterMark?: number;
  /** onDrain fires once unsent bytes fall to this (default 64 KiB). */
  lowWaterMark?: number;
}

export class WsByteStream implements ByteStream {
  private handlers: ByteStreamHandlers | null = null;
  private early: Uint8Array[] = [];
  private earlyEnd: { err: Error | null } | null = null;
  private ended = false;
  private unsent = 0;
  private wantDrain = false;
  private readonly high: number;
  private readonly low: number;

  constructor(
    private readonly ws: WebSocket,
    opts: WsByteStreamOptions = {},
  ) {
    this.high = opts.highWaterMark ?? 256 * 1024;
    this.low = opts.lowWaterMark ?? 64 * 1024;
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (this.ended) return;
      if (!isBinary) {
        this.ws.close(1003, 'binary messages only');
        this.end(new Error('text message on a binary stream'));
        return;
      }
      for (const chunk of toChunks(data)) {
        if (this.handlers) this.handlers.onData(chunk);
        else this.early.push(chunk);
      }
    });
    ws.on('close', (code: number) => this.end(code === 1000 || code === 1005 ? null : new Error(`websocket closed with ${code}`)));
    ws.on('error', (err: Error) => this.end(err));
  }

  attach(handlers: ByteStreamHandlers): void {
    this.handlers = handlers;
    for (const c of this.early.splice(0)) handlers.onData(c);
    if (this.earlyEnd) handlers.onEnd(this.earlyEnd.err);
  }

  write(chunk: Uint8Array): boolean {
    if (this.ended || this.ws.readyState !== this.ws.OPEN) return true;
    const n = chunk.length;
    this.unsent += n;
    this.ws.send(chunk, { binary: true }, () => {
      this.unsent -= n;
      if (this.wantDrain && this.unsent <= this.low) {
        this.wantDrain = false;
        this.handlers?.onDrain();
      }
    });
    if (this.unsent > this.high) {
      this.wantDrain = true;
      return false;
    }
    return true;
  }

  close(code = 1000, reason = ''): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) {
      // Close reasons are capped at 123 bytes by RFC 6455.
      this.ws.close(code, Buffer.from(reason).subarray(0, 123).toString());
    }
  }

  private end(err: Error | null): void {
    if (this.ended) return;
    this.ended = true;
    if (this.handlers) this.handlers.onEnd(err);
    else this.earlyEnd = { err };
  }
}

function toChunks(data: RawData): Uint8Array[] {
  if (Array.isArray(data)) return data;
  if (data instanceof ArrayBuffer) return [new Uint8Array(data)];
  return [data];
}
