/**
 * Bounded FIFO of packets waiting for one connection's writer. Parallel
 * arrays in a ring (no per-packet object), grown lazily up to the cap so an
 * idle connection costs a few hundred bytes.
 */
const NO_BUFS: (Buffer | undefined)[] = [];
const NO_U8 = new Uint8Array(0);
const NO_F64 = new Float64Array(0);

export class PacketQueue {
  head = 0;
  size = 0;
  /** Packet buffers; the packet starts at `off[i]` (after the dst/src+dst keys). */
  pay: (Buffer | undefined)[];
  off: Uint8Array;
  src: (Buffer | undefined)[];
  at: Float64Array;
  /** 1: the packet's SendPacket frame is intact in a buffer we own (see Conn.sendInPlace). */
  inl: Uint8Array;

  /** Storage is allocated on the first push (shared empty arrays until then). */
  constructor(readonly cap: number) {
    this.pay = NO_BUFS;
    this.off = NO_U8;
    this.src = NO_BUFS;
    this.at = NO_F64;
    this.inl = NO_U8;
  }

  get full(): boolean {
    return this.size >= this.cap;
  }

  /** Caller checks `full` first. */
  push(pay: Buffer, off: number, src: Buffer, at: number, inl = 0): void {
    if (this.size === this.pay.length) this.grow();
    const len = this.pay.length;
    let i = this.head + this.size;
    if (i >= len) i -= len;
    this.pay[i] = pay;
    this.off[i] = off;
    this.src[i] = src;
    this.at[i] = at;
    this.inl[i] = inl;
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

  /** Copies out every packet that lives in `mem` (a read buffer about to be reused). */
  copyOut(mem: ArrayBufferLike): void {
    const len = this.pay.length;
    for (let k = 0, i = this.head; k < this.size; k++, i = i + 1 === len ? 0 : i + 1) {
      const p = this.pay[i]!;
      if (p.buffer !== mem) continue;
      const off = this.off[i]!;
      const copy = Buffer.allocUnsafe(p.length - off);
      p.copy(copy, 0, off);
      this.pay[i] = copy;
      this.off[i] = 0;
      this.inl[i] = 0;
    }
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
    const n = Math.max(1, Math.min(this.cap, Math.max(4, old * 2)));
    const pay = new Array<Buffer | undefined>(n);
    const off = new Uint8Array(n);
    const src = new Array<Buffer | undefined>(n);
    const at = new Float64Array(n);
    const inl = new Uint8Array(n);
    for (let k = 0; k < this.size; k++) {
      const j = (this.head + k) % old; // old > 0 whenever size > 0
      pay[k] = this.pay[j];
      off[k] = this.off[j]!;
      src[k] = this.src[j];
      at[k] = this.at[j]!;
      inl[k] = this.inl[j]!;
    }
    this.pay = pay;
    this.off = off;
    this.src = src;
    this.at = at;
    this.inl = inl;
    this.head = 0;
  }
}
