/** In-memory-only behaviour of the v1 sessions: keep-alive, agent connection records, debug page, metrics. */
import { Socket } from 'node:net';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentConnectionRecorder } from '../../src/coordinator/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { startMemoryServer, type MemoryServer } from './conformance/memory-backend.js';
import { eventually, nodeJson, uuid, V1Peer } from './helpers.js';

let server: MemoryServer | null = null;
const open: V1Peer[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.close()));
  await server?.stop();
  server = null;
});
async function peer(url: string): Promise<V1Peer> {
  const p = await V1Peer.connect(url);
  open.push(p);
  return p;
}

type Call = [string, string, number];
class FakeRecorder implements AgentConnectionRecorder {
  calls: Call[] = [];
  latest = true;
  failHeartbeat: string | null = null;
  async connected(agentId: string, at: Date) {
    this.calls.push(['connected', agentId, at.getTime()]);
  }
  async heartbeat(agentId: string, at: Date) {
    this.calls.push(['heartbeat', agentId, at.getTime()]);
    if (this.failHeartbeat) throw new Error(this.failHeartbeat);
    return { latest: this.latest };
  }
  async disconnected(agentId: string, at: Date) {
    this.calls.push(['disconnected', agentId, at.getTime()]);
  }
  kinds(): string[] {
    return this.calls.map((c) => c[0]);
  }
}

describe('keep-alive', () => {
  it('pings every socket each ping interval', async () => {
    const clock = new ManualClock();
    server = await startMemoryServer({ clock });
    const c = await peer(server.clientUrl(uuid(), uuid()));
    await eventually(() => server!.coordinator.core.clientCount() === 1, 'registered');
    clock.advance(15_000);
    await c.until(() => c.pings === 1, 'first ping');
    clock.advance(15_000);
    await c.until(() => c.pings === 2, 'second ping');
  });

  it('staggers ping rounds: 15 sockets are pinged one per second, each once per 15 s interval', async () => {
    const clock = new ManualClock();
    server = await startMemoryServer({ clock });
    const peers = await Promise.all(Array.from({ length: 15 }, () => peer(server!.clientUrl(uuid(), uuid()))));
    await eventually(() => server!.coordinator.core.clientCount() === 15, 'registered');
    const pinged = () => peers.filter((p) => p.pings > 0).length;
    clock.advance(1000);
    await eventually(() => pinged() === 1, 'one round');
    await new Promise((r) => setTimeout(r, 50));
    expect(pinged()).toBe(1); // not everyone at once
    clock.advance(14_000);
    await eventually(() => pinged() === 15, 'all within the interval');
    expect(peers.map((p) => p.pings)).toEqual(Array.from({ length: 15 }, () => 1));
  });

  it('answers peer pings (the Go agent pings every 30 s)', async () => {
    server = await startMemoryServer();
    const a = await peer(server.agentUrl(uuid()));
    const pong = new Promise<Buffer>((resolve) => a.ws.once('pong', resolve));
    a.ws.ping(Buffer.from('hi'));
    expect((await pong).toString()).toBe('hi');
  });

  it('closes a peer that stops answering pings', async () => {
    const clock = new ManualClock();
    server = await startMemoryServer({ clock });
    const c = await peer(server.clientUrl(uuid(), uuid()));
    await eventually(() => server!.coordinator.core.clientCount() === 1, 'registered');
    (c.ws as unknown as { _socket: Socket })._socket.pause(); // reads nothing, so answers nothing
    clock.advance(15_000);
    clock.advance(15_000);
    clock.advance(15_000);
    await eventually(() => server!.coordinator.core.clientCount() === 0, 'client dropped');
    (c.ws as unknown as { _socket: Socket })._socket.resume();
    expect((await c.closed).code).toBe(1006);
  });
});

describe('agent connection records', () => {
  it('records connect, heartbeats every update period, and disconnect on exit', async () => {
    const clock = new ManualClock();
    const rec = new FakeRecorder();
    server = await startMemoryServer({ clock, recorder: rec });
    const agentId = uuid();
    const a = await peer(server.agentUrl(agentId));
    await eventually(() => rec.calls.length === 1, 'connected');
    const t0 = clock.now();
    clock.advance(3000);
    await eventually(() => rec.calls.length === 2, 'heartbeat 1');
    clock.advance(3000);
    await eventually(() => rec.calls.length === 3, 'heartbeat 2');
    await a.close();
    await eventually(() => rec.calls.length === 4, 'disconnected');
    expect(rec.calls).toEqual([
      ['connected', agentId, t0],
      ['heartbeat', agentId, t0 + 3000],
      ['heartbeat', agentId, t0 + 6000],
      ['disconnected', agentId, t0 + 6000],
    ]);
  });

  it('an overwritten agent socket does not record a disconnect (the new socket keeps the row fresh)', async () => {
    const clock = new ManualClock();
    const rec = new FakeRecorder();
    server = await startMemoryServer({ clock, recorder: rec });
    const agentId = uuid();
    const a1 = await peer(server.agentUrl(agentId));
    await eventually(() => rec.calls.length === 1, 'first connected');
    const a2 = await peer(server.agentUrl(agentId));
    expect((await a1.closed).code).toBe(1001);
    await eventually(() => rec.kinds().filter((k) => k === 'connected').length === 2, 'second connected');
    clock.advance(3000);
    await eventually(() => rec.kinds().filter((k) => k === 'heartbeat').length === 1, 'one heartbeat (old ticker stopped)');
    expect(rec.kinds()).not.toContain('disconnected');
    await a2.close();
    await eventually(() => rec.kinds().at(-1) === 'disconnected', 'disconnect of the live socket');
    expect(rec.kinds().filter((k) => k === 'disconnected').length).toBe(1);
  });

  it('kicks the agent with 1001 and an empty reason when its build is no longer the latest', async () => {
    const clock = new ManualClock();
    const rec = new FakeRecorder();
    server = await startMemoryServer({ clock, recorder: rec });
    const a = await peer(server.agentUrl(uuid()));
    await eventually(() => rec.calls.length === 1, 'connected');
    rec.latest = false;
    clock.advance(3000);
    expect(await a.closed).toEqual({ code: 1001, reason: '' });
    await eventually(() => rec.kinds().at(-1) === 'disconnected', 'disconnected recorded');
  });

  it('closes with 1001 and the error text when a heartbeat write fails', async () => {
    const clock = new ManualClock();
    const rec = new FakeRecorder();
    rec.failHeartbeat = 'database is gone';
    server = await startMemoryServer({ clock, recorder: rec });
    const a = await peer(server.agentUrl(uuid()));
    await eventually(() => rec.calls.length === 1, 'connected');
    clock.advance(3000);
    expect(await a.closed).toEqual({ code: 1001, reason: 'database is gone' });
  });
});

describe('debug page and metrics', () => {
  it('renders agents with their connections and missing agents', async () => {
    server = await startMemoryServer();
    const agentId = uuid();
    const ghost = uuid();
    const a = await peer(server.agentUrl(agentId) + '&name=alice-ws-main');
    const c1 = await peer(server.clientUrl(agentId, uuid()));
    await peer(server.clientUrl(ghost, uuid()));
    a.send(nodeJson());
    await c1.message(1);
    const html = server.coordinator.renderDebugPage();
    expect(html).toContain('<h1>in-memory wireguard coordinator debug</h1>');
    expect(html).toContain('agents: total 1');
    expect(html).toContain(`<b>alice-ws-main</b> (<code>${agentId}</code>)`);
    expect(html).toMatch(/overwrites 0/);
    expect(html).toContain('connections: total 1');
    expect(html).toContain('missing agents: total 1');
    expect(html).toContain(`<b>unknown</b> (<code>${ghost}</code>)`);
    expect(html).toMatch(/write \d+s ago/);
  });

  it('exposes peers, updates, bytes and close reasons', async () => {
    const registry = new Registry();
    server = await startMemoryServer({ registry });
    const agentId = uuid();
    const a = await peer(server.agentUrl(agentId));
    const c = await peer(server.clientUrl(agentId, uuid()));
    await eventually(() => server!.coordinator.core.clientCount() === 1, 'client registered');
    a.send(nodeJson());
    await c.message(1);
    const bad = await peer(server.clientUrl(agentId, uuid()));
    bad.send('nope');
    await bad.closed;
    const text = await registry.metrics();
    expect(text).toMatch(/coordinator_peers\{kind="agent"\} 1/);
    expect(text).toMatch(/coordinator_peers\{kind="client"\} 1/);
    expect(text).toMatch(/coordinator_agents_with_clients 1/);
    expect(text).toMatch(/coordinator_updates_received_total\{kind="agent"\} 1/);
    expect(text).toMatch(/coordinator_updates_sent_total\{kind="agent"\} 1/);
    expect(text).toMatch(/coordinator_closes_total\{protocol="v1",reason="bad_node"\} 1/);
    expect(text).toMatch(/coordinator_fanout_seconds_count 1/);
    expect(text).toMatch(/coordinator_sent_bytes_total [1-9]/);
  });

  it('node() exposes the agent node for the agent endpoint (exact id)', async () => {
    server = await startMemoryServer();
    const agentId = uuid();
    const a = await peer(server.agentUrl(agentId));
    a.send(nodeJson({ id: 9223372036854775806n, derp: 7 }));
    await eventually(() => server!.coordinator.node(agentId) !== null, 'node');
    expect(server.coordinator.node(agentId.toUpperCase())?.id).toBe(9223372036854775806n);
    expect(server.coordinator.node(agentId)?.preferredDerp).toBe(7);
    expect(server.coordinator.agentNode(agentId)).toEqual({ derp_latency: { '1-v4': 0.012, '1-v6': 0.015 }, preferred_derp: 7 });
    expect(server.coordinator.agentNode(uuid())).toBeUndefined();
  });

  it('coordinator close ends every session with 1001 and refuses new ones', async () => {
    server = await startMemoryServer();
    const agentId = uuid();
    const a = await peer(server.agentUrl(agentId));
    const c = await peer(server.clientUrl(agentId, uuid()));
    await eventually(() => server!.coordinator.core.clientCount() === 1, 'registered');
    await server.coordinator.close();
    expect((await a.closed).code).toBe(1001);
    expect((await c.closed).code).toBe(1001);
    const late = await peer(server.agentUrl(uuid()));
    expect((await late.closed).code).toBe(1001);
  });
});
