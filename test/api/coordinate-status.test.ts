/**
 * End to end through the agent coordinate socket: the timestamps it writes drive the status of
 * GET /{agent} (§3), and the node it sends feeds the latency map (§2.11).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { okJson } from './util.js';

const hex = (c: string) => c.repeat(64);

describe.each(BACKENDS)('agent coordinate → GET agent (%s)', (backend) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ backend });
  });
  afterAll(async () => {
    await s.stop();
  });

  it('connected while the socket is open, with the latency map of its node; disconnected after it closes', async () => {
    const owner = await s.user();
    const b = await s.workspace(owner.username, [{ name: 'main' }]);
    const agent = b.agents[0]!;
    const get = async () => okJson<Record<string, unknown>>(await s.request(`/api/v2/workspaceagents/${agent.id}`, { token: owner.key }));
    const conn = await okJson<{ derp_map: { Regions: Record<string, { RegionName: string }> } }>(await s.request(`/api/v2/workspaceagents/${agent.id}/connection`, { token: owner.key }));
    const regionName = conn.derp_map.Regions['999']!.RegionName;

    const ws = new WebSocket(s.url.replace('http', 'ws') + '/api/v2/workspaceagents/me/coordinate', { headers: { Cookie: `coder_session_token=${agent.token}` } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const node = {
      id: 42,
      as_of: '2023-03-01T12:00:00Z',
      key: `nodekey:${hex('a')}`,
      disco: `discokey:${hex('b')}`,
      preferred_derp: 999,
      derp_latency: { '999-v4': 0.25, '5-v4': 0.5 },
      derp_forced_websockets: null,
      addresses: ['fd7a:115c:a1e0:49d6:b259:b7ac:b1b2:48f4/128'],
      allowed_ips: ['fd7a:115c:a1e0:49d6:b259:b7ac:b1b2:48f4/128'],
      endpoints: [],
    };
    ws.send(Buffer.from(JSON.stringify(node)), { binary: true });

    let body: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) {
      body = await get();
      if (body['status'] === 'connected' && body['latency']) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(body['status']).toBe('connected');
    expect(body['first_connected_at']).toBeTruthy();
    expect(body['last_connected_at']).toBeTruthy();
    expect(body).not.toHaveProperty('disconnected_at');
    expect(body['latency']).toEqual({
      [regionName]: { preferred: true, latency_ms: 250 },
      'Unnamed 5': { preferred: false, latency_ms: 500 },
    });

    ws.close(1000);
    for (let i = 0; i < 100; i++) {
      body = await get();
      if (body['status'] === 'disconnected') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(body['status']).toBe('disconnected');
    expect(body['disconnected_at']).toBeTruthy();
    expect(body).not.toHaveProperty('latency');
  });
});
