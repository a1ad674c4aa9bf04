/**
 * coder-agents-api.md §1.6 on every WebSocket route: the route's own checks answer JSON first;
 * then the WebSocket library's Accept refuses a request that is not a valid handshake with Go's
 * http.Error text (426 for a missing upgrade), and coderd's JSON error follows that text in the
 * same body (its status write comes too late). Cross-origin browsers get the same treatment (403).
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { expectError, SIGNED_OUT } from './util.js';

const NO_UPGRADE = 'WebSocket protocol violation: Connection header "keep-alive" does not contain Upgrade';

/** Status, headers and body of a GET with exactly these headers (Node's client, so Upgrade requests stay plain HTTP/1.1). */
function rawGet(base: string, path: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(path, base), { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('upgrade', () => reject(new Error('upgrade unexpectedly succeeded')));
    req.on('error', reject);
    req.end();
  });
}

function expectRefusal(body: string, text: string): void {
  expect(body).toBe(`${text}\n${JSON.stringify({ message: 'Failed to accept websocket.', detail: `failed to accept WebSocket connection: ${text}` })}\n`);
}

describe.each(BACKENDS)('WebSocket accept step (%s)', (backend) => {
  let s: TestServer;
  let owner: { key: string; username: string };
  let agent: { id: string; token: string };
  beforeAll(async () => {
    s = await startTestServer({ backend });
    owner = await s.user();
    const b = await s.workspace(owner.username, [{ name: 'main' }]);
    agent = { id: b.agents[0]!.id, token: b.agents[0]!.token! };
  });
  afterAll(async () => {
    await s.stop();
  });

  const routes = () => [
    { name: 'agent coordinate (v1)', path: '/api/v2/workspaceagents/me/coordinate', token: agent.token },
    { name: 'client coordinate (v1)', path: `/api/v2/workspaceagents/${agent.id}/coordinate`, token: owner.key },
    { name: 'client coordinate (v2)', path: `/api/v2/workspaceagents/${agent.id}/coordinate?version=2.0`, token: owner.key },
    { name: 'agent rpc', path: '/api/v2/workspaceagents/me/rpc?version=2.0', token: agent.token },
    { name: 'logs?follow', path: `/api/v2/workspaceagents/${agent.id}/logs?follow`, token: owner.key },
  ];

  it('a plain GET that passes the route checks: 426 text/plain from the library, coderd JSON appended', async () => {
    for (const r of routes()) {
      const res = await s.request(r.path, { token: r.token, headers: { Connection: 'keep-alive' } });
      expect(res.status, r.name).toBe(426);
      expect(res.headers.get('content-type'), r.name).toBe('text/plain; charset=utf-8');
      expect(res.headers.get('x-content-type-options'), r.name).toBe('nosniff');
      expect(res.headers.get('upgrade'), r.name).toBe('websocket');
      expectRefusal(await res.text(), NO_UPGRADE);
    }
  });

  it('the route checks come first: a plain GET without a session is the usual 401 JSON, a bad version the usual 400', async () => {
    await expectError(await s.request(`/api/v2/workspaceagents/${agent.id}/coordinate`), 401, SIGNED_OUT);
    await expectError(await s.request('/api/v2/workspaceagents/me/rpc?version=9.0', { token: agent.token }), 400, 'Unknown or unsupported API version');
    // Without follow the logs route is a plain JSON read.
    expect((await s.request(`/api/v2/workspaceagents/${agent.id}/logs`, { token: owner.key })).status).toBe(200);
  });

  it('logs without follow never upgrade: a WebSocket handshake gets the JSON list (200)', async () => {
    const hs = { 'Coder-Session-Token': owner.key, Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' };
    const res = await rawGet(s.url, `/api/v2/workspaceagents/${agent.id}/logs`, hs);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.body).toBe('[]\n');
  });

  it('upgrade requests the library refuses: other Upgrade protocol (426), wrong version (400), missing key (400)', async () => {
    const path = `/api/v2/workspaceagents/${agent.id}/coordinate`;
    const base = { 'Coder-Session-Token': owner.key, Connection: 'Upgrade' };
    const h2c = await rawGet(s.url, path, { ...base, Upgrade: 'h2c' });
    expect(h2c.status).toBe(426);
    expect(h2c.headers['upgrade']).toBe('websocket');
    expectRefusal(h2c.body, 'WebSocket protocol violation: Upgrade header "h2c" does not contain websocket');
    const v12 = await rawGet(s.url, path, { ...base, Upgrade: 'websocket', 'Sec-WebSocket-Version': '12', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' });
    expect(v12.status).toBe(400);
    expect(v12.headers['sec-websocket-version']).toBe('13');
    expectRefusal(v12.body, 'unsupported WebSocket protocol version (only 13 is supported): "12"');
    const noKey = await rawGet(s.url, path, { ...base, Upgrade: 'websocket', 'Sec-WebSocket-Version': '13' });
    expect(noKey.status).toBe(400);
    expectRefusal(noKey.body, 'WebSocket protocol violation: missing Sec-WebSocket-Key');
  });

  it('cross-origin: checked by Accept after auth (no session → 401 JSON; signed in → 403 text + JSON)', async () => {
    const hs = { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', Origin: 'https://evil.example' };
    for (const r of routes()) {
      const anon = await rawGet(s.url, r.path, hs);
      expect(anon.status, r.name).toBe(401);
      expect(anon.headers['content-type'], r.name).toBe('application/json; charset=utf-8');
      const signed = await rawGet(s.url, r.path, { ...hs, 'Coder-Session-Token': r.token });
      expect(signed.status, r.name).toBe(403);
      expectRefusal(signed.body, `request Origin "https://evil.example" is not authorized for Host "${new URL(s.url).host}"`);
    }
  });
});
