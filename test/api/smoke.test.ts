import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe.each(BACKENDS)('server smoke (%s)', (backend) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ backend });
  });
  afterAll(async () => {
    await s.stop();
  });

  it('serves metadata to a provisioned agent and the agent to its owner', async () => {
    const owner = await s.user();
    const build = await s.workspace(owner.username, [{ name: 'main' }]);
    const agent = build.agents[0]!;
    const meta = await s.request('/api/v2/workspaceagents/me/metadata', { token: agent.token! });
    expect(meta.status).toBe(200);
    const body = (await meta.json()) as { derpmap: { Regions: Record<string, unknown> } };
    expect(Object.keys(body.derpmap.Regions)).toContain('999');
    const got = await s.request(`/api/v2/workspaceagents/${agent.id}`, { token: owner.key });
    expect(got.status).toBe(200);
    expect(((await got.json()) as { status: string }).status).toBe('connecting');
  });

  it('answers readiness and health', async () => {
    expect((await s.request('/healthz')).status).toBe(200);
    expect((await s.request('/readyz')).status).toBe(200);
  });
});
