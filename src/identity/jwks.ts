import { createLocalJWKSet, errors as joseErrors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import type { Clock } from '../util/clock.js';
import { identityError } from './errors.js';

/**
 * Google's signing keys as a JWKS, either fixed (file, offline) or fetched from a URL
 * and cached: refreshed when older than max-age (Cache-Control, clamped) or when a token
 * names an unknown `kid` (at most once per cooldown); on a failed refresh the previous
 * keys stay in use. One refresh runs at a time. Time comes from the injected clock.
 */

export const GOOGLE_JWKS_URL = 'https://www.googleapis.com/oauth2/v3/certs';
const DEFAULT_MAX_AGE_MS = 60 * 60 * 1000;
const MIN_MAX_AGE_MS = 60 * 1000;
const MAX_MAX_AGE_MS = 24 * 60 * 60 * 1000;
const REFETCH_COOLDOWN_MS = 30 * 1000;
const FETCH_TIMEOUT_MS = 5_000;
const MAX_JWKS_BYTES = 256 * 1024;

export interface JwksSource {
  getKey: JWTVerifyGetKey;
}

export function parseJwks(text: string): JSONWebKeySet {
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as { keys?: unknown }).keys)) {
    throw new Error('JWKS has no "keys" array');
  }
  return parsed as JSONWebKeySet;
}

/** A fixed key set (operator file). */
export function staticJwks(jwks: JSONWebKeySet): JwksSource {
  const local = createLocalJWKSet(jwks);
  return { getKey: (header, token) => local(header, token) };
}

export interface RemoteJwksOptions {
  url: string;
  clock: Clock;
  timeoutMs?: number;
  maxBytes?: number;
  onRefresh?: (result: 'ok' | 'failed') => void;
}

export class RemoteJwks implements JwksSource {
  private keys: ReturnType<typeof createLocalJWKSet> | null = null;
  private fetchedAt = -Infinity;
  private maxAgeMs = DEFAULT_MAX_AGE_MS;
  private lastAttempt = -Infinity;
  private inflight: Promise<void> | null = null;

  constructor(private readonly options: RemoteJwksOptions) {}

  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    const now = this.options.clock.now();
    // Stale or missing keys are refetched, but never more than once per cooldown, so a
    // JWKS outage does not turn every request into an outbound fetch.
    const due = !this.keys || now - this.fetchedAt >= this.maxAgeMs;
    if (due && now - this.lastAttempt >= REFETCH_COOLDOWN_MS) await this.refresh(!this.keys);
    if (!this.keys) throw identityError('jwks_unavailable', 'Google signing keys are unavailable');
    try {
      return await this.keys(header, token);
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw err;
      if (this.options.clock.now() - this.lastAttempt < REFETCH_COOLDOWN_MS) throw err;
      await this.refresh(false);
      return await this.keys(header, token);
    }
  };

  private async refresh(required: boolean): Promise<void> {
    this.inflight ??= this.load().finally(() => {
      this.inflight = null;
    });
    try {
      await this.inflight;
    } catch {
      if (required) throw identityError('jwks_unavailable', 'Google signing keys are unavailable');
    }
  }

  private async load(): Promise<void> {
    const clock = this.options.clock;
    this.lastAttempt = clock.now();
    const controller = new AbortController();
    const timer = clock.setTimeout(() => controller.abort(), this.options.timeoutMs ?? FETCH_TIMEOUT_MS);
    try {
      const res = await fetch(this.options.url, { signal: controller.signal, redirect: 'error' });
      if (res.status !== 200 || !res.body) throw new Error(`JWKS status ${res.status}`);
      const text = await readCapped(res.body, this.options.maxBytes ?? MAX_JWKS_BYTES);
      this.keys = createLocalJWKSet(parseJwks(text));
      this.fetchedAt = clock.now();
      this.maxAgeMs = maxAgeOf(res.headers.get('cache-control'));
      this.options.onRefresh?.('ok');
    } catch (err) {
      this.options.onRefresh?.('failed');
      throw err;
    } finally {
      timer.cancel();
    }
  }
}

function maxAgeOf(cacheControl: string | null): number {
  const m = /(?:^|,)\s*max-age=(\d+)/i.exec(cacheControl ?? '');
  if (!m) return DEFAULT_MAX_AGE_MS;
  return Math.min(MAX_MAX_AGE_MS, Math.max(MIN_MAX_AGE_MS, Number(m[1]) * 1000));
}

async function readCapped(body: ReadableStream<Uint8Array>, maxBytes: number): Promise<string> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new Error('JWKS response too large');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
