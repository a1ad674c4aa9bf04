/**
 * /me/rpc liveness and back-pressure over real sockets (tailnet-v2.md §5.3, §7.2 cases 24 and 35):
 * an agent that stops answering yamux pings is closed with "ping timeout" and marked disconnected;
 * a client that stops reading is dropped after its 512-response queue fills ("failed update")
 * while its partner keeps working.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tp from '../../src/rpc/proto/tailnet.js';
import { eventually } from '../coordinator/helpers.js';
import { RpcClient } from './client.js';
import { agentPrefix, idBytes, idText, protoNode } from './fixtures.js';
import { startV2TestServer, type V2TestServer } from './server.js';

const K = tp.PeerUpdateKind;

describe('tailnet v2 liveness', () => {
  let s: V2TestServer;
  let owner: { id: string; username: string; key: string };
  beforeAll(async () => {
    s = await startV2TestServer({ env: { TAILNETD_AGENT_CONNECTION_UPDATE_FREQUENCY_MS: '200', TAILNETD_AGENT_INACTIVE_DISCONNECT_TIMEOUT_MS: '600' } });
    owner = await s.user();
  });
  afterAll(async () => {
    await s.stop();
  });

  it('an agent that stops answering pings is closed with "ping timeout" and marked disconnected', async () => {
    const b = await s.workspace(owner.username, [{ name: 'main' }]);
    const agent = b.agents[0]!;
    const rpc = await RpcClient.dial(s.url, '/api/v2/workspaceagents/me/rpc', { token: agent.token!, query: { version: '2.4' } });
    const status = async () => ((await (await s.request(`/api/v2/workspaceagents/${agent.id}`, { token: owner.key })).json()) as { status: string }).status;
    await eventually(async () => (await status()) === 'connected', 'connected');
    rpc.ws.pause(); // stop reading: pings go unanswered
    await new Promise((r) => setTimeout(r, 1200));
    rpc.ws.resume();
    expect(await rpc.closed).toEqual({ code: 1001, reason: 'ping timeout' });
    expect(await s.app.registry.getSingleMetricAsString('tailnetd_rpc_monitor_closes_total')).toMatch(/reason="ping_timeout"\} 1/);
    await eventually(async () => (await status()) === 'disconnected', 'disconnected');
  });

  it('two /me/rpc sockets of one agent: closing the older one keeps the agent connected', async () => {
    const b = await s.workspace(owner.username, [{ name: 'main' }]);
    const agent = b.agents[0]!;
    const dial = () => RpcClient.dial(s.url, '/api/v2/workspaceagents/me/rpc', { token: agent.token!, query: { version: '2.8', role: 'agent' } });
    const status = async () => ((await (await s.request(`/api/v2/workspaceagents/${agent.id}`, { token: owner.key })).json()) as { status: string }).status;
    const first = await dial();
    await eventually(async () => (await status()) === 'connected', 'connected');
    const second = await dial();
    first.close();
    await first.closed;
    await new Promise((r) => setTimeout(r, 600));
    expect(await status()).toBe('connected');
    second.close();
    await eventually(async () => (await status()) === 'disconnected', 'disconnected');
  });

  it('a client that stops reading is dropped with "failed update"; the agent is unaffected', async () => {
    const b = await s.workspace(owner.username, [{ name: 'main' }]);
    const agent = b.agents[0]!;
    const rpc = await RpcClient.dial(s.url, '/api/v2/workspaceagents/me/rpc', { token: agent.token!, query: { version: '2.4' } });
    const ac = await rpc.coordinate();
    await ac.send({ updateSelf: { node: protoNode({ address: agentPrefix(agent.id) }) } });
    const slow = await RpcClient.dial(s.url, `/api/v2/workspaceagents/${agent.id}/coordinate`, { token: owner.key, query: { version: '2.0' } });
    const sc = await slow.coordinate();
    await sc.send({ addTunnel: { id: idBytes(agent.id) }, updateSelf: { node: protoNode() } });
    const seen = await ac.until((u) => u.kind === K.NODE);
    const slowId = idText(seen.id);
    slow.ws.pause();
    const before = await s.app.registry.getSingleMetricAsString('coordinator_peer_queue_overflows_total');
    // Big nodes fill the yamux window and socket buffers quickly, then the 512-entry queue.
    let dropped: tp.PeerUpdate | null = null;
    const watcher = ac.until((u) => u.kind === K.DISCONNECTED && idText(u.id) === slowId, 30_000).then((u) => (dropped = u));
    const endpoints = Array.from({ length: 200 }, (_, i) => `192.0.2.${i % 250}:${40000 + i}`);
    for (let i = 0; i < 4000 && dropped === null; i++) {
      const n = protoNode({ address: agentPrefix(agent.id) });
      n.endpoints = endpoints;
      await ac.send({ updateSelf: { node: n } });
      if (i % 100 === 99) await new Promise((r) => setImmediate(r));
    }
    await watcher;
    expect(dropped!.reason).toBe('failed update');
    expect(await s.app.registry.getSingleMetricAsString('coordinator_peer_queue_overflows_total')).not.toBe(before);
    // The agent's connection still serves calls.
    const maps = await rpc.derpMaps();
    expect(await maps.next()).not.toBeNull();
    slow.ws.resume();
    slow.close();
    rpc.close();
  }, 60_000);
});

describe('tailnet v2 coordinator shutdown', () => {
  it('peers hear LOST "coordinator close" and "coordinator closed", then the connection closes with 1001', async () => {
    const s = await startV2TestServer();
    try {
      const owner = await s.user();
      const b = await s.workspace(owner.username, [{ name: 'main' }]);
      const agent = b.agents[0]!;
      const rpc = await RpcClient.dial(s.url, '/api/v2/workspaceagents/me/rpc', { token: agent.token!, query: { version: '2.4' } });
      const ac = await rpc.coordinate();
      await ac.send({ updateSelf: { node: protoNode({ address: agentPrefix(agent.id) }) } });
      const cl = await RpcClient.dial(s.url, `/api/v2/workspaceagents/${agent.id}/coordinate`, { token: owner.key, query: { version: '2.0' } });
      const cc = await cl.coordinate();
      await cc.send({ addTunnel: { id: idBytes(agent.id) }, updateSelf: { node: protoNode() } });
      await cc.until((u) => u.kind === K.NODE);
      await s.app.coordinator.close();
      const r = await cc.recv();
      expect(r?.peerUpdates.map((u) => [idText(u.id), u.kind, u.reason])).toEqual([[agent.id, K.LOST, 'coordinator close']]);
      expect(r?.error).toBe('coordinator closed');
      expect((await cl.closed).code).toBe(1001);
      expect((await rpc.closed).code).toBe(1001);
    } finally {
      await s.stop();
    }
  });
});
