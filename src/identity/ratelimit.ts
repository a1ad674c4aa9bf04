import type { Clock } from '../util/clock.js';

/**
 * Per-key token bucket (key = source IP). Memory is bounded: at most `maxKeys` buckets,
 * the least recently used is dropped first (Map insertion order, refreshed on use); a
 * dropped key simply starts again with a full bucket, which only ever errs toward
 * allowing. Time is the injected clock's monotonic milliseconds.
 */

export interface RateLimitOptions {
  /** Tokens added per second. */
  ratePerSecond: number;
  /** Bucket size: requests allowed in a burst. */
  burst: number;
  maxKeys?: number;
  clock: Clock;
}

interface Bucket {
  tokens: number;
  at: number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxKeys: number;

  constructor(private readonly options: RateLimitOptions) {
    if (!(options.ratePerSecond > 0) || !(options.burst >= 1)) throw new Error('rate limit: rate must be > 0 and burst >= 1');
    this.maxKeys = options.maxKeys ?? 10_000;
  }

  take(key: string): RateDecision {
    const now = this.options.clock.monotonic();
    const { ratePerSecond, burst } = this.options;
    let bucket = this.buckets.get(key);
    if (bucket) {
      this.buckets.delete(key);
      bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * ratePerSecond);
      bucket.at = now;
    } else {
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
      bucket = { tokens: burst, at: now };
    }
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerSecond)) };
  }

  size(): number {
    return this.buckets.size;
  }
}
