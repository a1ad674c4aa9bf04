/**
 * Shard faults on a Redis Cluster (3 masters, test/helpers/redis-cluster.ts):
 * three shard processes in cluster mode (SPUBLISH/SSUBSCRIBE), agents and
 * clients spread over them with most tunnels cross-shard. Each fault must end
 * in resubscribe + resync on every shard and 0 lost final states (every
 * peer's view equals what its partners last sent), with no peer disconnected.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RedisCluster } from '../helpers/redis-cluster.js';
import { report, startCluster, timeUntil, type Cluster } from './scenario.js';

const AGENTS = Number(process.env.FAULT_AGENTS ?? 24);
const CLIENTS_PER = Number(process.env.FAULT_CLIENTS_PER ?? 3);

describe('shard faults on a Redis Cluster', { timeout: 90_000 }, () => {
  let rc: RedisCluster;
  let c: Cluster | null = null;

  beforeAll(async () => {
    rc = await RedisCluster.start(3);
  }, 60_000);
  afterEach(async () => {
    await c?.stop();
    c = null;
  });
  afterAll(async () => {
    await rc?.stop();
  });

  const start = (): Promise<Cluster> => startCluster(3, rc.url, { hbMs: 1000, perShardEnv: () => ({ REDIS_CLUSTER: '1' }) });
  const closes = (x: Cluster): number => [...x.fleet.agents, ...x.fleet.clients].reduce((n, p) => n + p.closes, 0);
  const resyncs = async (x: Cluster): Promise<number[]> => (await Promise.all(x.procs.map((p) => p!.state()))).map((s) => s.stats.resyncs as number);
  /** Sharded subscribers of the bus channel on its owner, and plain subscribers on every node. */
  const subscribers = async (channel: string): Promise<{ sharded: number; plain: number }> => {
    const owner = await rc.ownerOf(channel);
    const sharded = Number(((await rc.onNode(owner.port, (r) => r.call('PUBSUB', 'SHARDNUMSUB', channel))) as unknown[])[1]);
    const plain = (await Promise.all(rc.nodes.map((n) => rc.onNode(n.port, (r) => r.call('PUBSUB', 'NUMSUB', channel))))).reduce((s: number, v) => s + Number((v as unknown[])[1]), 0);
    return { sharded, plain };
  };

  it('runs on sharded pub/sub and spreads mirrors by shard slot (no CROSSSLOT, no plain SUBSCRIBE)', async () => {
    const x = (c = await start());
    await x.fleet.start(6, 2);
    expect(await x.fleet.converge(15_000)).toBeGreaterThanOrEqual(0);
    expect(await subscribers(`${x.prefix}bus`)).toEqual({ sharded: 3, plain: 0 });
    // Each shard's mirror and meta share a slot (one MULTI each); the cluster holds them with no error.
    const cluster = new Redis.Cluster([{ host: '127.0.0.1', port: rc.nodes[0]!.port }]);
    try {
      const members = await cluster.zrange(`${x.prefix}members`, '0', '-1');
      expect(members).toHaveLength(3);
      for (const id of members) {
        const [a, b] = await Promise.all([cluster.cluster('KEYSLOT', `${x.prefix}mirror:{${id}}`), cluster.cluster('KEYSLOT', `${x.prefix}meta:{${id}}`)]);
        expect(a).toBe(b);
        expect(await cluster.hlen(`${x.prefix}mirror:{${id}}`)).toBeGreaterThan(0);
      }
    } finally {
      cluster.disconnect();
    }
  });

  it('CLIENT KILL TYPE pubsub on every cluster node mid-churn: resubscribe + resync, 0 lost final states', async () => {
    const x = (c = await start());
    await x.fleet.start(AGENTS, CLIENTS_PER);
    expect(await x.fleet.converge(15_000)).toBeGreaterThanOrEqual(0);
    const before = await resyncs(x);
    const churn = setInterval(() => x.fleet.churn(10), 50);
    await new Promise((r) => setTimeout(r, 300));
    const killed = await rc.killPubsubClients();
    await new Promise((r) => setTimeout(r, 500));
    clearInterval(churn);
    const resynced = await timeUntil(async () => (await resyncs(x)).every((n, i) => n > before[i]!), 15_000);
    await x.waitReady();
    const converge = await x.fleet.converge(15_000);
    const after = await resyncs(x);
    report('cluster-client-kill-pubsub', { killed: killed.join('/'), resynced_ms: resynced, converge_ms: converge, resyncs: after.join('/') });
    expect(killed.reduce((a, b) => a + b, 0)).toBe(3); // the three shard subscribers, all on the channel's owner
    expect(resynced).toBeGreaterThanOrEqual(0);
    expect(converge, x.fleet.describe()).toBeGreaterThanOrEqual(0);
    expect(x.fleet.mismatches(), x.fleet.describe()).toBe(0);
    expect(closes(x)).toBe(0);
    expect(await subscribers(`${x.prefix}bus`)).toEqual({ sharded: 3, plain: 0 });
  });

  it('the bus channel slot migrates to another master mid-churn: SUNSUBSCRIBE → resubscribe on the new owner + resync, 0 lost', async () => {
    const x = (c = await start());
    await x.fleet.start(AGENTS, CLIENTS_PER);
    expect(await x.fleet.converge(15_000)).toBeGreaterThanOrEqual(0);
    const channel = `${x.prefix}bus`;
    const from = await rc.ownerOf(channel);
    const to = rc.nodes.find((n) => n !== from)!;
    const before = await resyncs(x);
    const churn = setInterval(() => x.fleet.churn(10), 50);
    await new Promise((r) => setTimeout(r, 300));
    await rc.moveSlotOf(channel, to);
    const resynced = await timeUntil(async () => (await resyncs(x)).every((n, i) => n > before[i]!), 15_000);
    await new Promise((r) => setTimeout(r, 300));
    clearInterval(churn);
    await x.waitReady();
    const converge = await x.fleet.converge(15_000);
    report('cluster-slot-migration', { from: from.port, to: to.port, resynced_ms: resynced, converge_ms: converge });
    expect((await rc.ownerOf(channel)).port).toBe(to.port);
    expect(resynced).toBeGreaterThanOrEqual(0);
    expect(converge, x.fleet.describe()).toBeGreaterThanOrEqual(0);
    expect(x.fleet.mismatches(), x.fleet.describe()).toBe(0);
    expect(closes(x)).toBe(0);
    expect(await subscribers(channel)).toEqual({ sharded: 3, plain: 0 });
  });
});

describe('shard faults on a Redis Cluster with replicas', { timeout: 120_000 }, () => {
  let rc: RedisCluster | null = null;
  let c: Cluster | null = null;

  // A fresh cluster per case: each one kills a master.
  beforeEach(async () => {
    rc = await RedisCluster.start(3, { replicas: true });
  }, 60_000);
  afterEach(async () => {
    await c?.stop();
    c = null;
    await rc?.stop();
    rc = null;
  });

  it.each([
    // Heartbeat 2 s: the fence window (3 beats) outlasts the failover (node timeout 2 s + election).
    { hbMs: 2000, name: 'within the fence window' },
    // Heartbeat 1 s: the failover outlasts the window, so shards fence (1012 to their peers), then unfence and take them back.
    { hbMs: 1000, name: 'outlasting the fence window' },
  ])('the master owning the bus channel is SIGKILLed, failover $name: its replica takes over, shards resubscribe there, resync, none stays fenced, 0 lost', async ({ hbMs }) => {
    const cl = rc!;
    const x = (c = await startCluster(3, cl.url, { hbMs, perShardEnv: () => ({ REDIS_CLUSTER: '1' }) }));
    await x.fleet.start(AGENTS, CLIENTS_PER);
    expect(await x.fleet.converge(15_000)).toBeGreaterThanOrEqual(0);
    const channel = `${x.prefix}bus`;
    const victim = await cl.ownerOf(channel);
    const heir = cl.nodes.find((n) => n.replicaOf === victim.id)!;
    const churn = setInterval(() => x.fleet.churn(10), 50);
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    await cl.kill(victim);
    const promoted = await timeUntil(async () => (await cl.ownerOf(channel).catch(() => null))?.port === heir.port, 30_000);
    await new Promise((r) => setTimeout(r, 500));
    clearInterval(churn);
    await x.waitReady(30_000);
    const ready = Date.now() - t0;
    const converge = await x.fleet.converge(30_000);
    const st = await Promise.all(x.procs.map((p) => p!.state()));
    const closed = [...x.fleet.agents, ...x.fleet.clients].reduce((n, p) => n + p.closes, 0);
    report(`cluster-master-failover-hb${hbMs}`, { promoted_ms: promoted, ready_after_kill_ms: ready, converge_ms: converge, fences: st.map((s) => s.stats.fences).join('/'), resyncs: st.map((s) => s.stats.resyncs).join('/'), peer_closes: closed });
    if (converge < 0) {
      for (const id of x.fleet.stalePeers()) console.log(`[faults] view of ${id}: ${JSON.stringify(await Promise.all(x.procs.map((p) => p!.explain(id))), null, 1)}`);
    }
    expect(promoted).toBeGreaterThanOrEqual(0);
    expect(st.every((s) => s.ready && s.stats.fenced === false), JSON.stringify(st)).toBe(true);
    expect(converge, x.fleet.describe()).toBeGreaterThanOrEqual(0);
    expect(x.fleet.mismatches(), x.fleet.describe()).toBe(0);
    const n = (await cl.onNode(heir.port, (r) => r.call('PUBSUB', 'SHARDNUMSUB', channel))) as unknown[];
    expect(Number(n[1]), `sharded subscribers of ${channel} on the heir`).toBe(3);
  });
});
