/** Resume token signing, expiry and binding (tailnet-v2.md §3.9), with a manual clock. */
import { describe, expect, it } from 'vitest';
import { ResumeTokenProvider } from '../../src/coordinator/v2/resume.js';
import { ManualClock } from '../../src/util/clock.js';

describe('resume tokens', () => {
  const peer = '0b8f7a4e-3c1d-4e2f-9a6b-7c8d9e0f1a2b';
  const agent = 'a1b2c3d4-e5f6-4789-8abc-def012345678';

  it('round-trips the peer ID for the same agent; lifetime 24 h, refresh at half', () => {
    const clock = new ManualClock(1_700_000_000_000);
    const p = new ResumeTokenProvider(clock);
    const t = p.issue(peer, agent);
    expect(t.refreshInMs).toBe(12 * 3600 * 1000);
    expect(t.expiresAt).toBe(1_700_000_000_000 + 24 * 3600 * 1000);
    expect(p.verify(t.token, agent)).toEqual({ ok: true, peerId: peer });
    expect(p.verify(t.token, peer)).toEqual({ ok: false, reason: 'token issued for another agent' });
    clock.advance(24 * 3600 * 1000);
    expect(p.verify(t.token, agent)).toEqual({ ok: false, reason: 'token expired' });
  });

  it('rejects tampering, other keys and garbage', () => {
    const clock = new ManualClock(1_700_000_000_000);
    const p = new ResumeTokenProvider(clock);
    const t = p.issue(peer, agent).token;
    const [h, body, sig] = t.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ sub: agent, aud: agent, exp: 9e9 })).toString('base64url');
    expect(p.verify(`${h}.${forged}.${sig}`, agent).ok).toBe(false);
    expect(new ResumeTokenProvider(clock).verify(t, agent)).toEqual({ ok: false, reason: 'invalid signature' });
    expect(p.verify('garbage', agent)).toEqual({ ok: false, reason: 'malformed token' });
    expect(p.verify(`${h}.${body}.`, agent).ok).toBe(false);
    const shared = Buffer.alloc(64, 7);
    expect(new ResumeTokenProvider(clock, shared).verify(new ResumeTokenProvider(clock, shared).issue(peer, agent).token, agent).ok).toBe(true);
  });
});
