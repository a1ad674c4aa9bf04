/**
 * Sliding replay window over transport counters, as wireguard-go's
 * replay.Filter (RFC 6479 style): 128 blocks of 64 bits, accepting counters
 * up to (128 − 1) × 64 = 8128 behind the highest seen.
 */
import { REJECT_AFTER_MESSAGES } from './constants.js';

const BLOCK_BITS_LOG = 6n;
const BLOCK_BITS = 64n;
const RING_BLOCKS = 128n;
export const REPLAY_WINDOW = Number((RING_BLOCKS - 1n) * BLOCK_BITS);

export class ReplayFilter {
  private last = 0n;
  private readonly ring = new BigUint64Array(Number(RING_BLOCKS));

  reset(): void {
    this.last = 0n;
    this.ring.fill(0n);
  }

  /** Returns true if `counter` is fresh (and records it); false for replays or too-old counters. */
  validate(counter: bigint, limit: bigint = REJECT_AFTER_MESSAGES): boolean {
    if (counter >= limit) return false;
    let index = counter >> BLOCK_BITS_LOG;
    if (counter > this.last) {
      const current = this.last >> BLOCK_BITS_LOG;
      let diff = index - current;
      if (diff > RING_BLOCKS) diff = RING_BLOCKS;
      for (let i = current + 1n; i <= current + diff; i++) this.ring[Number(i % RING_BLOCKS)] = 0n;
      this.last = counter;
    } else if (this.last - counter > BigInt(REPLAY_WINDOW)) {
      return false;
    }
    index %= RING_BLOCKS;
    const slot = Number(index);
    const bit = 1n << (counter & (BLOCK_BITS - 1n));
    const old = this.ring[slot]!;
    this.ring[slot] = old | bit;
    return (old & bit) === 0n;
  }
}
