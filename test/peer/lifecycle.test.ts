/**
 * ServerTailnet lifecycle against a real tailnetd (coordinator + embedded
 * relay) and the TS fake agent: pooled session reused, the agent's tunnel and
 * session dropped after the idle time, dials recover after the DERP session
 * is lost, and a restarted agent (new node key) replaces the old session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { DerpClient } from '../../src/derp/client.js';
import { createPeerMetrics } from '../../src/metrics/peer.js';
import { ServerTailnet } from '../../src/peer/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { eventually } from '../coordinator/helpers.js';
import { startFakeAgent, type FakeAgent } from './fake-agent.js';

async function echoOnce(st: ServerTailnet, agentId: string, text: string): Promise<string> {
  const sock = await st.dial(agentId, 2, { timeoutMs: 10_000 });
  return new Promise((resolve, reject) => {
    let got = '';
    sock.on('data', (b: Buffer) => {
      got += b.toString();
      if (got.length >= text.length) {
        sock.destroy();
        resolve(got);
      }
    });
    sock.on('error', reject);
    sock.write(text);
  });
}

describe('ServerTailnet lifecycle', () => {
  let s: TestServer;
  let agents: FakeAgent[] = [];
  let agentId: string;
  let token: string;
  let st: ServerTailnet;
  const clients: DerpClient[] = [];
  const registry = new Registry();

  beforeAll(async () => {
    s = await startTestServer();
    const u = await s.user();
    const b = await s.workspace(u.username, [{ name: 'main' }]);
    agentId = b.agents[0]!.id;
    token = b.agents[0]!.token!;
    agents.push(await startFakeAgent(s.url, token));
    const derp = s.app.derp!;
    st = new ServerTailnet({
      coordinator: s.app.coordinator,
      regionId: 999,
      logger: pino({ level: 'silent' }),
      idleMs: 1500,
      refreshAfterMs: 150,
      reconnectMinMs: 50,
      metrics: createPeerMetrics(registry),
      connectDerp: async (key) => {
        const c = await DerpClient.connectDuplex(derp.connectInProcess(), key);
        clients.push(c);
        return c;
      },
    });
    await st.start();
  });
  afterAll(async () => {
    st?.close();
    for (const a of agents) a.close();
    await s?.stop();
  });

  const tunneled = (): boolean => s.app.coordinator.core.sourcesOf(agentId).some((p) => p.id === st.clientId);

  it('pools the agent session across dials, then drops session and tunnel when idle', async () => {
    expect(await echoOnce(st, agentId, 'one')).toBe('one');
    expect(await echoOnce(st, agentId, 'two')).toBe('two');
    expect(agents[0]!.peers()).toBe(1); // one WireGuard peer for both dials
    expect(tunneled()).toBe(true);
    await eventually(() => st.snapshot().length === 0, 'idle session dropped', 5000);
    expect(tunneled()).toBe(false);
    expect(st.peer.session(agents[0]!.nodeKey)).toBeUndefined();
    const text = await registry.metrics();
    expect(text).toMatch(/tailnetd_peer_dials_total\{port="2",result="ok"\} 2/);
    expect(text).toMatch(/tailnetd_peer_derp_bytes_total\{direction="rx"\} [1-9]/);
  });

  it('after an idle spell re-announces our node and starts a fresh WireGuard session (agent may have evicted us)', async () => {
    // Simulate the agent's eviction: it forgets our peer and keys, and re-adds us only when our node arrives again.
    expect(await echoOnce(st, agentId, 'warm')).toBe('warm');
    const before = st.peer.session(agents[0]!.nodeKey);
    const seen = agents[0]!.coord.messages.length;
    agents[0]!.evict(Buffer.from(st.publicKey).toString('hex'));
    await new Promise((r) => setTimeout(r, 300)); // > refreshAfterMs, < idleMs
    expect(await echoOnce(st, agentId, 'after-eviction')).toBe('after-eviction');
    expect(agents[0]!.coord.messages.length).toBeGreaterThan(seen); // our node was delivered again
    expect(st.peer.session(agents[0]!.nodeKey)).not.toBe(before);
  });

  it('reconnects to the relay after the DERP session is lost', async () => {
    clients.at(-1)!.close();
    await eventually(() => clients.length >= 2, 'DERP reconnect', 5000);
    expect(await echoOnce(st, agentId, 'after-derp-loss')).toBe('after-derp-loss');
  });

  it('follows an agent restart (new node key) to a new session', async () => {
    const old = agents[0]!;
    old.close();
    agents.push(await startFakeAgent(s.url, token));
    const fresh = agents.at(-1)!;
    await eventually(() => s.app.coordinator.node(agentId)?.key === `nodekey:${Buffer.from(fresh.nodeKey).toString('hex')}`, 'new agent node', 5000);
    expect(await echoOnce(st, agentId, 'new-agent')).toBe('new-agent');
    expect(st.snapshot()[0]?.nodeKey).toBe(Buffer.from(fresh.nodeKey).toString('hex'));
  });
});
