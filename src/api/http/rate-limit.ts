/**
 * Coder's /api/v2 request rate limit (default 512 per minute, `--api-rate-limit`): a sliding
 * window counter per (client address, request path) — coderd mounts its limiter before API-key
 * extraction, so in practice it keys by IP and endpoint. The estimate weights the previous
 * fixed window by how much of it still overlaps the sliding one, as chi's httprate does.
 * Memory: two counters per active key; keys idle for two windows are swept once per window.
 */
import type { Clock } from '../../util/clock.js';

export const RATE_LIMITED_MESSAGE = "You've been rate limited for sending too many requests!";

interface Counter {
  window: number; // start (ms) of the fixed window `current` counts
  current: number;
  previous: number;
}

export type RateDecision = { allowed: true; headers: Record<string, string> } | { allowed: false; headers: Record<string, string> };

export class RateLimiter {
  private readonly counters = new Map<string, Counter>();
  private sweptWindow = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly clock: Clock,
  ) {}

  /** Counts one request for `key` unless it is over the limit. */
  take(key: string): RateDecision {
    const now = this.clock.now();
    const window = now - (now % this.windowMs);
    if (window !== this.sweptWindow) this.sweep(window);
    let c = this.counters.get(key);
    if (!c) {
      c = { window, current: 0, previous: 0 };
      this.counters.set(key, c);
    } else if (c.window !== window) {
      c.previous = c.window === window - this.windowMs ? c.current : 0;
      c.current = 0;
      c.window = window;
    }
    const elapsed = now - window;
    const rate = Math.round((c.previous * (this.windowMs - elapsed)) / this.windowMs + c.current);
    const reset = String(Math.floor((window + this.windowMs) / 1000));
    if (rate >= this.limit) {
      return {
        allowed: false,
        headers: {
          'X-Ratelimit-Limit': String(this.limit),
          'X-Ratelimit-Remaining': '0',
          'X-Ratelimit-Reset': reset,
          'Retry-After': String(Math.max(1, Math.ceil((window + this.windowMs - now) / 1000))),
        },
      };
    }
    c.current++;
    return { allowed: true, headers: { 'X-Ratelimit-Limit': String(this.limit), 'X-Ratelimit-Remaining': String(this.limit - rate - 1), 'X-Ratelimit-Reset': reset } };
  }

  /** Active keys (for tests and the debug view). */
  get size(): number {
    return this.counters.size;
  }

  private sweep(window: number): void {
    this.sweptWindow = window;
    for (const [key, c] of this.counters) if (c.window < window - this.windowMs) this.counters.delete(key);
  }
}

/** The key coderd's limiter effectively uses: client address and request path. */
export function rateLimitKey(remoteAddress: string, pathname: string): string {
  return `${remoteAddress} ${pathname}`;
}
