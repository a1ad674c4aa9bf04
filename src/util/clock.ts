/**
 * Injected time source. Production code takes a Clock so tests can drive
 * timers deterministically instead of sleeping.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Monotonic milliseconds, for measuring durations. */
  monotonic(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  setInterval(fn: () => void, ms: number): TimerHandle;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
  setInterval(fn, ms) {
    const t = setInterval(fn, ms);
    t.unref?.();
    return { cancel: () => clearInterval(t) };
  },
};

interface ManualTimer {
  at: number;
  every: number | null;
  fn: () => void;
  live: boolean;
}

/** A clock that only moves when a test calls advance(). */
export class ManualClock implements Clock {
  private current: number;
  private timers: ManualTimer[] = [];

  constructor(start = Date.UTC(2023, 2, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  monotonic(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, null);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, Math.max(1, ms));
  }

  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => t.live && t.at <= target)
        .sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.current = Math.max(this.current, due.at);
      if (due.every === null) due.live = false;
      else due.at += due.every;
      due.fn();
    }
    this.timers = this.timers.filter((t) => t.live);
    this.current = target;
  }

  private add(fn: () => void, ms: number, every: number | null): TimerHandle {
    const timer: ManualTimer = { at: this.current + Math.max(0, ms), every, fn, live: true };
    this.timers.push(timer);
    return { cancel: () => { timer.live = false; } };
  }
}
