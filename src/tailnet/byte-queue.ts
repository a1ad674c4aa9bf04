/** A FIFO of byte chunks with random-access reads, for the TCP send buffer. */
export class ByteQueue {
  private chunks: Uint8Array[] = [];
  private head = 0;
  length = 0;

  push(b: Uint8Array): void {
    if (b.length === 0) return;
    this.chunks.push(b);
    this.length += b.length;
  }

  /** Copies up to `n` bytes starting `offset` bytes from the front. */
  read(offset: number, n: number): Uint8Array {
    const len = Math.max(0, Math.min(n, this.length - offset));
    const out = new Uint8Array(len);
    let skip = offset + this.head;
    let filled = 0;
    for (const c of this.chunks) {
      if (filled === len) break;
      if (skip >= c.length) {
        skip -= c.length;
        continue;
      }
      const take = Math.min(c.length - skip, len - filled);
      out.set(c.subarray(skip, skip + take), filled);
      filled += take;
      skip = 0;
    }
    return out;
  }

  /** Drops `n` bytes from the front. */
  drop(n: number): void {
    n = Math.min(n, this.length);
    this.length -= n;
    let rest = n + this.head;
    while (this.chunks.length && rest >= this.chunks[0]!.length) {
      rest -= this.chunks[0]!.length;
      this.chunks.shift();
    }
    this.head = rest;
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.length = 0;
  }
}
