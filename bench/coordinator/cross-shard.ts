/**
 * Cross-shard coordinator bench: N shard processes (test/coordinator/shard/
 * shard-process.ts) on the local Redis; one agent on shard 0, clients on the
 * other shards. Measures
 *   - latency: agent node → client on another shard, one update in flight (p50/p99/max);
 *   - throughput: agent updates blasted, rate at which the remote client receives them;
 *   - the ceiling: a plain ioredis PUBLISH → SUBSCRIBE loop in the same run;
 *   - a short churn soak with the fault-test fleet (reconnect + convergence).
 *
 *   node --import tsx bench/coordinator/cross-shard.ts [shards=3] [updates=2000] [soakAgents=200]
 */
import { Redis } from 'ioredis';
import { startShards } from '../../test/coordinator/conformance/redis-backend.js';
import { idsOf, nodeJson, uuid, V1Peer } from '../../test/coordinator/helpers.js';
import { Fleet } from '../../test/faults/fleet.js';

const shards = Number(process.argv[2] ?? 3);
const updates = Number(process.argv[3] ?? 2000);
const soakAgents = Number(process.argv[4] ?? 200);
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
const r2 = (x: number): number => Math.round(x * 100) / 100;

async function rawCeiling(n: number): Promise<{ p50: number; p99: number; rate: number }> {
  const pub = new Redis();
  const sub = new Redis();
  const ch = `tailnetd:bench:${uuid()}`;
  await sub.subscribe(ch);
  const lat: number[] = [];
  let waiter: (() => void) | null = null;
  let got = 0;
  sub.on('messageBuffer', () => {
    got++;
    waiter?.();
  });
  const payload = Buffer.alloc(700, 1);
  for (let i = 0; i < Math.min(n, 1000); i++) {
    const t0 = performance.now();
    await new Promise<void>((res) => {
      waiter = res;
      void pub.publish(ch, payload);
    });
    lat.push(performance.now() - t0);
  }
  got = 0;
  const t0 = performance.now();
  const done = new Promise<void>((res) => {
    waiter = () => got >= n && res();
  });
  for (let i = 0; i < n; i++) void pub.publish(ch, payload);
  await done;
  const rate = n / ((performance.now() - t0) / 1000);
  pub.disconnect();
  sub.disconnect();
  return { p50: pct(lat, 50), p99: pct(lat, 99), rate };
}

async function crossShard(): Promise<Record<string, number>> {
  const b = await startShards(shards);
  try {
    const agentId = uuid();
    const a = await V1Peer.connect(b.agentUrl(agentId, 0));
    const c = await V1Peer.connect(b.clientUrl(agentId, uuid(), 1));
    const lat: number[] = [];
    for (let i = 0; i < Math.min(updates, 1000); i++) {
      const n = nodeJson();
      const id = idsOf([n])[0]!;
      const t0 = performance.now();
      a.send(n);
      await c.until(() => idsOf(c.messages.at(-1) ?? []).includes(id), 'update', 5000);
      lat.push(performance.now() - t0);
    }
    const nodes = Array.from({ length: updates }, () => nodeJson());
    const last = idsOf([nodes.at(-1)!])[0]!;
    const before = c.nodes.length;
    const t0 = performance.now();
    for (const [i, n] of nodes.entries()) {
      a.send(n);
      if (i % 200 === 199) await new Promise((r) => setImmediate(r));
    }
    await c.until(() => idsOf(c.messages.at(-1) ?? []).includes(last), 'last update', 60_000);
    const secs = (performance.now() - t0) / 1000;
    const received = c.nodes.length - before;
    await a.close();
    await c.close();
    return { p50_ms: r2(pct(lat, 50)), p99_ms: r2(pct(lat, 99)), max_ms: r2(Math.max(...lat)), updates_per_s: Math.round(received / secs), delivered: received, sent: updates };
  } finally {
    await b.stop();
  }
}

async function soak(): Promise<Record<string, number>> {
  const b = await startShards(shards);
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

const ceiling = await rawCeiling(updates * 5);
const cross = await crossShard();
const soakRes = await soak();
const out = { node: process.version, shards, ceiling_raw_pubsub: { p50_ms: r2(ceiling.p50), p99_ms: r2(ceiling.p99), msgs_per_s: Math.round(ceiling.rate) }, cross_shard: cross, soak: soakRes };
process.stdout.write(JSON.stringify(out, null, 2) + '\n');
process.exit(0);
