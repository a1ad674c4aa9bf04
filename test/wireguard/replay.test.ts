import { describe, expect, it } from 'vitest';
import { REPLAY_WINDOW, ReplayFilter, constants } from '../../src/wireguard/index.js';

describe('replay filter (wireguard-go semantics)', () => {
  it('window is 8128 counters', () => {
    expect(REPLAY_WINDOW).toBe(8128);
  });

  it('accepts in order, rejects duplicates', () => {
    const f = new ReplayFilter();
    for (let i = 0n; i < 200n; i++) expect(f.validate(i)).toBe(true);
    expect(f.validate(199n)).toBe(false);
    expect(f.validate(0n)).toBe(false);
  });

  it('accepts out-of-order inside the window once', () => {
    const f = new ReplayFilter();
    expect(f.validate(10n)).toBe(true);
    expect(f.validate(5n)).toBe(true);
    expect(f.validate(7n)).toBe(true);
    expect(f.validate(5n)).toBe(false);
    expect(f.validate(6n)).toBe(true);
  });

  it('exactly 8128 behind is accepted, 8129 behind rejected', () => {
    const f = new ReplayFilter();
    expect(f.validate(10_000n)).toBe(true);
    expect(f.validate(10_000n - 8128n)).toBe(true);
    expect(f.validate(10_000n - 8129n)).toBe(false);
  });

  it('a jump beyond the whole ring clears old bits', () => {
    const f = new ReplayFilter();
    expect(f.validate(1n)).toBe(true);
    expect(f.validate(1n + 64n * 128n * 3n)).toBe(true);
    // Same bit position as counter 1 in a later lap is fresh.
    expect(f.validate(1n + 64n * 128n * 3n - 64n * 120n)).toBe(true);
    expect(f.validate(1n + 64n * 128n * 3n - 64n * 120n)).toBe(false);
  });

  it('counters at or above REJECT_AFTER_MESSAGES are rejected', () => {
    const f = new ReplayFilter();
    expect(f.validate(constants.REJECT_AFTER_MESSAGES)).toBe(false);
    expect(f.validate(constants.REJECT_AFTER_MESSAGES - 1n)).toBe(true);
  });

  it('reset forgets everything', () => {
    const f = new ReplayFilter();
    f.validate(3n);
    f.reset();
    expect(f.validate(3n)).toBe(true);
  });
});
