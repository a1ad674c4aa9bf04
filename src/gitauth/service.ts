/**
 * Git auth: OAuth2 token refresh and validation for agents' `git` credential requests,
 * and the wake-up channel the `listen` long-poll waits on.
 */
import type { Logger } from 'pino';
import type { Store, GitAuthProvider, GitAuthLink } from '../store/index.js';
import type { Clock } from '../util/clock.js';
import type { Pubsub } from '../pubsub/pubsub.js';
import { nowIso } from '../store/ids.js';

export const GITAUTH_CHANNEL = 'gitauth';
const HTTP_TIMEOUT_MS = 10_000;

export type TokenCheck = { usable: true; token: string } | { usable: false };

export class GitAuthService {
  constructor(
    private readonly store: Store,
    private readonly pubsub: Pubsub,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  notifyLinked(providerId: string, userId: string): void {
    this.pubsub.publish(GITAUTH_CHANNEL, `${providerId}|${userId}`);
  }

  /** Validates the token with the provider's validate URL: true valid, false invalid. Throws on transport errors. */
  async validate(provider: GitAuthProvider, token: string): Promise<boolean> {
    if (!provider.validate_url) return true;
    const res = await fetch(provider.validate_url, {
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
    await res.arrayBuffer().catch(() => undefined);
    if (res.status === 401) return false;
    if (res.status !== 200) throw new Error(`status ${res.status}: validate url ${provider.validate_url}`);
    return true;
  }

  /**
   * The non-listen path: refresh when expired (unless refresh is off), validate, persist a changed token.
   * Validation transport errors propagate (the handler answers 500 "Failed to refresh git auth token.").
   */
  async refresh(provider: GitAuthProvider, link: GitAuthLink): Promise<TokenCheck> {
    let token = link.oauth_access_token;
    let refreshToken = link.oauth_refresh_token;
    let expiry = link.oauth_expiry;
    const expired = expiry !== null && Date.parse(expiry) <= this.clock.now();
    if (expired) {
      if (provider.no_refresh === 1 || !refreshToken) return { usable: false };
      try {
        const refreshed = await this.exchangeRefreshToken(provider, refreshToken);
        token = refreshed.accessToken;
        refreshToken = refreshed.refreshToken ?? refreshToken;
        expiry = refreshed.expiry;
      } catch (err) {
        this.logger.debug({ provider: provider.id, err: String(err) }, 'git auth refresh failed');
        return { usable: false };
      }
    }
    if (!(await this.validate(provider, token))) return { usable: false };
    if (token !== link.oauth_access_token) {
      await this.store.gitauth.upsertLink({ providerId: provider.id, userId: link.user_id, accessToken: token, refreshToken, expiry });
    }
    return { usable: true, token };
  }

  async exchangeRefreshToken(provider: GitAuthProvider, refreshToken: string): Promise<{ accessToken: string; refreshToken?: string; expiry: string | null }> {
    return this.tokenRequest(provider, { grant_type: 'refresh_token', refresh_token: refreshToken });
  }

  async exchangeCode(provider: GitAuthProvider, code: string, redirectUri: string): Promise<{ accessToken: string; refreshToken?: string; expiry: string | null }> {
    return this.tokenRequest(provider, { grant_type: 'authorization_code', code, redirect_uri: redirectUri });
  }

  private async tokenRequest(provider: GitAuthProvider, params: Record<string, string>): Promise<{ accessToken: string; refreshToken?: string; expiry: string | null }> {
    const body = new URLSearchParams({ ...params, client_id: provider.client_id, client_secret: provider.client_secret });
    const res = await fetch(provider.token_url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body,
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`token endpoint answered ${res.status}`);
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // GitHub answers form-encoded unless asked otherwise; accept both.
      parsed = Object.fromEntries(new URLSearchParams(text));
    }
    const accessToken = typeof parsed['access_token'] === 'string' ? parsed['access_token'] : '';
    if (!accessToken) throw new Error('token endpoint returned no access_token');
    const expiresIn = Number(parsed['expires_in'] ?? 0);
    const out: { accessToken: string; refreshToken?: string; expiry: string | null } = {
      accessToken,
      expiry: expiresIn > 0 ? nowIso(this.clock.now() + expiresIn * 1000) : null,
    };
    if (typeof parsed['refresh_token'] === 'string' && parsed['refresh_token']) out.refreshToken = parsed['refresh_token'];
    return out;
  }
}
