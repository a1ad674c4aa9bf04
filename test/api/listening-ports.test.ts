/**
 * /listening-ports refusals (coder-agents-api §2.14), both store engines, and
 * the pure filters (ignore list, app ports).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { appPort, IGNORED_PORTS } from '../../src/api/routes/listening-ports.js';

describe('listening-ports filters', () => {
  it('parses explicit app URL ports like url.Parse + u.Port()', () => {
    expect(appPort('http://localhost:8080')).toBe(8080);
    expect(appPort('http://[::1]:3000/x')).toBe(3000);
    expect(appPort('http://user:pw@host:9000/')).toBe(9000);
    expect(appPort('http://localhost/')).toBeNull();
    expect(appPort('http://localhost:0')).toBeNull();
    expect(appPort('http://localhost:70000')).toBeNull();
    expect(appPort('not a url')).toBeNull();
  });
  it('ignores the well-known service ports and 0–8', () => {
    for (const p of [0, 8, 22, 5432, 27017]) expect(IGNORED_PORTS.has(p)).toBe(true);
    expect(IGNORED_PORTS.has(9)).toBe(false);
    expect(IGNORED_PORTS.has(8080)).toBe(false);
  });
});

describe.each(BACKENDS)('GET /workspaceagents/{agent}/listening-ports refusals (%s)', (backend) => {
  let s: TestServer;
  let owner: { key: string; username: string };
  let agent: string;

  beforeAll(async () => {
    s = await startTestServer({ backend });
    owner = await s.user();
    agent = (await s.workspace(owner.username, [{ name: 'a' }])).agents[0]!.id;
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('401 without a session, 404 for another user', async () => {
    expect((await s.request(`/api/v2/workspaceagents/${agent}/listening-ports`)).status).toBe(401);
    const stranger = await s.user();
    const r = await s.request(`/api/v2/workspaceagents/${agent}/listening-ports`, { token: stranger.key });
    expect(r.status).toBe(404);
  });

  it('400 with the status text while the agent is not connected', async () => {
    const r = await s.request(`/api/v2/workspaceagents/${agent}/listening-ports`, { token: owner.key });
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ message: 'Agent state is "connecting", it must be in the "connected" state.' });
  });
});
