/** Tunnel store indexed both ways: src → dsts and dst → srcs. */
import type { PeerId } from './types.js';

export class TunnelStore {
  private readonly bySrc = new Map<PeerId, Set<PeerId>>();
  private readonly byDst = new Map<PeerId, Set<PeerId>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(src: PeerId, dst: PeerId): boolean {
    let dsts = this.bySrc.get(src);
    if (dsts === undefined) this.bySrc.set(src, (dsts = new Set()));
    if (dsts.has(dst)) return false;
    dsts.add(dst);
    let srcs = this.byDst.get(dst);
    if (srcs === undefined) this.byDst.set(dst, (srcs = new Set()));
    srcs.add(src);
    this.count++;
    return true;
  }

  remove(src: PeerId, dst: PeerId): boolean {
    const dsts = this.bySrc.get(src);
    if (dsts === undefined || !dsts.delete(dst)) return false;
    if (dsts.size === 0) this.bySrc.delete(src);
    const srcs = this.byDst.get(dst);
    if (srcs !== undefined) {
      srcs.delete(src);
      if (srcs.size === 0) this.byDst.delete(dst);
    }
    this.count--;
    return true;
  }

  has(src: PeerId, dst: PeerId): boolean {
    return this.bySrc.get(src)?.has(dst) ?? false;
  }

  /** True if a tunnel exists in either direction. */
  shared(a: PeerId, b: PeerId): boolean {
    return this.has(a, b) || this.has(b, a);
  }

  /** Removes every tunnel whose source is src; returns their destinations. */
  removeAllFrom(src: PeerId): PeerId[] {
    const dsts = this.bySrc.get(src);
    if (dsts === undefined) return [];
    const out = [...dsts];
    for (const dst of out) this.remove(src, dst);
    return out;
  }

  destinationsOf(src: PeerId): ReadonlySet<PeerId> | undefined {
    return this.bySrc.get(src);
  }

  sourcesOf(dst: PeerId): ReadonlySet<PeerId> | undefined {
    return this.byDst.get(dst);
  }

  /** Every peer sharing a tunnel with p, once each. */
  partners(p: PeerId): Set<PeerId> {
    const out = new Set<PeerId>(this.bySrc.get(p));
    const srcs = this.byDst.get(p);
    if (srcs !== undefined) for (const s of srcs) out.add(s);
    return out;
  }

  /** All tunnel destinations (for the debug page's "missing agents"). */
  destinations(): IterableIterator<[PeerId, ReadonlySet<PeerId>]> {
    return this.byDst.entries();
  }
}
