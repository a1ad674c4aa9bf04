/**
 * The admin provisioning API under /api/v2/admin: admin-only, validation (400 with
 * validations), conflicts (409), and builds that retire the previous build's agents.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { expectError, GENERIC_404, okJson, SIGNED_OUT } from './util.js';

interface Provisioned {
  workspace_id: string;
  build_id: string;
  build_number: number;
  agents: { id: string; name: string; auth: string; token: string | null; instance_id: string | null; apps: { id: string; slug: string }[] }[];
}

/** Dials the agent coordinate socket; resolves with 'open' or the refused status and body. */
function dialAgent(s: TestServer, token: string): Promise<{ open: true } | { open: false; status: number; body: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(s.url.replace('http', 'ws') + '/api/v2/workspaceagents/me/coordinate', { headers: { Cookie: `coder_session_token=${token}` } });
    ws.on('open', () => {
      ws.close();
      resolve({ open: true });
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ open: false, status: res.statusCode ?? 0, body }));
    });
    ws.on('error', () => undefined);
  });
}

describe.each(BACKENDS)('admin API (%s)', (backend) => {
  let s: TestServer;
  let plain: { id: string; username: string; key: string };

  beforeAll(async () => {
    s = await startTestServer({ backend });
    plain = await s.user();
  });
  afterAll(async () => {
    await s.stop();
  });

  const post = (path: string, body: unknown, token: string = s.admin.key) =>
    s.request(`/api/v2/admin${path}`, { method: 'POST', token, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('is admin-only: no session → 401, non-admin → generic 404 on every route', async () => {
    const paths = ['/users', `/users/${plain.id}/keys`, '/workspaces', `/workspaces/${crypto.randomUUID()}/builds`, '/gitauth/providers', '/gitauth/links'];
    for (const p of paths) {
      await expectError(await s.request(`/api/v2/admin${p}`, { method: 'POST', body: '{}' }), 401, SIGNED_OUT);
      await expectError(await post(p, {}, plain.key), 404, GENERIC_404);
    }
  });

  describe('users and keys', () => {
    it('creates a user with a working API key; duplicate → 409; invalid → 400 with validations', async () => {
      const created = await okJson<{ id: string; username: string; email: string; admin: boolean; api_key: string }>(await post('/users', { username: 'newbie', email: 'n@example.com' }), 201);
      expect(created).toMatchObject({ username: 'newbie', email: 'n@example.com', admin: false });
      expect(created.api_key).toMatch(/^[A-Za-z0-9]{10}-[A-Za-z0-9]{22}$/);
      // The key authenticates (and, not being an admin, sees the admin API as missing).
      await expectError(await post('/users', { username: 'x', email: 'x@example.com' }, created.api_key), 404, GENERIC_404);
      await expectError(await post('/users', { username: 'newbie', email: 'other@example.com' }), 409, 'User "newbie" already exists.');
      const bad = await expectError(await post('/users', { username: '-bad-', email: 'nope' }), 400, 'Validation failed.');
      expect(bad.validations?.map((v) => v.field).sort()).toEqual(['email', 'username']);
      const extra = await expectError(await post('/users', { username: 'ok', email: 'ok@example.com', role: 'root' }), 400, 'Validation failed.');
      expect(extra.validations?.length).toBeGreaterThan(0);
    });

    it('an admin user can use the admin API', async () => {
      const created = await okJson<{ api_key: string }>(await post('/users', { username: 'boss', email: 'b@example.com', admin: true }), 201);
      expect((await post('/users', { username: 'minion', email: 'm@example.com' }, created.api_key)).status).toBe(201);
    });

    it('creates extra keys by username or id; unknown user → 404', async () => {
      const byName = await okJson<{ user_id: string; api_key: string }>(await post(`/users/${plain.username}/keys`, {}), 201);
      expect(byName.user_id).toBe(plain.id);
      const byId = await okJson<{ user_id: string; api_key: string }>(await post(`/users/${plain.id}/keys`, {}), 201);
      expect(byId.api_key).not.toBe(byName.api_key);
      expect((await s.request(`/api/v2/workspaceagents/${crypto.randomUUID()}`, { token: byId.api_key })).status).toBe(404);
      await expectError(await post('/users/nobody/keys', {}), 404, 'User "nobody" not found.');
    });
  });

  describe('workspaces and builds', () => {
    it('creates a workspace with agents, tokens shown once; duplicate name → 409; unknown owner → 404', async () => {
      const ws = await okJson<Provisioned>(
        await post('/workspaces', { owner: plain.username, name: 'dev', agents: [{ name: 'main', apps: [{ slug: 'web', url: 'http://localhost:1' }] }, { name: 'cloud', auth: 'google-instance-identity', instance_id: 'gce-1' }] }),
        201,
      );
      expect(ws.build_number).toBe(1);
      expect(ws.agents.map((a) => [a.name, a.auth, a.token === null, a.instance_id])).toEqual([
        ['main', 'token', false, null],
        ['cloud', 'google-instance-identity', true, 'gce-1'],
      ]);
      expect(ws.agents[0]!.apps.map((a) => a.slug)).toEqual(['web']);
      expect((await s.request('/api/v2/workspaceagents/me/metadata', { token: ws.agents[0]!.token! })).status).toBe(200);
      await expectError(await post('/workspaces', { owner: plain.id, name: 'dev', agents: [{ name: 'main' }] }), 409, `Workspace "dev" already exists for ${plain.username}.`);
      await expectError(await post('/workspaces', { owner: 'ghost', name: 'dev', agents: [{ name: 'main' }] }), 404, 'User "ghost" not found.');
    });

    it('a bad agent spec → 400 with validations and nothing written', async () => {
      const cases: unknown[] = [
        { owner: plain.username, name: 'half', agents: [{ name: 'ok' }, { name: 'bad name!' }] },
        { owner: plain.username, name: 'half', agents: [{ name: 'a' }, { name: 'a' }] },
        { owner: plain.username, name: 'half', agents: [{ name: 'a', auth: 'aws-instance-identity' }] },
        { owner: plain.username, name: 'half', agents: [{ name: 'a', apps: [{ slug: 'x' }, { slug: 'x' }] }] },
        { owner: plain.username, name: 'half', agents: [] },
        { owner: plain.username, name: 'half', agents: [{ name: 'a', startup_script_timeout_seconds: -1 }] },
        { owner: plain.username, name: 'half', agents: [{ name: 'a', colour: 'red' }] },
      ];
      for (const body of cases) {
        const err = await expectError(await post('/workspaces', body), 400, 'Validation failed.');
        expect(err.validations?.length, JSON.stringify(body)).toBeGreaterThan(0);
      }
      expect(await s.app.store.workspaces.byOwnerAndName(plain.id, 'half')).toBeUndefined();
    });

    it('a create that fails inside the transaction writes nothing (NUL byte in the second agent: PostgreSQL text refuses it)', async () => {
      const res = await post('/workspaces', { owner: plain.username, name: 'atomic', agents: [{ name: 'one' }, { name: 'two', startup_script: 'echo \u0000' }] });
      await res.text();
      if (backend === 'postgres') {
        expect(res.status).toBe(500);
        expect(await s.app.store.workspaces.byOwnerAndName(plain.id, 'atomic')).toBeUndefined();
        const agents = await s.app.store.db.selectFrom('workspace_agents').select('name').where('name', 'in', ['one', 'two']).execute();
        expect(agents).toEqual([]);
      } else {
        expect(res.status).toBe(201);
      }
    });

    it('a new build makes the old build non-latest: old agent coordinate → 403, new agent connects', async () => {
      const ws = await okJson<Provisioned>(await post('/workspaces', { owner: plain.username, name: 'rebuild', agents: [{ name: 'main' }] }), 201);
      const oldToken = ws.agents[0]!.token!;
      expect(await dialAgent(s, oldToken)).toEqual({ open: true });
      const b2 = await okJson<Provisioned>(await post(`/workspaces/${ws.workspace_id}/builds`, { agents: [{ name: 'main' }] }), 201);
      expect(b2).toMatchObject({ workspace_id: ws.workspace_id, build_number: 2 });
      expect(b2.agents[0]!.id).not.toBe(ws.agents[0]!.id);
      const refused = await dialAgent(s, oldToken);
      expect(refused).toMatchObject({ open: false, status: 403 });
      expect(JSON.parse((refused as { body: string }).body)).toEqual({ message: 'Agent trying to connect from non-latest build.', detail: 'build is outdated' });
      expect(await dialAgent(s, b2.agents[0]!.token!)).toEqual({ open: true });
      // Other /me routes keep working for the old agent (tokens are not tied to the latest build).
      expect((await s.request('/api/v2/workspaceagents/me/metadata', { token: oldToken })).status).toBe(200);
      const stop = await okJson<Provisioned>(await post(`/workspaces/${ws.workspace_id}/builds`, { transition: 'stop' }), 201);
      expect(stop).toMatchObject({ build_number: 3, agents: [] });
    });

    it('builds: unknown or non-UUID workspace → 404; bad transition → 400', async () => {
      const id = crypto.randomUUID();
      await expectError(await post(`/workspaces/${id}/builds`, {}), 404, `Workspace "${id}" not found.`);
      await expectError(await post('/workspaces/nope/builds', {}), 404, 'Workspace "nope" not found.');
      const ws = await okJson<Provisioned>(await post('/workspaces', { owner: plain.username, name: 'trans', agents: [{ name: 'main' }] }), 201);
      const err = await expectError(await post(`/workspaces/${ws.workspace_id}/builds`, { transition: 'delete' }), 400, 'Validation failed.');
      expect(err.validations?.[0]?.field).toBe('transition');
    });
  });

  describe('concurrent conflicting creates', () => {
    it('the same username created in parallel: one 201, the rest 409 (never 500)', async () => {
      const res = await Promise.all(Array.from({ length: 6 }, () => post('/users', { username: 'twin', email: 't@example.com' })));
      const codes = res.map((r) => r.status).sort();
      await Promise.all(res.map((r) => r.text()));
      expect(codes).toEqual([201, 409, 409, 409, 409, 409]);
    });
    it('the same workspace name created in parallel: one 201, the rest 409 (never 500)', async () => {
      const res = await Promise.all(Array.from({ length: 6 }, () => post('/workspaces', { owner: plain.username, name: 'twin', agents: [{ name: 'main' }] })));
      const codes = res.map((r) => r.status).sort();
      await Promise.all(res.map((r) => r.text()));
      expect(codes).toEqual([201, 409, 409, 409, 409, 409]);
    });
    it('builds created in parallel get distinct numbers (never 500)', async () => {
      const ws = await okJson<Provisioned>(await post('/workspaces', { owner: plain.username, name: 'parallel-builds', agents: [{ name: 'main' }] }), 201);
      const res = await Promise.all(Array.from({ length: 5 }, () => post(`/workspaces/${ws.workspace_id}/builds`, { agents: [{ name: 'main' }] })));
      const bodies = await Promise.all(res.map((r) => r.text()));
      expect(res.map((r) => r.status), bodies.join('\n')).toEqual([201, 201, 201, 201, 201]);
      const numbers = bodies.map((b) => (JSON.parse(b) as Provisioned).build_number).sort();
      expect(numbers).toEqual([2, 3, 4, 5, 6]);
    });
  });

  describe('git auth providers and links', () => {
    const provider = (id: string, extra: Record<string, unknown> = {}) => ({
      id,
      type: 'github',
      client_id: 'c',
      client_secret: 's',
      auth_url: 'https://github.com/login/oauth/authorize',
      token_url: 'https://github.com/login/oauth/access_token',
      regex: 'github\\.com',
      ...extra,
    });

    it('adds providers in order; duplicate → 409; invalid regex/type/url → 400', async () => {
      const a = await okJson<{ id: string; position: number }>(await post('/gitauth/providers', provider('gh-a')), 201);
      const b = await okJson<{ id: string; position: number }>(await post('/gitauth/providers', provider('gh-b')), 201);
      expect(b.position).toBe(a.position + 1);
      await expectError(await post('/gitauth/providers', provider('gh-a')), 409, 'Git auth provider "gh-a" already exists.');
      for (const [field, bad] of [
        ['regex', provider('r1', { regex: '(' })],
        ['type', provider('r2', { type: 'svn' })],
        ['token_url', provider('r3', { token_url: 'not a url' })],
        ['id', provider('Bad Id')],
      ] as const) {
        const err = await expectError(await post('/gitauth/providers', bad), 400, 'Validation failed.');
        expect(err.validations?.map((v) => v.field)).toContain(field);
      }
    });

    it('links: stored for a user by name; unknown provider or user → 404; bad expiry → 400', async () => {
      await post('/gitauth/providers', provider('gh-links'));
      const out = await okJson<{ provider_id: string; user_id: string }>(await post('/gitauth/links', { provider_id: 'gh-links', user: plain.username, access_token: 't', expiry: '2030-01-01T00:00:00+02:00' }), 201);
      expect(out).toEqual({ provider_id: 'gh-links', user_id: plain.id });
      expect((await s.app.store.gitauth.link('gh-links', plain.id))?.oauth_expiry).toBe('2029-12-31T22:00:00.000Z');
      await expectError(await post('/gitauth/links', { provider_id: 'missing', user: plain.username, access_token: 't' }), 404, 'Git auth provider "missing" not found.');
      await expectError(await post('/gitauth/links', { provider_id: 'gh-links', user: 'ghost', access_token: 't' }), 404, 'User "ghost" not found.');
      await expectError(await post('/gitauth/links', { provider_id: 'gh-links', user: plain.username, access_token: 't', expiry: 'tomorrow' }), 400, 'Validation failed.');
      await expectError(await post('/gitauth/links', { provider_id: 'gh-links', user: plain.username, access_token: '' }), 400, 'Validation failed.');
    });
  });
});
