/**
 * The /api/v2 rate limit (Coder's --api-rate-limit, 512/min by default): a sliding window per
 * client address and path, 429 with Coder's message, off with a value ≤ 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RateLimiter, RATE_LIMITED_MESSAGE } from '../../src/api/http/rate-limit.js';
import { ManualClock } from '../../src/util/clock.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { expectError } from './util.js';

describe('RateLimiter (sliding window)', () => {
  it('allows `limit` requests per key in a window, then refuses with Retry-After until the window slides', () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 0, 0, 0));
    const rl = new RateLimiter(3, 60_000, clock);
    const remaining = [0, 1, 2].map(() => rl.take('a'));
    expect(remaining.map((d) => [d.allowed, d.headers['X-Ratelimit-Remaining']])).toEqual([
      [true, '2'],
      [true, '1'],
      [true, '0'],
    ]);
    const refused = rl.take('a');
    expect(refused.allowed).toBe(false);
    expect(refused.headers['Retry-After']).toBe('60');
    expect(rl.take('b').allowed).toBe(true); // keys are independent
    // Next window: the previous window's 3 still weigh 3 × (1 − elapsed/window).
    clock.advance(60_000 + 15_000); // 25 % into the next window → weight 0.75 → 2.25 ≈ 2
    expect(rl.take('a').allowed).toBe(true); // 2 < 3
    expect(rl.take('a').allowed).toBe(false); // 2.25 + 1 ≈ 3
    clock.advance(45_000); // a fresh window whose predecessor held 1
    expect(rl.take('a').allowed).toBe(true);
  });

  it('forgets keys idle for two windows (bounded memory)', () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const rl = new RateLimiter(10, 1000, clock);
    for (let i = 0; i < 100; i++) rl.take(`k${i}`);
    expect(rl.size).toBe(100);
    clock.advance(2000);
    rl.take('other');
    expect(rl.size).toBe(1);
  });
});

describe('--api-rate-limit on the HTTP API', () => {
  let s: TestServer;
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 0, 0, 30));
  let owner: { key: string; username: string };

  beforeAll(async () => {
    s = await startTestServer({ clock, env: { TAILNETD_API_RATE_LIMIT: '3' } });
    owner = await s.user();
  });
  afterAll(async () => {
    await s.stop();
  });

  it('the 4th request to one /api/v2 path in a minute gets 429 with Coder’s message; other paths and non-API routes are not counted', async () => {
    const b = await s.workspace(owner.username, [{ name: 'rl' }]);
    const path = `/api/v2/workspaceagents/${b.agents[0]!.id}`;
    for (let i = 0; i < 3; i++) {
      const res = await s.request(path, { token: owner.key });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-ratelimit-limit')).toBe('3');
      await res.arrayBuffer();
    }
    const refused = await s.request(path, { token: owner.key });
    expect(refused.headers.get('retry-after')).toBe('30');
    await expectError(refused, 429, RATE_LIMITED_MESSAGE);
    // Another path has its own budget; /healthz is outside /api/v2.
    expect((await s.request(`${path}/connection`, { token: owner.key })).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await s.request('/healthz')).status).toBe(200);
    // WebSocket upgrades count too: refused before the upgrade with the same envelope.
    const coordinate = '/api/v2/workspaceagents/me/coordinate';
    for (let i = 0; i < 3; i++) await (await s.request(coordinate)).arrayBuffer();
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}${coordinate}`, { headers: { 'Coder-Session-Token': b.agents[0]!.token! } });
    ws.on('error', () => undefined);
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    ws.terminate();
    expect(status).toBe(429);
    // A minute and a half later the window has slid past.
    clock.advance(90_000);
    expect((await s.request(path, { token: owner.key })).status).toBe(200);
  });
});

describe('--api-rate-limit ≤ 0', () => {
  it('0 turns the limit off (it is not a budget of zero)', async () => {
    const s = await startTestServer({ env: { TAILNETD_API_RATE_LIMIT: '0' } });
    try {
      for (let i = 0; i < 5; i++) expect((await s.request('/api/v2/buildinfo-does-not-exist')).status).toBe(404);
    } finally {
      await s.stop();
    }
  });
});
