/**
 * Fencing and graceful drain reach v2 peers as they reach v1 sockets: two full tailnetd
 * replicas (App) on one PostgreSQL schema and one Redis prefix; a v2 agent (/me/rpc), a v2
 * client (/{agent}/coordinate?version=2.0) and a v1 client sit on replica A.
 *
 *   fencing: A's Redis goes through a TCP proxy that is shut; A cannot publish for longer than
 *            the heartbeat window, fences, and closes all three with 1012; a new v2 connection
 *            to A is refused with 1012.
 *   drain:   A stops gracefully (GOODBYE, then 1012 to every coordinate connection).
 *
 * In both, the v2 peers reconnect to replica B and see each other's nodes again, and A counts
 * the closes in tailnetd_shard_restart_closes_total with the same labels for v1 and v2.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { Counter } from 'prom-client';
import * as tp from '../../src/rpc/proto/tailnet.js';
import { RESTART_REASON, WS_SERVICE_RESTART } from '../../src/coordinator/shard/shard.js';
import { createBackend, type BackendHandle } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { V1Peer, eventually, nodeJson } from '../coordinator/helpers.js';
import { RpcClient, type CoordinateCall } from '../v2/client.js';
import { agentPrefix, idBytes, protoNode } from '../v2/fixtures.js';

const RPC = '/api/v2/workspaceagents/me/rpc';
const coordPath = (agentId: string): string => `/api/v2/workspaceagents/${agentId}/coordinate`;
const HB_MS = 500;

/** Fails with `what` instead of the test timeout when `p` does not settle in `ms`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

describe('v2 peers on a fenced or draining shard', { timeout: 60_000 }, () => {
  let backend: BackendHandle;
  let b: TestServer;
  const prefix = `tailnetd:test:${randomBytes(6).toString('hex')}:`;
  const replicaEnv = (redisUrl: string): Record<string, string> => ({
    TAILNETD_REDIS_URL: redisUrl,
    TAILNETD_REDIS_PREFIX: prefix,
    TAILNETD_SHARD_HEARTBEAT_MS: String(HB_MS),
    TAILNETD_AGENT_CONNECTION_UPDATE_FREQUENCY_MS: '300',
  });
  const startReplica = (redisUrl: string): Promise<TestServer> => startTestServer({ backend: 'postgres', joinBackend: backend, env: replicaEnv(redisUrl) });

  beforeAll(async () => {
    backend = await createBackend('postgres');
    b = await startReplica('redis://127.0.0.1:6379');
  });
  afterAll(async () => {
    await b?.stop();
    await backend?.cleanup();
  });

  interface V2Peer {
    rpc: RpcClient;
    coord: CoordinateCall;
    node: tp.Node;
  }

  const agentOn = async (s: TestServer, agent: { id: string; token: string }, node: tp.Node): Promise<V2Peer> => {
    const rpc = await RpcClient.dial(s.url, RPC, { token: agent.token, query: { version: '2.4' } });
    const coord = await rpc.coordinate();
    await coord.send({ updateSelf: { node } });
    return { rpc, coord, node };
  };
  const clientOn = async (s: TestServer, agentId: string, key: string, node: tp.Node): Promise<V2Peer> => {
    const rpc = await RpcClient.dial(s.url, coordPath(agentId), { token: key, query: { version: '2.0' } });
    const coord = await rpc.coordinate();
    await coord.send({ addTunnel: { id: idBytes(agentId) } });
    await coord.send({ updateSelf: { node } });
    return { rpc, coord, node };
  };
  const sameKey = (a: Uint8Array | undefined, b: Uint8Array): boolean => a !== undefined && Buffer.from(a).equals(Buffer.from(b));

  /** The client sees the agent's node and the agent sees some peer with the client's node key. */
  const converged = async (agent: V2Peer, agentId: string, client: V2Peer): Promise<void> => {
    const agentIdBytes = Buffer.from(idBytes(agentId));
    await client.coord.until((u) => Buffer.from(u.id).equals(agentIdBytes) && u.kind === tp.PeerUpdateKind.NODE && sameKey(u.node?.key, agent.node.key), 10_000);
    await agent.coord.until((u) => u.kind === tp.PeerUpdateKind.NODE && sameKey(u.node?.key, client.node.key), 10_000);
  };

  const restartCloses = async (s: TestServer): Promise<Record<string, number>> => {
    const m = s.app.registry.getSingleMetric('tailnetd_shard_restart_closes_total') as Counter | undefined;
    const out: Record<string, number> = {};
    for (const v of (await m?.get())?.values ?? []) out[`${String(v.labels.protocol)}/${String(v.labels.reason)}`] = v.value;
    return out;
  };

  const setup = async (a: TestServer): Promise<{ agentId: string; agentToken: string; key: string; agent: V2Peer; client: V2Peer; v1: V1Peer }> => {
    const owner = await a.user();
    const build = await a.workspace(owner.username, [{ name: 'main' }]);
    const agentId = build.agents[0]!.id;
    const agentToken = build.agents[0]!.token!;
    const agent = await agentOn(a, { id: agentId, token: agentToken }, protoNode({ address: agentPrefix(agentId) }));
    const client = await clientOn(a, agentId, owner.key, protoNode());
    await converged(agent, agentId, client);
    const v1 = await V1Peer.connect(`${a.url.replace('http', 'ws')}${coordPath(agentId)}?coder_session_token=${encodeURIComponent(owner.key)}`);
    v1.send(nodeJson());
    await v1.until(() => v1.nodes.length > 0, 'v1 client sees the agent node');
    return { agentId, agentToken, key: owner.key, agent, client, v1 };
  };

  it('fencing closes the v2 agent and client with 1012 (like v1), refuses new v2 connections, and they converge on another replica', async () => {
    const proxy = await TcpProxy.start('127.0.0.1', 6379);
    const a = await startReplica(`redis://127.0.0.1:${proxy.port}`);
    try {
      const { agentId, agentToken, key, agent, client, v1 } = await setup(a);
      // Redis unreachable from A only (connections cut, new ones refused); B keeps working.
      await proxy.close();
      const [agentClosed, clientClosed, v1Closed] = await within(Promise.all([agent.rpc.closed, client.rpc.closed, v1.closed]), 20_000, 'A to fence and close its coordinate connections');
      const fenced = { code: WS_SERVICE_RESTART, reason: RESTART_REASON.fenced };
      expect(agentClosed).toEqual(fenced);
      expect(clientClosed).toEqual(fenced);
      expect(v1Closed).toEqual(fenced);
      expect(a.app.shard!.stats().fenced).toBe(true);

      // While fenced, a new v2 connection is accepted at the HTTP level and closed at once with 1012.
      const late = await RpcClient.dial(a.url, coordPath(agentId), { token: key, query: { version: '2.0' } });
      expect(await within(late.closed, 10_000, 'the refused connection to close')).toEqual({ code: WS_SERVICE_RESTART, reason: RESTART_REASON.refused });

      // The coordinate sessions those closes ended carry one reason label for v1 and v2 alike.
      const sessions = async (): Promise<Array<{ protocol: string; reason: string; n: number }>> =>
        (await (a.app.registry.getSingleMetric('coordinator_closes_total') as Counter).get()).values
          .filter((v) => v.value > 0)
          .map((v) => ({ protocol: String(v.labels.protocol), reason: String(v.labels.reason), n: v.value }));
      const total = (xs: Array<{ protocol: string; n: number }>, protocol: string): number => xs.filter((x) => x.protocol === protocol).reduce((n, x) => n + x.n, 0);
      await eventually(async () => {
        const xs = await sessions();
        return total(xs, 'v1') === 1 && total(xs, 'v2') === 2;
      }, 'A to count the ended sessions');
      const reasons = (xs: Array<{ protocol: string; reason: string }>, protocol: string): string[] => xs.filter((x) => x.protocol === protocol).map((x) => x.reason);
      const ended = await sessions();
      expect(reasons(ended, 'v2')).toEqual(reasons(ended, 'v1'));
      const counts = await restartCloses(a);
      expect(counts).toMatchObject({ 'v1/fenced': 1, 'v2/fenced': 2, 'v2/refused': 1 });

      // The peers move to B and see each other's nodes again.
      const agentB = await agentOn(b, { id: agentId, token: agentToken }, agent.node);
      const clientB = await clientOn(b, agentId, key, client.node);
      await converged(agentB, agentId, clientB);
      agentB.rpc.close();
      clientB.rpc.close();
    } finally {
      await a.stop();
      await proxy.close().catch(() => undefined);
    }
  });

  it('graceful drain closes the v2 agent and client with 1012 after GOODBYE, and they converge on another replica', async () => {
    const a = await startReplica('redis://127.0.0.1:6379');
    let stopped = false;
    try {
      const { agentId, agentToken, key, agent, client, v1 } = await setup(a);
      const stopping = a.stop();
      stopped = true;
      const [agentClosed, clientClosed, v1Closed] = await within(Promise.all([agent.rpc.closed, client.rpc.closed, v1.closed]), 20_000, 'A to drain its coordinate connections');
      const draining = { code: WS_SERVICE_RESTART, reason: RESTART_REASON.draining };
      expect(agentClosed).toEqual(draining);
      expect(clientClosed).toEqual(draining);
      expect(v1Closed).toEqual(draining);
      await stopping;
      expect(await restartCloses(a)).toMatchObject({ 'v1/draining': 1, 'v2/draining': 2 });

      const agentB = await agentOn(b, { id: agentId, token: agentToken }, agent.node);
      const clientB = await clientOn(b, agentId, key, client.node);
      await converged(agentB, agentId, clientB);
      agentB.rpc.close();
      clientB.rpc.close();
    } finally {
      if (!stopped) await a.stop();
    }
  });
});
