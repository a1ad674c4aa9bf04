/**
 * Cross-shard coordinator bench, for each shard count in the list (default 2, 3, 4, 8):
 * N shard processes (test/coordinator/shard/shard-process.ts) on the local Redis; one agent
 * on shard 0 and one client on every other shard. Measures
 *   - latency: agent node → every remote client, one update in flight (p50/p99/max);
 *   - throughput: agent updates blasted, rate at which every remote client has them;
 *   - the ceiling, same run and same N: plain ioredis PUBLISH → N SUBSCRIBE connections (the bus
 *     has N subscribers: every shard, the publisher included);
 *   - a short churn soak with the fault-test fleet (reconnect + convergence), at 3 shards
 *     (or the first count listed); the full churn soak is bench/coordinator/soak.ts.
 *
 *   node --import tsx bench/coordinator/cross-shard.ts [shards=2,3,4,8] [updates=2000] [soakAgents=200] [--cluster]
 *
 * --cluster: the same on a private 3-master Redis Cluster (test/helpers/redis-cluster.ts) with
 * the shards in cluster mode (SPUBLISH/SSUBSCRIBE); the ceiling is then raw SPUBLISH →
 * N SSUBSCRIBE connections on the master owning the channel's slot.
 */
import { Redis } from 'ioredis';
import { startShards } from '../../test/coordinator/conformance/redis-backend.js';
import { idsOf, nodeJson, uuid, V1Peer } from '../../test/coordinator/helpers.js';
import { Fleet } from '../../test/faults/fleet.js';
import { RedisCluster } from '../../test/helpers/redis-cluster.js';

const argv = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const rc = process.argv.includes('--cluster') ? await RedisCluster.start(3) : null;
const shardOpts = rc === null ? {} : { redisUrl: rc.url, cluster: true };
const shardCounts = (argv[0] ?? '2,3,4,8').split(',').map(Number);
if (shardCounts.some((n) => !Number.isInteger(n) || n < 2)) throw new Error('shard counts must be integers ≥ 2');
const updates = Number(argv[1] ?? 2000);
const soakAgents = Number(argv[2] ?? 200);
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
const r2 = (x: number): number => Math.round(x * 100) / 100;

async function rawCeiling(n: number, subscribers: number): Promise<{ p50: number; p99: number; rate: number }> {
  const ch = `tailnetd:bench:${uuid()}`;
  // On a cluster: straight to the master owning the channel's slot, where the bus's SPUBLISH lands.
  const port = rc === null ? 6379 : (await rc.ownerOf(ch)).port;
  const pub = new Redis({ port });
  const subs = Array.from({ length: subscribers }, () => new Redis({ port }));
  await Promise.all(subs.map((s) => (rc === null ? s.subscribe(ch) : s.ssubscribe(ch))));
  const publish = (m: Buffer): Promise<unknown> => (rc === null ? pub.publish(ch, m) : pub.spublish(ch, m));
  const lat: number[] = [];
  let waiter: (() => void) | null = null;
  // A message counts once every subscriber has it (as a cross-shard update counts once every remote shard has it).
  const got = new Array<number>(subscribers).fill(0);
  const all = (): number => Math.min(...got);
  subs.forEach((s, i) =>
    s.on(rc === null ? 'messageBuffer' : 'smessageBuffer', () => {
      got[i]!++;
      waiter?.();
    }),
  );
  const payload = Buffer.alloc(700, 1);
  for (let i = 0; i < Math.min(n, 1000); i++) {
    const t0 = performance.now();
    const want = all() + 1;
    await new Promise<void>((res) => {
      waiter = () => all() >= want && res();
      void publish(payload);
    });
    lat.push(performance.now() - t0);
  }
  const base = all();
  const t0 = performance.now();
  const done = new Promise<void>((res) => {
    waiter = () => all() - base >= n && res();
  });
  for (let i = 0; i < n; i++) void publish(payload);
  await done;
  const rate = n / ((performance.now() - t0) / 1000);
  pub.disconnect();
  for (const s of subs) s.disconnect();
  return { p50: pct(lat, 50), p99: pct(lat, 99), rate };
}

async function crossShard(shards: number): Promise<Record<string, number>> {
  const b = await startShards(shards, shardOpts);
  try {
    const agentId = uuid();
    const a = await V1Peer.connect(b.agentUrl(agentId, 0));
    const cs = await Promise.all(Array.from({ length: shards - 1 }, (_, i) => V1Peer.connect(b.clientUrl(agentId, uuid(), i + 1))));
    const has = (id: string) => (c: V1Peer) => idsOf(c.messages.at(-1) ?? []).includes(id);
    const lat: number[] = [];
    for (let i = 0; i < Math.min(updates, 1000); i++) {
      const n = nodeJson();
      const id = idsOf([n])[0]!;
      const t0 = performance.now();
      a.send(n);
      await Promise.all(cs.map((c) => c.until(() => has(id)(c), 'update', 5000)));
      lat.push(performance.now() - t0);
    }
    const nodes = Array.from({ length: updates }, () => nodeJson());
    const last = idsOf([nodes.at(-1)!])[0]!;
    const before = cs.map((c) => c.nodes.length);
    const t0 = performance.now();
    for (const [i, n] of nodes.entries()) {
      a.send(n);
      if (i % 200 === 199) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(cs.map((c) => c.until(() => has(last)(c), 'last update', 60_000)));
    const secs = (performance.now() - t0) / 1000;
    const received = Math.min(...cs.map((c, i) => c.nodes.length - before[i]!));
    await a.close();
    await Promise.all(cs.map((c) => c.close()));
    return { p50_ms: r2(pct(lat, 50)), p99_ms: r2(pct(lat, 99)), max_ms: r2(Math.max(...lat)), updates_per_s: Math.round(received / secs), delivered_min_per_client: received, sent: updates };
  } finally {
    await b.stop();
  }
}

async function soak(shards: number): Promise<Record<string, number>> {
  const b = await startShards(shards, shardOpts);
  const fleet = new Fleet({ alive: () => b.procs.map((_, i) => i), port: (i) => b.procs[i]!.port });
  try {
    const t0 = Date.now();
    await fleet.start(soakAgents, 3);
    const connectMs = Date.now() - t0;
    const churnT0 = Date.now();
    let sent = 0;
    while (Date.now() - churnT0 < 10_000) {
      fleet.churn(50);
      sent += 50;
      await new Promise((r) => setTimeout(r, 100));
    }
    const converge = await fleet.converge(30_000);
    return { peers: soakAgents * 4, connect_ms: connectMs, churn_updates: sent, churn_s: 10, converge_ms: converge, mismatches: fleet.mismatches() };
  } finally {
    fleet.stop();
    await b.stop();
  }
}

const rows: Array<{ shards: number; ceiling: { p50_ms: number; p99_ms: number; msgs_per_s: number }; cross_shard: Record<string, number> }> = [];
for (const n of shardCounts) {
  const ceiling = await rawCeiling(updates * 5, n);
  const cross = await crossShard(n);
  rows.push({ shards: n, ceiling: { p50_ms: r2(ceiling.p50), p99_ms: r2(ceiling.p99), msgs_per_s: Math.round(ceiling.rate) }, cross_shard: cross });
}
const soakShards = shardCounts.includes(3) ? 3 : shardCounts[0]!;
const soakRes = await soak(soakShards);
process.stdout.write('| shards | cross-shard p50 / p99 / max ms (agent → client on each other shard) | delivered updates/s (every remote client) | raw ioredis PUBLISH → N subscribers (as the bus) p50 / p99 ms | raw msgs/s (to every subscriber) |\n|---|---|---|---|---|\n');
for (const r of rows) {
  const c = r.cross_shard;
  process.stdout.write(`| ${r.shards} | ${c.p50_ms} / ${c.p99_ms} / ${c.max_ms} | ${c.updates_per_s} | ${r.ceiling.p50_ms} / ${r.ceiling.p99_ms} | ${r.ceiling.msgs_per_s} |\n`);
}
const out = { node: process.version, redis: rc === null ? 'single node' : 'cluster (3 masters)', runs: rows, soak: { shards: soakShards, ...soakRes } };
process.stdout.write(JSON.stringify(out, null, 2) + '\n');
await rc?.stop();
process.exit(0);
