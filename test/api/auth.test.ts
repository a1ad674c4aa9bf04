/**
 * Authentication and authorization (coder-agents-api §1.1–§1.5): token lookup order, the error
 * envelope as Go encodes it, agent-token and user-session 401 texts, read/execute and path params.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { AGENT_404, AGENT_NOT_AUTHORIZED_DETAIL, expectError, okJson, SIGNED_OUT } from './util.js';

const META = '/api/v2/workspaceagents/me/metadata';

/** Status and body of a WebSocket upgrade that the server refuses. */
function refusedUpgrade(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('open', () => {
      ws.close();
      reject(new Error('upgrade unexpectedly accepted'));
    });
    ws.on('error', () => undefined);
  });
}

describe.each(BACKENDS)('auth (%s)', (backend) => {
  let s: TestServer;
  let owner: { id: string; username: string; key: string };
  let other: { id: string; username: string; key: string };
  let agent: { id: string; token: string };

  beforeAll(async () => {
    s = await startTestServer({ backend });
    owner = await s.user();
    other = await s.user();
    const build = await s.workspace(owner.username, [{ name: 'main' }]);
    agent = { id: build.agents[0]!.id, token: build.agents[0]!.token! };
  });
  afterAll(async () => {
    await s.stop();
  });

  describe('token lookup order: cookie, query, header', () => {
    it('accepts each transport alone', async () => {
      expect((await s.request(META, { headers: { Cookie: `coder_session_token=${agent.token}` } })).status).toBe(200);
      expect((await s.request(`${META}?coder_session_token=${agent.token}`)).status).toBe(200);
      expect((await s.request(META, { headers: { 'Coder-Session-Token': agent.token } })).status).toBe(200);
    });
    it('cookie wins over query and header', async () => {
      const bad = '00000000-0000-4000-8000-000000000000';
      const res = await s.request(`${META}?coder_session_token=${agent.token}`, {
        headers: { Cookie: `other=1; coder_session_token=${bad}`, 'Coder-Session-Token': agent.token },
      });
      await expectError(res, 401, 'Workspace agent not authorized.', AGENT_NOT_AUTHORIZED_DETAIL);
      const ok = await s.request(`${META}?coder_session_token=${bad}`, { headers: { Cookie: `coder_session_token=${agent.token}`, 'Coder-Session-Token': bad } });
      expect(ok.status).toBe(200);
    });
    it('query wins over header', async () => {
      const res = await s.request(`${META}?coder_session_token=not-a-uuid`, { headers: { 'Coder-Session-Token': agent.token } });
      await expectError(res, 401, 'Workspace agent token invalid.', 'An agent token must be a valid UUIDv4. (len 10)');
      const ok = await s.request(`${META}?coder_session_token=${agent.token}`, { headers: { 'Coder-Session-Token': 'nope' } });
      expect(ok.status).toBe(200);
    });
    it('user sessions use the same order', async () => {
      const res = await s.request(`/api/v2/workspaceagents/${agent.id}`, { headers: { Cookie: `coder_session_token=${owner.key}` } });
      expect(res.status).toBe(200);
      const q = await s.request(`/api/v2/workspaceagents/${agent.id}?coder_session_token=${owner.key}`, { headers: { 'Coder-Session-Token': 'bad' } });
      expect(q.status).toBe(200);
    });
  });

  describe('agent token 401s (§1.3)', () => {
    it('missing token', async () => {
      await expectError(await s.request(META), 401, 'Cookie "coder_session_token" must be provided.');
    });
    it('token that is not a UUID reports its length', async () => {
      await expectError(await s.request(META, { token: 'abc' }), 401, 'Workspace agent token invalid.', 'An agent token must be a valid UUIDv4. (len 3)');
      // A user API key is not an agent token.
      await expectError(await s.request(META, { token: owner.key }), 401, 'Workspace agent token invalid.', `An agent token must be a valid UUIDv4. (len ${owner.key.length})`);
    });
    it('unknown token', async () => {
      await expectError(await s.request(META, { token: crypto.randomUUID() }), 401, 'Workspace agent not authorized.', AGENT_NOT_AUTHORIZED_DETAIL);
    });
    it('upper-case spelling of a valid token is the same token', async () => {
      expect((await s.request(META, { token: agent.token.toUpperCase() })).status).toBe(200);
    });
    it('every spelling Go uuid.Parse accepts is the same token (urn:uuid:, braces, bare hex); near misses are invalid', async () => {
      for (const spelling of [`urn:uuid:${agent.token}`, `URN:UUID:${agent.token.toUpperCase()}`, `{${agent.token}}`, agent.token.replaceAll('-', '')]) {
        expect((await s.request(META, { token: spelling })).status, spelling).toBe(200);
      }
      for (const bad of [`[${agent.token}]`, `urn:uuix:${agent.token}`, agent.token.replaceAll('-', '').replace(/.$/, 'g'), `${agent.token.slice(0, 8)}_${agent.token.slice(9)}`]) {
        await expectError(await s.request(META, { token: bad }), 401, 'Workspace agent token invalid.', `An agent token must be a valid UUIDv4. (len ${bad.length})`);
      }
    });
  });

  describe('user session 401s (§1.4)', () => {
    const path = () => `/api/v2/workspaceagents/${agent.id}`;
    it('missing token', async () => {
      await expectError(await s.request(path()), 401, SIGNED_OUT, 'Cookie "coder_session_token" or query parameter must be provided.');
    });
    it('bad format', async () => {
      await expectError(await s.request(path(), { token: 'nodash' }), 401, SIGNED_OUT, 'Invalid API key format: incorrect amount of API key parts, expected 2 got 1');
      await expectError(await s.request(path(), { token: 'short-secret' }), 401, SIGNED_OUT, 'Invalid API key format: invalid API key ID length, expected 10 got 5');
      await expectError(await s.request(path(), { token: `abcdefghij-${'s'.repeat(21)}` }), 401, SIGNED_OUT, 'Invalid API key format: invalid API key secret length, expected 22 got 21');
      await expectError(await s.request(path(), { token: `${owner.key}-x` }), 401, SIGNED_OUT, 'Invalid API key format: incorrect amount of API key parts, expected 2 got 3');
    });
    it('unknown key id', async () => {
      await expectError(await s.request(path(), { token: `zzzzzzzzzz-${'a'.repeat(22)}` }), 401, SIGNED_OUT, 'API key is invalid.');
    });
    it('wrong secret', async () => {
      const id = owner.key.split('-')[0]!;
      await expectError(await s.request(path(), { token: `${id}-${'a'.repeat(22)}` }), 401, SIGNED_OUT, 'API key secret is invalid.');
    });
    it('expired key', async () => {
      const u = await s.user();
      const id = u.key.split('-')[0]!;
      const expiresAt = new Date(Date.UTC(2023, 2, 31, 12, 0, 0, 250));
      await s.app.store.users.touchApiKey(id, { expires_at: expiresAt.toISOString() });
      // Go prints time.Time with String(): "2006-01-02 15:04:05.999999999 -0700 MST".
      await expectError(await s.request(path(), { token: u.key }), 401, SIGNED_OUT, 'API key expired at "2023-03-31 12:00:00.25 +0000 UTC".');
    });
    it('suspended user', async () => {
      const u = await s.user();
      await s.app.store.users.setStatus(u.id, 'suspended');
      const body = await expectError(await s.request(path(), { token: u.key }), 401, 'User is not active (status = "suspended"). Contact an admin to reactivate your account.');
      expect(body.detail).toBeUndefined();
    });
  });

  describe('authorization (§1.5)', () => {
    it('owner and site admin can read the agent and its connection info', async () => {
      for (const key of [owner.key, s.admin.key]) {
        const a = await okJson<{ id: string }>(await s.request(`/api/v2/workspaceagents/${agent.id}`, { token: key }));
        expect(a.id).toBe(agent.id);
        const c = await okJson<{ derp_map: unknown }>(await s.request(`/api/v2/workspaceagents/${agent.id}/connection`, { token: key }));
        expect(c.derp_map).toBeTruthy();
      }
    });
    it('another user gets the agent-param 404 on read routes', async () => {
      await expectError(await s.request(`/api/v2/workspaceagents/${agent.id}`, { token: other.key }), 404, AGENT_404);
      await expectError(await s.request(`/api/v2/workspaceagents/${agent.id}/connection`, { token: other.key }), 404, AGENT_404);
    });
    it('an unknown agent id looks the same as a foreign one', async () => {
      await expectError(await s.request(`/api/v2/workspaceagents/${crypto.randomUUID()}`, { token: owner.key }), 404, AGENT_404);
    });
    it('another user cannot execute (client coordinate): 404 before the upgrade', async () => {
      const wsUrl = s.url.replace('http', 'ws') + `/api/v2/workspaceagents/${agent.id}/coordinate`;
      const refused = await refusedUpgrade(wsUrl, { 'Coder-Session-Token': other.key });
      expect(refused.status).toBe(404);
      expect(JSON.parse(refused.body)).toEqual({ message: AGENT_404 });
    });
    it('the owner can execute (client coordinate upgrades)', async () => {
      const wsUrl = s.url.replace('http', 'ws') + `/api/v2/workspaceagents/${agent.id}/coordinate`;
      const ws = new WebSocket(wsUrl, { headers: { Cookie: `coder_session_token=${owner.key}` } });
      await new Promise<void>((resolve, reject) => {
        ws.on('open', () => resolve());
        ws.on('error', reject);
      });
      ws.close();
    });
  });

  describe('path parameter', () => {
    it('non-UUID agent id → 400 Invalid UUID', async () => {
      await expectError(await s.request('/api/v2/workspaceagents/x', { token: owner.key }), 400, 'Invalid UUID "x".');
      await expectError(await s.request('/api/v2/workspaceagents/x/connection', { token: owner.key }), 400, 'Invalid UUID "x".');
    });
    it('error bodies are Go-encoded: < > & escaped as \\u003c \\u003e \\u0026, trailing newline', async () => {
      const res = await s.request('/api/v2/workspaceagents/%3Cb%3E%26', { token: owner.key });
      const text = await res.text();
      expect(res.status).toBe(400);
      expect(text).toBe('{"message":"Invalid UUID \\"\\u003cb\\u003e\\u0026\\".","detail":"invalid UUID length: 4"}\n');
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    });
  });
});
