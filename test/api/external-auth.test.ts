/**
 * GET /me/external-auth (the current name of /me/gitauth) against a real local OAuth2 server:
 * id|match (legacy url) exclusivity, coderd's provider loop (an id stops it, the last regex match
 * wins), agentsdk.ExternalAuthResponse per host type, the login URL /external-auth/<id> (served,
 * same flow as /gitauth/<id>), and `listen` skipping a token already judged invalid.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAuth2Server } from 'oauth2-mock-server';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { ManualClock } from '../../src/util/clock.js';
import { eventually } from '../coordinator/helpers.js';
import { expectError, okJson } from './util.js';

interface ExtAuth {
  access_token: string;
  token_extra: Record<string, unknown> | null;
  url: string;
  type: string;
  username: string;
  password: string;
}

let seq = 0;

describe.each(BACKENDS)('external auth (%s)', (backend) => {
  let s: TestServer;
  let oauth: OAuth2Server;
  let issuer: string;
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

  async function addProvider(type: string, extra: Record<string, unknown> = {}): Promise<{ id: string; host: string }> {
    const id = `${type}-x${++seq}`;
    const host = `${id}.example.com`;
    const res = await s.request('/api/v2/admin/gitauth/providers', {
      method: 'POST',
      token: s.admin.key,
      body: JSON.stringify({ id, type, client_id: 'client', client_secret: 'secret', auth_url: `${issuer}/authorize`, token_url: `${issuer}/token`, regex: `^https://${host.replace(/\./g, '\\.')}/`, ...extra }),
    });
    expect(res.status).toBe(201);
    return { id, host };
  }
  async function addLink(providerId: string, accessToken: string): Promise<void> {
    const res = await s.request('/api/v2/admin/gitauth/links', { method: 'POST', token: s.admin.key, body: JSON.stringify({ provider_id: providerId, user: owner.username, access_token: accessToken }) });
    expect(res.status).toBe(201);
  }
  const ext = (query: string, init: RequestInit = {}) => s.request(`/api/v2/workspaceagents/me/external-auth?${query}`, { token: agentToken, ...init });
  const onlyUrl = (id: string): ExtAuth => ({ access_token: '', token_extra: null, url: `${s.url}/external-auth/${id}`, type: '', username: '', password: '' });

  it('neither id nor match → 400; both → 400; unknown → 404 listing the provider regexes', async () => {
    await expectError(await ext(''), 400, "'url' or 'id' must be provided!");
    await expectError(await ext('id=&match='), 400, "'url' or 'id' must be provided!");
    await expectError(await ext('id=a&match=https://x'), 400, "'url' and 'id' cannot be provided together!");
    await expectError(await ext('id=a&url=https://x'), 400, "'url' and 'id' cannot be provided together!");
    const p = await addProvider('github');
    const body = await expectError(
      await ext('match=https://nowhere.invalid/r.git'),
      404,
      'No matching external auth provider found in Coder for the url "https://nowhere.invalid/r.git".',
    );
    expect(body.detail).toMatch(/^The configured external auth provider have regex filters that do not match the url\. Provider url regex: /);
    expect(body.detail).toContain(`${p.id}="^https://${p.host.replace(/\./g, '\\\\.')}/"`);
    await expectError(await ext('id=no-such-provider'), 404, 'No matching external auth provider found in Coder for the url "".');
  });

  it('no link → only the login URL, which starts the OAuth2 flow like /gitauth/<id>', async () => {
    const p = await addProvider('gitlab');
    expect(await okJson<ExtAuth>(await ext(`id=${p.id}`))).toEqual(onlyUrl(p.id));
    expect(await okJson<ExtAuth>(await ext(`match=${encodeURIComponent(`https://${p.host}/g/r.git`)}`))).toEqual(onlyUrl(p.id));
    expect(await okJson<ExtAuth>(await ext(`url=${encodeURIComponent(`https://${p.host}/g/r.git`)}`))).toEqual(onlyUrl(p.id));
    const start = await s.request(`/external-auth/${p.id}`, { token: owner.key, redirect: 'manual' });
    expect(start.status).toBe(307);
    const loc = new URL(start.headers.get('location')!);
    expect(loc.searchParams.get('redirect_uri')).toBe(`${s.url}/gitauth/${p.id}/callback`);
    expect(loc.searchParams.get('client_id')).toBe('client');
  });

  it('an id stops the provider loop; regex matches keep going and the last wins', async () => {
    const a = await addProvider('github', { regex: '^https://shared\\.example\\.com/' });
    const b = await addProvider('gitlab', { regex: '^https://shared\\.example\\.com/' });
    expect((await okJson<ExtAuth>(await ext('match=https://shared.example.com/r'))).url).toBe(onlyUrl(b.id).url);
    expect((await okJson<ExtAuth>(await ext(`id=${a.id}`))).url).toBe(onlyUrl(a.id).url);
  });

  it('a link → access_token, type and the git username/password of each host', async () => {
    const want: Record<string, [string, string]> = { github: ['T', ''], gitlab: ['oauth2', 'T'], bitbucket: ['x-token-auth', 'T'], 'azure-devops': ['T', ''] };
    for (const [type, [user, pass]] of Object.entries(want)) {
      const p = await addProvider(type);
      const token = `tok-${type}`;
      await addLink(p.id, token);
      const fill = (v: string) => (v === 'T' ? token : v);
      expect(await okJson<ExtAuth>(await ext(`id=${p.id}`)), type).toEqual({ access_token: token, token_extra: null, url: '', type, username: fill(user), password: fill(pass) });
    }
  });

  it('/me/gitauth keeps its old shape next to it', async () => {
    const p = await addProvider('gitlab');
    await addLink(p.id, 'old-shape');
    expect(await okJson(await s.request(`/api/v2/workspaceagents/me/gitauth?url=${encodeURIComponent(`https://${p.host}/r.git`)}`, { token: agentToken }))).toEqual({
      username: 'oauth2',
      password: 'old-shape',
      url: '',
    });
  });

  it('listen: a valid link answers at once; otherwise it waits, skips a token already judged invalid, answers the next valid one', async () => {
    const ready = await addProvider('github');
    await addLink(ready.id, 'ready');
    expect((await okJson<ExtAuth>(await ext(`id=${ready.id}&listen`))).access_token).toBe('ready');

    const p = await addProvider('github', { validate_url: `${issuer}/userinfo` });
    await addLink(p.id, 'revoked');
    const validated: string[] = [];
    const onUserinfo = (resp: { statusCode: number; body: unknown }, req: { headers: Record<string, string | undefined> }) => {
      const token = (req.headers['authorization'] ?? '').replace('Bearer ', '');
      validated.push(token);
      if (token === 'revoked') {
        resp.statusCode = 401;
        resp.body = { error: 'invalid_token' };
      }
    };
    oauth.service.on('beforeUserinfo', onUserinfo);
    try {
      let settled = false;
      const pending = ext(`id=${p.id}&listen`).then(async (r) => {
        settled = true;
        return okJson<ExtAuth>(r);
      });
      await eventually(() => validated.length === 1, 'first validation');
      // The 1 s re-check sees the same (invalid) token and does not ask the provider again.
      clock.advance(1000);
      clock.advance(1000);
      await s.request('/api/v2/buildinfo');
      expect(settled).toBe(false);
      expect(validated).toEqual(['revoked']);
      await addLink(p.id, 'renewed');
      expect(await pending).toEqual({ access_token: 'renewed', token_extra: null, url: '', type: 'github', username: 'renewed', password: '' });
      expect(validated).toEqual(['revoked', 'renewed']);
    } finally {
      oauth.service.off('beforeUserinfo', onUserinfo);
    }
  });
});
