/**
 * The byte-stream seam between a transport (a WebSocket, a test pipe) and the
 * yamux session. Message boundaries of the transport carry no meaning.
 */
export interface ByteStreamHandlers {
  /** A chunk of inbound bytes. The chunk may be retained by the receiver. */
  onData(chunk: Uint8Array): void;
  /** The transport ended; `err` is null on an orderly close. Called once. */
  onEnd(err: Error | null): void;
  /** Outbound buffer drained below the low-water mark after write() returned false. */
  onDrain(): void;
}

export interface ByteStream {
  /** Binds the receiver; inbound data before attach() is buffered by the implementation. */
  attach(handlers: ByteStreamHandlers): void;
  /** Sends one chunk. Returns false when the caller should wait for onDrain. */
  write(chunk: Uint8Array): boolean;
  /** Closes the transport. `code`/`reason` are transport hints (WebSocket close code). */
  close(code?: number, reason?: string): void;
}

/** Largest chunk handed to write(): old Go clients (nhooyr.io/websocket < 1.8.10) cap reads at 32 KiB per message. */
export const MAX_WRITE_CHUNK = 32 * 1024;
