/**
 * Git auth (§2.7) and its OAuth2 web flow, against a real local OAuth2 server
 * (oauth2-mock-server): provider selection, credential formats, refresh, validation,
 * the `listen` long-poll and the callback that wakes it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAuth2Server } from 'oauth2-mock-server';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { ManualClock } from '../../src/util/clock.js';
import { expectError, okJson } from './util.js';

interface Creds {
  username: string;
  password: string;
  url: string;
}

let seq = 0;

describe.each(BACKENDS)('git auth (%s)', (backend) => {
  let s: TestServer;
  let oauth: OAuth2Server;
  let issuer: string;
  // The interval timer of `listen` never fires on a ManualClock: only a pubsub wake-up releases it.
  const clock = new ManualClock(Date.now());
  let owner: { id: string; username: string; key: string };
  let agentToken: string;

  beforeAll(async () => {
    oauth = new OAuth2Server();
    await oauth.issuer.keys.generate('RS256');
    await oauth.start(0, '127.0.0.1');
    issuer = oauth.issuer.url!;
    s = await startTestServer({ backend, clock });
    owner = await s.user();
    agentToken = (await s.workspace(owner.username, [{}])).agents[0]!.token!;
  });
  afterAll(async () => {
    await s.stop();
    await oauth.stop();
  });

  /** Adds a provider through the admin API; its regex matches https://<host>/... */
  async function addProvider(type: string, extra: Record<string, unknown> = {}): Promise<{ id: string; host: string }> {
    const id = `${type}-${++seq}`;
    const host = `${id}.example.com`;
    const res = await s.request('/api/v2/admin/gitauth/providers', {
      method: 'POST',
      token: s.admin.key,
      body: JSON.stringify({
        id,
        type,
        client_id: 'client',
        client_secret: 'secret',
        auth_url: `${issuer}/authorize`,
        token_url: `${issuer}/token`,
        regex: `^https://${host.replace(/\./g, '\\.')}/`,
        ...extra,
      }),
    });
    expect(res.status).toBe(201);
    return { id, host };
  }

  async function addLink(providerId: string, accessToken: string, extra: Record<string, unknown> = {}): Promise<void> {
    const res = await s.request('/api/v2/admin/gitauth/links', {
      method: 'POST',
      token: s.admin.key,
      body: JSON.stringify({ provider_id: providerId, user: owner.username, access_token: accessToken, ...extra }),
    });
    expect(res.status).toBe(201);
  }

  const gitauth = (url: string, extra = '', init: RequestInit = {}) =>
    s.request(`/api/v2/workspaceagents/me/gitauth?url=${encodeURIComponent(url)}${extra}`, { token: agentToken, ...init });
  const loginUrl = (id: string) => `${s.url}/gitauth/${id}`;

  describe('GET /me/gitauth', () => {
    it('missing url → 400; no matching provider → 404', async () => {
      await expectError(await s.request('/api/v2/workspaceagents/me/gitauth', { token: agentToken }), 400, "Missing 'url' query parameter!");
      await expectError(await s.request('/api/v2/workspaceagents/me/gitauth?url=', { token: agentToken }), 400, "Missing 'url' query parameter!");
      await expectError(await gitauth('https://nowhere.invalid/x.git'), 404, 'No git provider found for URL "https://nowhere.invalid/x.git"');
    });

    it('no link → only the URL of the web flow', async () => {
      const p = await addProvider('github');
      expect(await okJson<Creds>(await gitauth(`https://${p.host}/org/repo.git`))).toEqual({ username: '', password: '', url: loginUrl(p.id) });
    });

    it('the last matching provider wins', async () => {
      const first = await addProvider('github', { regex: '^https://multi\\.example\\.com/' });
      const second = await addProvider('gitlab', { regex: '^https://multi\\.example\\.com/group/' });
      expect((await okJson<Creds>(await gitauth('https://multi.example.com/group/repo'))).url).toBe(loginUrl(second.id));
      expect((await okJson<Creds>(await gitauth('https://multi.example.com/other/repo'))).url).toBe(loginUrl(first.id));
    });

    it('a link → credentials in the shape of each host type', async () => {
      const want: Record<string, (t: string) => Creds> = {
        github: (t) => ({ username: t, password: '', url: '' }),
        gitlab: (t) => ({ username: 'oauth2', password: t, url: '' }),
        bitbucket: (t) => ({ username: 'x-token-auth', password: t, url: '' }),
        'azure-devops': (t) => ({ username: t, password: '', url: '' }),
      };
      for (const [type, shape] of Object.entries(want)) {
        const p = await addProvider(type);
        await addLink(p.id, `tok-${type}`);
        expect(await okJson<Creds>(await gitauth(`https://${p.host}/r.git`)), type).toEqual(shape(`tok-${type}`));
      }
    });

    it('an expired link is refreshed at the token endpoint and the new token stored', async () => {
      const p = await addProvider('gitlab');
      await addLink(p.id, 'old-token', { refresh_token: 'refresh-1', expiry: new Date(clock.now() - 60_000).toISOString() });
      const creds = await okJson<Creds>(await gitauth(`https://${p.host}/r.git`));
      expect(creds.username).toBe('oauth2');
      expect(creds.password).not.toBe('old-token');
      expect(creds.password.split('.')).toHaveLength(3); // a JWT from the OAuth2 server
      const link = await s.app.store.gitauth.link(p.id, owner.id);
      expect(link?.oauth_access_token).toBe(creds.password);
      expect(Date.parse(link!.oauth_expiry!)).toBeGreaterThan(clock.now());
      expect(link?.oauth_refresh_token).not.toBe('refresh-1');
    });

    it('a refresh the token endpoint refuses → URL only', async () => {
      const p = await addProvider('github');
      await addLink(p.id, 'old', { refresh_token: 'r', expiry: new Date(clock.now() - 1000).toISOString() });
      oauth.service.once('beforeResponse', (resp) => {
        resp.statusCode = 400;
        resp.body = { error: 'invalid_grant' };
      });
      expect(await okJson<Creds>(await gitauth(`https://${p.host}/r.git`))).toEqual({ username: '', password: '', url: loginUrl(p.id) });
    });

    it('no_refresh + expired → URL only, and the token endpoint is not called', async () => {
      const p = await addProvider('github', { no_refresh: true });
      await addLink(p.id, 'stale', { refresh_token: 'r', expiry: new Date(clock.now() - 1000).toISOString() });
      let called = false;
      const onToken = () => (called = true);
      oauth.service.on('beforeResponse', onToken);
      try {
        expect(await okJson<Creds>(await gitauth(`https://${p.host}/r.git`))).toEqual({ username: '', password: '', url: loginUrl(p.id) });
      } finally {
        oauth.service.off('beforeResponse', onToken);
      }
      expect(called).toBe(false);
    });

    it('validate URL: 200 → credentials; 401 → URL only; 500 → 500 "Failed to refresh git auth token."', async () => {
      const p = await addProvider('github', { validate_url: `${issuer}/userinfo` });
      await addLink(p.id, 'checked');
      let auth: string | undefined;
      oauth.service.once('beforeUserinfo', (_resp, req) => {
        auth = req.headers.authorization;
      });
      expect(await okJson<Creds>(await gitauth(`https://${p.host}/r.git`))).toEqual({ username: 'checked', password: '', url: '' });
      expect(auth).toBe('Bearer checked');
      oauth.service.once('beforeUserinfo', (resp) => {
        resp.statusCode = 401;
        resp.body = { error: 'invalid_token' };
      });
      expect(await okJson<Creds>(await gitauth(`https://${p.host}/r.git`))).toEqual({ username: '', password: '', url: loginUrl(p.id) });
      oauth.service.once('beforeUserinfo', (resp) => {
        resp.statusCode = 500;
      });
      await expectError(await gitauth(`https://${p.host}/r.git`), 500, 'Failed to refresh git auth token.');
    });

    it('listen: woken by a link created through the admin API', async () => {
      const p = await addProvider('bitbucket');
      let settled = false;
      const pending = gitauth(`https://${p.host}/r.git`, '&listen').then(async (r) => {
        settled = true;
        return okJson<Creds>(r);
      });
      await new Promise((r) => setTimeout(r, 150));
      expect(settled).toBe(false);
      await addLink(p.id, 'fresh');
      expect(await pending).toEqual({ username: 'x-token-auth', password: 'fresh', url: '' });
    });

    it('listen: an already valid link answers at once; an expired one keeps waiting', async () => {
      const p = await addProvider('github');
      await addLink(p.id, 'ready');
      expect(await okJson<Creds>(await gitauth(`https://${p.host}/r.git`, '&listen=1'))).toEqual({ username: 'ready', password: '', url: '' });
      const q = await addProvider('github');
      await addLink(q.id, 'expired', { expiry: new Date(clock.now() - 1000).toISOString() });
      const ac = new AbortController();
      let settled = false;
      const pending = gitauth(`https://${q.host}/r.git`, '&listen', { signal: ac.signal }).then(
        () => (settled = true),
        () => undefined,
      );
      await new Promise((r) => setTimeout(r, 150));
      expect(settled).toBe(false);
      ac.abort();
      await pending;
    });

    it('listen: released (unsubscribed) when the client goes away', async () => {
      const p = await addProvider('github');
      const pubsub = s.app.pubsub as unknown as { channels: Map<string, Set<unknown>> };
      const listeners = () => pubsub.channels.get('gitauth')?.size ?? 0;
      const before = listeners();
      const ac = new AbortController();
      const pending = gitauth(`https://${p.host}/r.git`, '&listen', { signal: ac.signal }).catch(() => undefined);
      for (let i = 0; i < 250 && listeners() === before; i++) await new Promise((r) => setTimeout(r, 20));
      expect(listeners()).toBe(before + 1);
      ac.abort();
      await pending;
      for (let i = 0; i < 250 && listeners() !== before; i++) await new Promise((r) => setTimeout(r, 20));
      expect(listeners()).toBe(before);
    });
  });

  describe('OAuth2 web flow', () => {
    it('GET /gitauth/{provider} needs a session; unknown provider → 404', async () => {
      const p = await addProvider('github');
      const res = await s.request(`/gitauth/${p.id}`, { redirect: 'manual' });
      expect(res.status).toBe(401);
      await res.text();
      const unknown = await s.request('/gitauth/nope', { token: owner.key, redirect: 'manual' });
      expect(unknown.status).toBe(404);
      await unknown.text();
    });

    async function begin(providerId: string, redirect?: string): Promise<URL> {
      const res = await s.request(`/gitauth/${providerId}${redirect ? `?redirect=${encodeURIComponent(redirect)}` : ''}`, { token: owner.key, redirect: 'manual' });
      expect(res.status).toBe(307);
      await res.text();
      return new URL(res.headers.get('location')!);
    }

    /** Follows the provider's authorize endpoint; returns the callback URL it redirects to. */
    async function authorize(to: URL): Promise<URL> {
      const res = await fetch(to, { redirect: 'manual' });
      expect([302, 303, 307]).toContain(res.status);
      await res.text();
      return new URL(res.headers.get('location')!);
    }

    it('redirects to the provider with state; the callback stores the link, wakes listen and redirects back', async () => {
      const p = await addProvider('gitlab', { scopes: ['read_repository', 'write_repository'] });
      const to = await begin(p.id, '/workspaces/mine?tab=git');
      expect(to.origin + to.pathname).toBe(`${issuer}/authorize`);
      expect(to.searchParams.get('response_type')).toBe('code');
      expect(to.searchParams.get('client_id')).toBe('client');
      expect(to.searchParams.get('redirect_uri')).toBe(`${s.url}/gitauth/${p.id}/callback`);
      expect(to.searchParams.get('scope')).toBe('read_repository write_repository');
      expect(to.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{20,}$/);

      const waiting = gitauth(`https://${p.host}/r.git`, '&listen').then((r) => okJson<Creds>(r));
      const callback = await authorize(to);
      expect(callback.pathname).toBe(`/gitauth/${p.id}/callback`);
      expect(callback.searchParams.get('state')).toBe(to.searchParams.get('state'));
      const done = await fetch(callback, { redirect: 'manual', headers: { Cookie: `coder_session_token=${owner.key}` } });
      expect(done.status).toBe(307);
      await done.text();
      expect(done.headers.get('location')).toBe('/workspaces/mine?tab=git');
      const creds = await waiting;
      expect(creds.username).toBe('oauth2');
      expect((await s.app.store.gitauth.link(p.id, owner.id))?.oauth_access_token).toBe(creds.password);

      // The state is single-use.
      await expectError(await fetch(callback, { redirect: 'manual', headers: { Cookie: `coder_session_token=${owner.key}` } }), 400, 'Invalid or expired OAuth2 state.');
    });

    it('unsafe redirects fall back to /gitauth', async () => {
      const p = await addProvider('github');
      const callback = await authorize(await begin(p.id, '//evil.example.com/x'));
      const done = await fetch(callback, { redirect: 'manual', headers: { Cookie: `coder_session_token=${owner.key}` } });
      expect(done.status).toBe(307);
      expect(done.headers.get('location')).toBe('/gitauth');
      await done.text();
    });

    it('bad, missing or foreign state → 400', async () => {
      const p = await addProvider('github');
      const q = await addProvider('github');
      await expectError(await s.request(`/gitauth/${p.id}/callback?code=c&state=forged`, { token: owner.key }), 400, 'Invalid or expired OAuth2 state.');
      await expectError(await s.request(`/gitauth/${p.id}/callback?code=c`, { token: owner.key }), 400, 'Missing "code" or "state" query parameter.');
      // A state issued for provider q is refused at p's callback.
      const to = await begin(q.id);
      await expectError(await s.request(`/gitauth/${p.id}/callback?code=c&state=${to.searchParams.get('state')}`, { token: owner.key }), 400, 'Invalid or expired OAuth2 state.');
      expect(await s.app.store.gitauth.link(p.id, owner.id)).toBeUndefined();
    });

    it('the callback needs the session of the user who started the flow (no OAuth login CSRF)', async () => {
      const p = await addProvider('github');
      // The attacker (owner here) starts a flow; a victim completes it in their own browser.
      const callback = await authorize(await begin(p.id));
      const noSession = await fetch(callback, { redirect: 'manual' });
      expect(noSession.status).toBe(401);
      await noSession.text();
      const victim = await s.user();
      await expectError(await fetch(callback, { redirect: 'manual', headers: { 'Coder-Session-Token': victim.key } }), 400, 'Invalid or expired OAuth2 state.');
      expect(await s.app.store.gitauth.link(p.id, owner.id)).toBeUndefined();
      expect(await s.app.store.gitauth.link(p.id, victim.id)).toBeUndefined();
    });

    it('an expired state (older than 10 minutes) → 400', async () => {
      const p = await addProvider('github');
      const to = await begin(p.id);
      const callback = await authorize(to);
      clock.advance(10 * 60_000 + 1);
      await expectError(await fetch(callback, { redirect: 'manual', headers: { Cookie: `coder_session_token=${owner.key}` } }), 400, 'Invalid or expired OAuth2 state.');
    });
  });
});
