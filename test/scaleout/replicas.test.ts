/**
 * Two full tailnetd replicas (App instances) on one PostgreSQL schema and one Redis: an agent
 * on replica A and a client on replica B see each other's nodes; B reports the agent's status
 * from the shared store and its latency from the shard mirror; DERP clients on A and B reach
 * each other through the replicas' mesh.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { createBackend, type BackendHandle } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { V1Peer, eventually, nodeJson } from '../coordinator/helpers.js';
import { DerpClient, generatePrivateKey } from '../../src/derp/index.js';
import WebSocket from 'ws';
import { startFakeAgent } from '../peer/fake-agent.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

const wsUrl = (s: TestServer, path: string, token: string): string =>
  `${s.url.replace('http', 'ws')}${path}?coder_session_token=${encodeURIComponent(token)}`;

describe('replicas sharing PostgreSQL and Redis', () => {
  let backend: BackendHandle;
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    backend = await createBackend('postgres');
    const prefix = `t${randomBytes(4).toString('hex')}:`;
    const meshKey = randomBytes(16).toString('hex');
    const [portA, portB] = [await freePort(), await freePort()];
    const env = (port: number): Record<string, string> => ({
      TAILNETD_HTTP_ADDRESS: `127.0.0.1:${port}`,
      TAILNETD_REDIS_URL: 'redis://127.0.0.1:6379',
      TAILNETD_REDIS_PREFIX: prefix,
      TAILNETD_SHARD_HEARTBEAT_MS: '500',
      TAILNETD_DERP_MESH_KEY: meshKey,
      TAILNETD_DERP_RELAY_URL: `http://127.0.0.1:${port}`,
      TAILNETD_AGENT_CONNECTION_UPDATE_FREQUENCY_MS: '300',
    });
    a = await startTestServer({ backend: 'postgres', joinBackend: backend, env: env(portA) });
    b = await startTestServer({ backend: 'postgres', joinBackend: backend, env: env(portB) });
  });

  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await backend?.cleanup();
  });

  it('joins a client on B to an agent on A, and B reports the agent connected with its latency', async () => {
    const owner = await a.user();
    const build = await a.workspace(owner.username, [{ name: 'main' }]);
    const agent = build.agents[0]!;
    const agentPeer = await V1Peer.connect(wsUrl(a, '/api/v2/workspaceagents/me/coordinate', agent.token!));
    agentPeer.send(nodeJson({ id: 7001n, derp: 999 }));
    const client = await V1Peer.connect(wsUrl(b, `/api/v2/workspaceagents/${agent.id}/coordinate`, owner.key));
    await client.until(() => client.nodes.some((n) => n.includes('"id":7001')), 'client on B sees the agent node from A', 10_000);
    client.send(nodeJson({ id: 7002n, derp: 999 }));
    await agentPeer.until(() => agentPeer.nodes.some((n) => n.includes('"id":7002')), 'agent on A sees the client node from B', 10_000);

    await eventually(async () => {
      const res = await b.request(`/api/v2/workspaceagents/${agent.id}`, { token: owner.key });
      const body = (await res.json()) as { status: string; latency?: Record<string, unknown> };
      return body.status === 'connected' && body.latency !== undefined;
    }, 'B shows the agent connected, with latency from the mirrored node', 10_000);
    await client.close();
    await agentPeer.close();
  });

  it('serves /pty on replica B for an agent coordinated and homed on replica A (server tailnet across shards and the DERP mesh)', async () => {
    const owner = await a.user();
    const build = await a.workspace(owner.username, [{ name: 'main' }]);
    const agentId = build.agents[0]!.id;
    const agent = await startFakeAgent(a.url, build.agents[0]!.token!);
    try {
      await eventually(async () => {
        const r = await b.request(`/api/v2/workspaceagents/${agentId}`, { token: owner.key });
        return ((await r.json()) as { status: string }).status === 'connected';
      }, 'B sees the agent connected', 10_000);
      const id = crypto.randomUUID();
      const ws = new WebSocket(`${b.url.replace('http', 'ws')}/api/v2/workspaceagents/${agentId}/pty?reconnect=${id}&coder_session_token=${owner.key}`);
      const chunks: Buffer[] = [];
      ws.on('message', (d: Buffer) => chunks.push(d));
      ws.on('error', () => {});
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      const frame = Buffer.from(JSON.stringify({ data: 'echo across replicas\r' }));
      ws.send(frame, { binary: true });
      // The fake agent echoes every byte: the init header written by B, then the frame.
      await eventually(() => Buffer.concat(chunks).includes(frame), 'the agent on A echoes through B', 20_000);
      expect(Buffer.concat(chunks).includes(Buffer.from(`"ID":"${id}"`))).toBe(true);
      ws.close();
    } finally {
      agent.close();
    }
  });

  it('relays DERP packets between clients homed on different replicas (mesh)', async () => {
    const c1 = await DerpClient.connect(`${a.url}/derp`, generatePrivateKey());
    const c2 = await DerpClient.connect(`${b.url}/derp`, generatePrivateKey());
    try {
      const got = new Promise<Buffer>((resolve) => {
        c2.onPacket = (src, data) => {
          if (src.equals(c1.publicKey)) resolve(Buffer.from(data));
        };
      });
      // The mesh links come up asynchronously; resend until the packet crosses.
      const payload = Buffer.from('across the mesh');
      let delivered: Buffer | null = null;
      void got.then((d) => (delivered = d));
      await eventually(() => {
        if (delivered) return true;
        c1.send(c2.publicKey, payload);
        return false;
      }, 'packet from A reaches B', 10_000);
      expect(delivered).toEqual(payload);
    } finally {
      c1.close();
      c2.close();
    }
  });
});
