/**
 * Two full tailnetd replicas configured through the environment for a Redis
 * Cluster (TAILNETD_REDIS_URL = one seed node, TAILNETD_REDIS_CLUSTER=true)
 * on a private 3-master cluster: both become ready, an agent on A and a
 * client on B see each other's nodes, DERP mesh discovery works on the
 * cluster, and after every node drops its pub/sub clients both replicas
 * resubscribe and keep delivering.
 */
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DerpClient, generatePrivateKey } from '../../src/derp/index.js';
import { V1Peer, eventually, nodeJson } from '../coordinator/helpers.js';
import { createBackend, type BackendHandle } from '../helpers/backends.js';
import { RedisCluster } from '../helpers/redis-cluster.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

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

const wsUrl = (s: TestServer, path: string, token: string): string => `${s.url.replace('http', 'ws')}${path}?coder_session_token=${encodeURIComponent(token)}`;

describe('replicas on a Redis Cluster (TAILNETD_REDIS_CLUSTER)', { timeout: 60_000 }, () => {
  let rc: RedisCluster;
  let backend: BackendHandle;
  let a: TestServer;
  let b: TestServer;
  let prefix: string;

  beforeAll(async () => {
    rc = await RedisCluster.start(3);
    backend = await createBackend('postgres');
    prefix = `t${randomBytes(4).toString('hex')}:`;
    const meshKey = randomBytes(16).toString('hex');
    const [portA, portB] = [await freePort(), await freePort()];
    const env = (port: number): Record<string, string> => ({
      TAILNETD_HTTP_ADDRESS: `127.0.0.1:${port}`,
      TAILNETD_REDIS_URL: rc.url,
      TAILNETD_REDIS_CLUSTER: 'true',
      TAILNETD_REDIS_PREFIX: prefix,
      TAILNETD_SHARD_HEARTBEAT_MS: '500',
      TAILNETD_DERP_MESH_KEY: meshKey,
      TAILNETD_DERP_RELAY_URL: `http://127.0.0.1:${port}`,
    });
    a = await startTestServer({ backend: 'postgres', joinBackend: backend, env: env(portA) });
    b = await startTestServer({ backend: 'postgres', joinBackend: backend, env: env(portB) });
  }, 60_000);

  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await backend?.cleanup();
    await rc?.stop();
  });

  const ready = async (s: TestServer): Promise<boolean> => (await s.request('/readyz')).status === 200;

  it('both replicas are ready and their shard buses are sharded subscribers of the bus channel', async () => {
    await eventually(async () => (await ready(a)) && (await ready(b)), 'both replicas ready', 10_000);
    const owner = await rc.ownerOf(`${prefix}bus`);
    const n = (await rc.onNode(owner.port, (r) => r.call('PUBSUB', 'SHARDNUMSUB', `${prefix}bus`))) as unknown[];
    expect(Number(n[1])).toBe(2);
  });

  it('joins a client on B to an agent on A, also after CLIENT KILL TYPE pubsub on every node', async () => {
    const owner = await a.user();
    const build = await a.workspace(owner.username, [{ name: 'main' }]);
    const agent = build.agents[0]!;
    const agentPeer = await V1Peer.connect(wsUrl(a, '/api/v2/workspaceagents/me/coordinate', agent.token!));
    agentPeer.send(nodeJson({ id: 8101n, derp: 999 }));
    const client = await V1Peer.connect(wsUrl(b, `/api/v2/workspaceagents/${agent.id}/coordinate`, owner.key));
    await client.until(() => client.nodes.some((x) => x.includes('"id":8101')), 'client on B sees the agent node from A', 10_000);
    client.send(nodeJson({ id: 8102n, derp: 999 }));
    await agentPeer.until(() => agentPeer.nodes.some((x) => x.includes('"id":8102')), 'agent on A sees the client node from B', 10_000);

    const killed = await rc.killPubsubClients();
    expect(killed.reduce((s, k) => s + k, 0)).toBeGreaterThanOrEqual(2);
    await eventually(async () => (await ready(a)) && (await ready(b)), 'both replicas ready again', 15_000);
    agentPeer.send(nodeJson({ id: 8103n, derp: 999 }));
    await client.until(() => client.nodes.some((x) => x.includes('"id":8103')), 'client on B sees the agent update after the kill', 10_000);
    await client.close();
    await agentPeer.close();
  });

  it('relays DERP packets between replicas found through the cluster (mesh discovery)', async () => {
    const c1 = await DerpClient.connect(`${a.url}/derp`, generatePrivateKey());
    const c2 = await DerpClient.connect(`${b.url}/derp`, generatePrivateKey());
    try {
      let delivered: Buffer | null = null;
      c2.onPacket = (src, data) => {
        if (src.equals(c1.publicKey)) delivered = Buffer.from(data);
      };
      const payload = Buffer.from('across the mesh, found on a cluster');
      await eventually(() => {
        if (delivered) return true;
        c1.send(c2.publicKey, payload);
        return false;
      }, 'packet from A reaches B', 15_000);
      expect(delivered).toEqual(payload);
    } finally {
      c1.close();
      c2.close();
    }
  });
});
