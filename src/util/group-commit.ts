/**
 * Group commit: callers add items and wait for them to be written; items that arrive while a
 * write is in flight are written together in the next one. No added latency when idle, one
 * transaction per batch under load.
 */
export class GroupCommit<T> {
  private pending: { item: T; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private writing = false;

  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    private readonly maxBatch = 1000,
  ) {}

  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  /** Resolves once everything added so far has been written (or failed). */
  async flush(): Promise<void> {
    while (this.writing || this.pending.length > 0) {
      if (!this.writing) await this.drain();
      else await new Promise((r) => setImmediate(r));
    }
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, this.maxBatch);
        try {
          await this.write(batch.map((b) => b.item));
          for (const b of batch) b.resolve();
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.writing = false;
    }
  }
}
