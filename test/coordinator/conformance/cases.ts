/**
 * Backend-independent coordinator conformance cases (v1 JSON over real
 * WebSockets), after Coder's tailnet/coordinator_test.go plus the wire rules of
 * coder-agents-api.md §4. Each case spreads its peers over the backend's shards
 * (agent on shard 0, clients on the following shards) so a sharded backend
 * exercises cross-shard delivery.
 *
 *   agent ──(shard 0)──┐                 ┌──(shard 1)── client A
 *                      ├── coordinator ──┤
 *                      │    backend      └──(shard 2)── client B
 */
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, idsOf, nodeJson, quiet, uuid, V1Peer } from '../helpers.js';
import type { CoordinatorBackend, RunningBackend } from './backend.js';

export function defineConformance(backend: CoordinatorBackend): void {
  describe(`coordinator conformance (${backend.name})`, () => {
    let b: RunningBackend;
    const peers: V1Peer[] = [];
    const shard = (i: number): number => i % b.shards;
    const agent = async (agentId: string, s = 0): Promise<V1Peer> => track(await V1Peer.connect(b.agentUrl(agentId, shard(s))));
    const client = async (agentId: string, clientId = uuid(), s = 1): Promise<V1Peer> =>
      track(await V1Peer.connect(b.clientUrl(agentId, clientId, shard(s))));
    const track = (p: V1Peer): V1Peer => {
      peers.push(p);
      return p;
    };

    beforeAll(async () => {
      b = await backend.start();
    });
    afterAll(async () => {
      await Promise.all(peers.map((p) => p.close()));
      await b.stop();
    });

    it('ClientWithoutAgent: a client whose agent never connects can send its node, which is stored until it leaves', async () => {
      const agentId = uuid();
      const clientId = uuid();
      const c = await client(agentId, clientId);
      const n = nodeJson();
      c.send(n);
      const inspect = b.inspect?.(shard(1));
      if (inspect) {
        await eventually(() => inspect.node(clientId) !== null, 'client node stored');
        expect(idsOf([inspect.node(clientId) as string])).toEqual(idsOf([n]));
      }
      const closed = await c.close();
      expect(closed.code).toBe(1000);
      if (inspect) await eventually(() => inspect.node(clientId) === null, 'client node removed');
      expect(c.messages).toEqual([]);
    });

    it('AgentWithoutClients: an agent with no clients sends a node; it is stored; closing ends cleanly', async () => {
      const agentId = uuid();
      const a = await agent(agentId);
      const n = nodeJson();
      a.send(n);
      const inspect = b.inspect?.(0);
      if (inspect) await eventually(() => inspect.node(agentId) !== null, 'agent node stored');
      expect((await a.close()).code).toBe(1000);
      if (inspect) await eventually(() => inspect.node(agentId) === null, 'agent node removed');
      expect(a.messages).toEqual([]);
    });

    it('AgentWithClient: nodes flow both ways, and a reconnecting agent immediately gets the client node', async () => {
      const agentId = uuid();
      const a1 = await agent(agentId);
      const agentNode = nodeJson();
      a1.send(agentNode);
      if (b.inspect) await eventually(() => b.inspect!(0).node(agentId) !== null, 'agent node stored');
      const c = await client(agentId);
      expect(idsOf(await c.message(1))).toEqual(idsOf([agentNode]));
      const clientNode = nodeJson();
      c.send(clientNode);
      expect(idsOf(await a1.message(1))).toEqual(idsOf([clientNode]));
      const agentNode2 = nodeJson();
      a1.send(agentNode2);
      expect(idsOf(await c.message(2))).toEqual(idsOf([agentNode2]));
      expect((await a1.close()).code).toBe(1000);
      const a2 = await agent(agentId);
      expect(idsOf(await a2.message(1))).toEqual(idsOf([clientNode]));
      expect((await c.close()).code).toBe(1000);
      expect((await a2.close()).code).toBe(1000);
    });

    it('AgentDoubleConnect: a second agent socket gets the client node and the first is closed', async () => {
      const agentId = uuid();
      const a1 = await agent(agentId);
      a1.send(nodeJson());
      if (b.inspect) await eventually(() => b.inspect!(0).node(agentId) !== null, 'agent node stored');
      const c = await client(agentId);
      await c.message(1);
      const clientNode = nodeJson();
      c.send(clientNode);
      await a1.message(1);
      const a2 = await agent(agentId);
      expect(idsOf(await a2.message(1))).toEqual(idsOf([clientNode]));
      await a1.closed;
      if (b.shards === 1 && b.inspect) {
        expect(b.inspect().nodeCount()).toBeGreaterThanOrEqual(2);
        await eventually(() => b.inspect!().agentCount() >= 1, 'one agent');
      }
      // The overwritten session removed nothing: the new socket still serves the client.
      const n3 = nodeJson();
      a2.send(n3);
      await c.until(() => idsOf(c.nodes).includes(idsOf([n3])[0] as string), 'update via second agent socket');
    });

    it('agent reconnect after disconnect: gap clients get no initial node, then the first new node', async () => {
      const agentId = uuid();
      const a1 = await agent(agentId);
      a1.send(nodeJson());
      if (b.inspect) await eventually(() => b.inspect!(0).node(agentId) !== null, 'agent node stored');
      // Known on every shard first: otherwise "deleted everywhere" below could pass on a shard the node has not reached yet.
      else if (b.nodeOn) for (let i = 0; i < b.shards; i++) await eventually(async () => (await b.nodeOn!(i, agentId)) !== null, `agent node known on shard ${i}`);
      await a1.close();
      // Deleted everywhere, not only on the agent's shard: the client lands on another one.
      if (b.inspect) for (let i = 0; i < b.shards; i++) await eventually(() => b.inspect!(i).node(agentId) === null, `agent node deleted on shard ${i}`);
      else if (b.nodeOn) for (let i = 0; i < b.shards; i++) await eventually(async () => (await b.nodeOn!(i, agentId)) === null, `agent node deleted on shard ${i}`);
      const c = await client(agentId);
      await quiet(100);
      expect(c.messages).toEqual([]);
      const a2 = await agent(agentId);
      const n = nodeJson();
      a2.send(n);
      expect(idsOf(await c.message(1))).toEqual(idsOf([n]));
    });

    it('many clients per agent: every agent update reaches every client; clients never see each other', async () => {
      const agentId = uuid();
      const a = await agent(agentId);
      const clients = await Promise.all(Array.from({ length: 40 }, (_, i) => client(agentId, uuid(), 1 + (i % 3))));
      const clientNodes = clients.map(() => nodeJson());
      clients.forEach((c, i) => c.send(clientNodes[i] as string));
      await a.until(() => a.nodes.length >= clients.length, 'all client nodes at the agent');
      expect(new Set(idsOf(a.nodes))).toEqual(new Set(idsOf(clientNodes)));
      const n = nodeJson();
      a.send(n);
      await Promise.all(clients.map((c) => c.until(() => c.nodes.length >= 1, 'agent node')));
      for (const c of clients) expect(idsOf(c.nodes)).toEqual(idsOf([n]));
    });

    it('client buffering: client nodes sent while the agent is away reach it on connect (latest only)', async () => {
      const agentId = uuid();
      const c = await client(agentId);
      c.send(nodeJson());
      const latest = nodeJson();
      c.send(latest);
      await quiet(50);
      const a = await agent(agentId);
      expect(idsOf(await a.message(1))).toEqual(idsOf([latest]));
      await quiet(50);
      expect(a.messages.length).toBe(1);
    });

    it('streams: nodes split across messages and coalesced in one message are all applied', async () => {
      const agentId = uuid();
      const a = await agent(agentId);
      const c = await client(agentId);
      const n1 = nodeJson();
      const n2 = nodeJson();
      const n3 = nodeJson();
      const whole = Buffer.from(`${n1}\n  ${n2}${n3}`);
      c.send(whole.subarray(0, 7));
      c.send(whole.subarray(7, n1.length + 5));
      c.send(whole.subarray(n1.length + 5));
      await a.until(() => a.nodes.length >= 3, 'three nodes');
      expect(idsOf(a.nodes)).toEqual(idsOf([n1, n2, n3]));
    });

    it('63-bit node ids round-trip exactly', async () => {
      const agentId = uuid();
      const a = await agent(agentId);
      const c = await client(agentId);
      const ids = [9223372036854775807n, 9007199254740993n, 4611686018427387905n];
      for (const id of ids) c.send(nodeJson({ id }));
      await a.until(() => a.nodes.length >= 3, 'three nodes');
      expect(idsOf(a.nodes)).toEqual(ids.map(String));
    });

    it('an identical re-sent node is not written twice', async () => {
      const agentId = uuid();
      const a = await agent(agentId);
      const c = await client(agentId);
      const n = nodeJson();
      a.send(n);
      a.send(n);
      a.send(` ${n}`);
      await c.message(1);
      const marker = nodeJson();
      a.send(marker);
      await c.message(2);
      expect(idsOf(c.nodes)).toEqual(idsOf([n, marker]));
    });

    it('bad node: an invalid key closes that peer with 1011 and a short reason; others carry on', async () => {
      const agentId = uuid();
      const a = await agent(agentId);
      const good = await client(agentId);
      const bad = await client(agentId, uuid(), 2);
      bad.send(nodeJson().replace('"nodekey:', '"nodekee:'));
      const closed = await bad.closed;
      expect(closed.code).toBe(1011);
      expect(closed.reason.length).toBeGreaterThan(0);
      expect(Buffer.byteLength(closed.reason)).toBeLessThanOrEqual(123);
      const n = nodeJson();
      a.send(n);
      expect(idsOf(await good.message(1))).toEqual(idsOf([n]));
    });

    it('invalid CIDR, endpoint and disco values are rejected with 1011', async () => {
      const agentId = uuid();
      for (const mutate of [
        (s: string) => s.replace(/"addresses":\[[^\]]*\]/, '"addresses":["fd7a::1/129"]'),
        (s: string) => s.replace(/"endpoints":\[.*\]\}$/, '"endpoints":["192.0.2.1"]}'),
        (s: string) => s.replace(/"disco":"discokey:[0-9a-f]+"/, '"disco":"discokey:zz"'),
        (s: string) => s.replace(/"id":\d+/, '"id":1.5'),
      ]) {
        const c = await client(agentId);
        c.send(mutate(nodeJson()));
        expect((await c.closed).code).toBe(1011);
      }
    });

    it('a text frame closes with 1003', async () => {
      const c = await client(uuid());
      c.ws.send(nodeJson(), { binary: false });
      expect((await c.closed).code).toBe(1003);
    });

    it('a message above 32 KiB closes with 1009', async () => {
      const c = await client(uuid());
      c.send(Buffer.alloc(32 * 1024 + 1, 0x20));
      expect((await c.closed).code).toBe(1009);
    });

    it('a message of exactly 32 KiB is accepted', async () => {
      const agentId = uuid();
      const a = await agent(agentId);
      const c = await client(agentId);
      const n = nodeJson();
      c.send(Buffer.concat([Buffer.from(n), Buffer.alloc(32 * 1024 - n.length, 0x20)]));
      expect(idsOf(await a.message(1))).toEqual(idsOf([n]));
    });

    it('garbage bytes close with 1011', async () => {
      const c = await client(uuid());
      c.send(Buffer.from([0xff, 0x00, 0x13, 0x37, 0x7b]));
      expect((await c.closed).code).toBe(1011);
    });

    it('an array where a node object belongs closes with 1011', async () => {
      const c = await client(uuid());
      c.send(`[${nodeJson()}]`);
      expect((await c.closed).code).toBe(1011);
    });

    it('a wrongly typed field inside a node closes with 1011', async () => {
      const c = await client(uuid());
      c.send(nodeJson().replace(/"addresses":\[[^\]]*\]/, '"addresses":{"a":1}'));
      expect((await c.closed).code).toBe(1011);
    });

    it('TCP reset mid-message drops the client; the agent keeps working', async () => {
      const agentId = uuid();
      const clientId = uuid();
      const a = await agent(agentId);
      const c = await client(agentId, clientId);
      const n = nodeJson();
      c.send(n.slice(0, 40));
      await quiet(20);
      (c.ws as unknown as { _socket: Socket })._socket.resetAndDestroy();
      const inspect = b.inspect?.(shard(1));
      if (inspect) await eventually(() => inspect.node(clientId) === null, 'client gone');
      const c2 = await client(agentId);
      const n2 = nodeJson();
      c2.send(n2);
      expect(idsOf(await a.message(1))).toEqual(idsOf([n2]));
    });

    it('outbound messages never exceed 32 KiB: a large init batch is split into several arrays', async () => {
      const agentId = uuid();
      const many = Array.from({ length: 300 }, (_, i) => `10.${i >> 8}.${i & 255}.1:41641`);
      const clients = await Promise.all(Array.from({ length: 12 }, (_, i) => client(agentId, uuid(), 1 + (i % 3))));
      const nodes = clients.map(() => nodeJson({ endpoints: many }));
      clients.forEach((c, i) => c.send(nodes[i] as string));
      await quiet(100);
      const a = await agent(agentId);
      await a.until(() => a.nodes.length >= clients.length, 'all client nodes');
      expect(a.messages.length).toBeGreaterThan(1);
      for (const m of a.rawMessages) expect(m.length).toBeLessThanOrEqual(32 * 1024);
      expect(new Set(idsOf(a.nodes))).toEqual(new Set(idsOf(nodes)));
    });
  });

  describe(`coordinator slow consumers (${backend.name})`, () => {
    let b: RunningBackend;
    beforeAll(async () => {
      b = await backend.start({ writeTimeoutMs: 2000 });
    });
    afterAll(async () => {
      await b.stop();
    });

    it('a client that stops reading is dropped without delaying the other clients', async () => {
      const agentId = uuid();
      const a = await V1Peer.connect(b.agentUrl(agentId, 0));
      const fast = await V1Peer.connect(b.clientUrl(agentId, uuid(), 1 % b.shards));
      const stuck = await V1Peer.connect(b.clientUrl(agentId, uuid(), 2 % b.shards));
      (stuck.ws as unknown as { _socket: Socket })._socket.pause();
      // ~8 KB nodes × 1200: the stuck socket overflows kernel buffers + its 512-message queue.
      const endpoints = Array.from({ length: 480 }, (_, i) => `10.${i >> 8}.${i & 255}.2:41641`);
      const sent: string[] = [];
      for (let i = 0; i < 1200; i++) {
        const n = nodeJson({ endpoints });
        sent.push(n);
        a.send(n);
        if (i % 50 === 49) await quiet(5);
      }
      const last = idsOf([sent[sent.length - 1] as string])[0] as string;
      await fast.until(() => idsOf(fast.nodes).includes(last) || fast.ws.readyState !== fast.ws.OPEN, 'last update at the fast client', 20_000);
      expect(fast.ws.readyState).toBe(fast.ws.OPEN);
      expect(fast.nodes.length).toBe(sent.length);
      (stuck.ws as unknown as { _socket: Socket })._socket.resume();
      const closed = await Promise.race([stuck.closed, quiet(10_000).then(() => null)]);
      expect(closed).not.toBeNull();
      await a.close();
      await fast.close();
    });
  });
}
