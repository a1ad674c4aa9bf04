/**
 * Bounded FIFO of packets waiting for one connection's writer. Parallel
 * arrays in a ring (no per-packet object), grown lazily up to the cap so an
 * idle connection costs a few hundred bytes.
 */
export class PacketQueue {
  head = 0;
  size = 0;
  /** Packet buffers; the packet starts at `off[i]` (after the dst/src+dst keys). */
  pay: (Buffer | undefined)[];
  off: Uint8Array;
  src: (Buffer | undefined)[];
  at: Float64Array;

  constructor(readonly cap: number, initial = 4) {
    const n = Math.max(1, Math.min(cap, initial));
    this.pay = new Array<Buffer | undefined>(n);
    this.off = new Uint8Array(n);
    this.src = new Array<Buffer | undefined>(n);
    this.at = new Float64Array(n);
  }

  get full(): boolean {
    return this.size >= this.cap;
  }

  /** Caller checks `full` first. */
  push(pay: Buffer, off: number, src: Buffer, at: number): void {
    if (this.size === this.pay.length) this.grow();
    const len = this.pay.length;
    let i = this.head + this.size;
    if (i >= len) i -= len;
    this.pay[i] = pay;
    this.off[i] = off;
    this.src[i] = src;
    this.at[i] = at;
    this.size++;
  }

  /** Bytes of the RecvPacket frame for the front item (5 + 32 + packet). */
  frontFrameLen(): number {
    return 37 + this.pay[this.head]!.length - this.off[this.head]!;
  }

  /** Removes the front item (its fields must have been read first). */
  dropFront(): void {
    this.pay[this.head] = undefined;
    this.src[this.head] = undefined;
    this.head++;
    if (this.head === this.pay.length) this.head = 0;
    this.size--;
  }

  clear(visit?: (pay: Buffer, off: number) => void): void {
    while (this.size > 0) {
      if (visit) visit(this.pay[this.head]!, this.off[this.head]!);
      this.dropFront();
    }
    this.head = 0;
  }

  private grow(): void {
    const old = this.pay.length;
    const n = Math.min(this.cap, old * 2);
    const pay = new Array<Buffer | undefined>(n);
    const off = new Uint8Array(n);
    const src = new Array<Buffer | undefined>(n);
    const at = new Float64Array(n);
    for (let k = 0; k < this.size; k++) {
      const j = (this.head + k) % old;
      pay[k] = this.pay[j];
      off[k] = this.off[j]!;
      src[k] = this.src[j];
      at[k] = this.at[j]!;
    }
    this.pay = pay;
    this.off = off;
    this.src = src;
    this.at = at;
    this.head = 0;
  }
}
