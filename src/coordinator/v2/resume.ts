/**
 * Resume tokens (tailnet-v2.md §3.9): a compact JWS (HS512) whose `sub` is the
 * client's peer UUID and `exp` its expiry. A client that redials with a valid
 * token keeps its peer ID, so agents see updates about a known peer. Tokens
 * are opaque to clients; replicas must share the key to honour each other's.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../util/clock.js';

export const RESUME_TOKEN_LIFETIME_MS = 24 * 60 * 60 * 1000;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HEADER = Buffer.from(JSON.stringify({ alg: 'HS512', typ: 'JWT' })).toString('base64url');

export interface IssuedResumeToken {
  token: string;
  /** Epoch ms. */
  expiresAt: number;
  refreshInMs: number;
}

export type ResumeCheck = { ok: true; peerId: string } | { ok: false; reason: string };

export class ResumeTokenProvider {
  private readonly key: Buffer;

  constructor(
    private readonly clock: Clock,
    key?: Buffer,
    private readonly lifetimeMs = RESUME_TOKEN_LIFETIME_MS,
  ) {
    this.key = key ?? randomBytes(64);
  }

  /** `audience` binds the token to where it may be used (the agent a client coordinates with). */
  issue(peerId: string, audience = ''): IssuedResumeToken {
    const now = this.clock.now();
    const expiresAt = now + this.lifetimeMs;
    const payload = Buffer.from(JSON.stringify({ sub: peerId, aud: audience, iat: Math.floor(now / 1000), exp: Math.floor(expiresAt / 1000) })).toString('base64url');
    const signing = `${HEADER}.${payload}`;
    return { token: `${signing}.${this.sign(signing)}`, expiresAt: Math.floor(expiresAt / 1000) * 1000, refreshInMs: this.lifetimeMs / 2 };
  }

  verify(token: string, audience = ''): ResumeCheck {
    const parts = token.split('.');
    if (parts.length !== 3) return { ok: false, reason: 'malformed token' };
    const [h, p, sig] = parts as [string, string, string];
    const want = Buffer.from(this.sign(`${h}.${p}`));
    const got = Buffer.from(sig);
    if (h !== HEADER || got.length !== want.length || !timingSafeEqual(got, want)) return { ok: false, reason: 'invalid signature' };
    let claims: { sub?: unknown; aud?: unknown; exp?: unknown };
    try {
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as { sub?: unknown; aud?: unknown; exp?: unknown };
    } catch {
      return { ok: false, reason: 'malformed claims' };
    }
    if (typeof claims.sub !== 'string' || !UUID_RE.test(claims.sub)) return { ok: false, reason: 'invalid subject' };
    if (typeof claims.exp !== 'number' || claims.exp * 1000 <= this.clock.now()) return { ok: false, reason: 'token expired' };
    if ((claims.aud ?? '') !== audience) return { ok: false, reason: 'token issued for another agent' };
    return { ok: true, peerId: claims.sub };
  }

  private sign(data: string): string {
    return createHmac('sha512', this.key).update(data).digest('base64url');
  }
}
