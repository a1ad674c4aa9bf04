import { describe, expect, it } from 'vitest';
import { TokenBucketLimiter } from '../../src/identity/ratelimit.js';
import { ManualClock } from '../../src/util/clock.js';

describe('token bucket limiter', () => {
  it('allows a burst, then refills at the configured rate', () => {
    const clock = new ManualClock();
    const l = new TokenBucketLimiter({ ratePerSecond: 2, burst: 3, clock });
    expect([1, 2, 3, 4].map(() => l.take('a').allowed)).toEqual([true, true, true, false]);
    expect(l.take('a')).toEqual({ allowed: false, retryAfterSeconds: 1 });
    clock.advance(500);
    expect(l.take('a').allowed).toBe(true);
    expect(l.take('a').allowed).toBe(false);
    clock.advance(60_000);
    expect([1, 2, 3, 4].map(() => l.take('a').allowed)).toEqual([true, true, true, false]);
  });

  it('keeps memory bounded by evicting the least recently used key', () => {
    const clock = new ManualClock();
    const l = new TokenBucketLimiter({ ratePerSecond: 1, burst: 1, maxKeys: 100, clock });
    for (let i = 0; i < 10_000; i++) l.take(`10.0.${i >> 8}.${i & 255}`);
    expect(l.size()).toBe(100);
    l.take('hot');
    expect(l.take('hot').allowed).toBe(false);
    for (let i = 0; i < 99; i++) l.take(`192.0.2.${i}`);
    expect(l.take('hot').allowed).toBe(false); // still tracked: recently used
  });

  it('rejects nonsensical settings', () => {
    expect(() => new TokenBucketLimiter({ ratePerSecond: 0, burst: 1, clock: new ManualClock() })).toThrow();
  });
});
