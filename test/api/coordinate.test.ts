/**
 * The coordinate routes end to end through the real server: auth before the upgrade, the agent
 * connection record (status), latency from the held node, and kicking agents of old builds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { V1Peer, eventually, nodeJson } from '../coordinator/helpers.js';

function wsUrl(s: TestServer, path: string, token: string): string {
  return `${s.url.replace('http', 'ws')}${path}?coder_session_token=${encodeURIComponent(token)}`;
}

/** Attempts an upgrade and returns the HTTP status and JSON body of a refusal. */
function refusal(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: { message: string; detail?: string } }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.close();
      reject(new Error('upgrade unexpectedly succeeded'));
    });
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text.trimEnd().split('\n').pop()!) as { message: string; detail?: string } }));
    });
    ws.on('error', () => {});
  });
}

describe.each(BACKENDS)('coordinate routes (%s)', (backend) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ backend, env: { TAILNETD_AGENT_CONNECTION_UPDATE_FREQUENCY_MS: '200' } });
  });
  afterAll(async () => {
    await s.stop();
  });

  const status = async (agentId: string, key: string): Promise<Record<string, unknown>> =>
    (await (await s.request(`/api/v2/workspaceagents/${agentId}`, { token: key })).json()) as Record<string, unknown>;

  it('connects an agent and a client, records the connection and reports latency', async () => {
    const owner = await s.user();
    const build = await s.workspace(owner.username, [{ name: 'main' }]);
    const agent = build.agents[0]!;
    const agentPeer = await V1Peer.connect(wsUrl(s, '/api/v2/workspaceagents/me/coordinate', agent.token!));
    agentPeer.send(nodeJson({ id: 42n, derp: 999 }));
    await eventually(async () => (await status(agent.id, owner.key))['status'] === 'connected', 'agent connected');
    const got = await status(agent.id, owner.key);
    expect(got['first_connected_at']).toBeTypeOf('string');
    expect(got['latency']).toEqual({ 'Unnamed 1': { preferred: false, latency_ms: 15 } });

    const client = await V1Peer.connect(wsUrl(s, `/api/v2/workspaceagents/${agent.id}/coordinate`, owner.key));
    await client.until(() => client.nodes.some((n) => n.includes('"id":42')), 'client sees agent node');
    await agentPeer.close();
    await eventually(async () => (await status(agent.id, owner.key))['status'] === 'disconnected', 'agent disconnected');
    await client.close();
  });

  it('refuses before the upgrade with coderd texts', async () => {
    const owner = await s.user();
    const stranger = await s.user();
    const build = await s.workspace(owner.username, [{ name: 'main' }]);
    const agent = build.agents[0]!;
    const noToken = await refusal(`${s.url.replace('http', 'ws')}/api/v2/workspaceagents/me/coordinate`);
    expect(noToken.status).toBe(401);
    expect(noToken.body.message).toBe('Cookie "coder_session_token" must be provided.');
    const badToken = await refusal(wsUrl(s, '/api/v2/workspaceagents/me/coordinate', 'not-a-uuid'));
    expect(badToken.body.message).toBe('Workspace agent token invalid.');
    const foreign = await refusal(wsUrl(s, `/api/v2/workspaceagents/${agent.id}/coordinate`, stranger.key));
    expect(foreign.status).toBe(404);
    const crossOrigin = await refusal(wsUrl(s, `/api/v2/workspaceagents/${agent.id}/coordinate`, owner.key), { Origin: 'https://evil.example' });
    expect(crossOrigin.status).toBe(403);
  });

  it('kicks the agent of a superseded build and refuses it afterwards', async () => {
    const owner = await s.user();
    const build = await s.workspace(owner.username, [{ name: 'main' }]);
    const agent = build.agents[0]!;
    const peer = await V1Peer.connect(wsUrl(s, '/api/v2/workspaceagents/me/coordinate', agent.token!));
    peer.send(nodeJson());
    await s.provisioning.createBuild(build.workspace_id, { transition: 'start', agents: [] });
    const closed = await peer.closed;
    expect(closed.code).toBe(1001);
    const again = await refusal(wsUrl(s, '/api/v2/workspaceagents/me/coordinate', agent.token!));
    expect(again.status).toBe(403);
    expect(again.body).toEqual({ message: 'Agent trying to connect from non-latest build.', detail: 'build is outdated' });
  });
});
