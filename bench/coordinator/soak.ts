/**
 * Coordinator churn soak (design-guide §C.6 #2; issue #5 item 3).
 *
 *   soak.ts ──spawn──► shard-process ×S (Shard + v1 coordinate routes, local Redis, own key prefix)
 *           ──fork───► soak-child ×G   (agents + all their clients: churn, updates, ground truth)
 *           ──────────► Redis: INFO deltas, a counting subscriber on the bus channel
 *
 * Peers: agents × (1 + clients per agent); agent a on shard a % S, its client j on shard
 * (a + j) % S, so with 3 clients and 3 shards a third of the pairs are same-shard and two
 * thirds cross-shard; churned peers rejoin a random shard. During the run: `rate` graceful
 * disconnects and `rate` connects per second, and node updates round-robin so each open peer
 * updates about every `update-every` seconds. Afterwards every churned-out peer reconnects and
 * the run waits for every peer's view to equal ground truth (0 lost final states).
 *
 *   node --import tsx bench/coordinator/soak.ts [--peers=5000] [--shards=3] [--rate=50] [--duration=300]
 *        [--update-every=5] [--clients-per=3] [--gens=2] [--hb=2000] [--write]
 *   (or `npm run bench -- coordinator-soak`, which never writes)
 *
 * --write replaces only the "## Coordinator churn soak" section of bench/RESULTS.md.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { replaceResultsSection } from '../results-file.js';
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { busKeys } from '../../src/coordinator/shard/bus.js';
import { startShards } from '../../test/coordinator/conformance/redis-backend.js';
import { Child } from './ipc.js';

const argv = process.argv.slice(2);
const flag = (name: string, dflt: number): number => {
  const a = argv.find((x) => x.startsWith(`--${name}=`));
  const v = a === undefined ? dflt : Number(a.slice(name.length + 3));
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
};
const PEERS = flag('peers', 5000);
const SHARDS = flag('shards', 3);
const RATE = flag('rate', 50);
const DURATION_S = flag('duration', 300);
const UPDATE_EVERY_S = flag('update-every', 5);
const CLIENTS_PER = flag('clients-per', 3);
const GENS = flag('gens', 2);
const HB_MS = flag('hb', 2000);
const SAMPLE_MS = flag('sample-every', 5) * 1000;
const WRITE = argv.includes('--write');
const REDIS_URL = process.env.TAILNETD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const AGENTS = Math.max(1, Math.round(PEERS / (1 + CLIENTS_PER)));
const TOTAL = AGENTS * (1 + CLIENTS_PER);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};
const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '–');
const mb = (x: number): string => (x / 1e6).toFixed(0);

interface Proc {
  rss: number;
  heapUsed: number;
  cpuMicros: number;
  eldP99Ms: number;
  eldMaxMs: number;
}
interface GenStats {
  same: number[];
  sameN: number;
  sameMax: number;
  cross: number[];
  crossN: number;
  crossMax: number;
  joins: number[];
  joinsMax: number;
  counts: Record<string, number>;
  closeCodes: Record<string, number>;
  open: number;
}
interface Mismatch {
  bad: number;
  down: number;
  examples: string[];
}

/** INFO fields as numbers (stats + commandstats calls). */
async function redisInfo(r: Redis): Promise<Record<string, number>> {
  const text = `${await r.info('stats')}\n${await r.info('commandstats')}`;
  const out: Record<string, number> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^([a-z_]+):(\d+)\r?$/.exec(line);
    if (m) out[m[1] as string] = Number(m[2]);
    const c = /^cmdstat_([a-z|_]+):calls=(\d+)/.exec(line);
    if (c) out[`cmd_${c[1] as string}`] = Number(c[2]);
  }
  return out;
}

async function main(): Promise<void> {
  const lines: string[] = [];
  const out = (s: string): void => {
    console.log(s);
    lines.push(s);
  };
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}, load average at start ${loadavg().map((x) => x.toFixed(1)).join(' ')}`;
  const shardsB = await startShards(SHARDS, { env: { HB_MS: String(HB_MS), CLOSE_SPREAD_MS: '2000' }, redisUrl: REDIS_URL });
  const procs = shardsB.procs;
  const admin = new Redis(REDIS_URL);
  const counter = new Redis(REDIS_URL);
  const gens = Array.from({ length: GENS }, () => new Child('./soak-child.ts'));
  let busMsgs = 0;
  let busBytes = 0;
  try {
    const redisVersion = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? '?';
    await counter.subscribe(busKeys(shardsB.prefix).channel);
    counter.on('messageBuffer', (_ch: Buffer, m: Buffer) => {
      busMsgs++;
      busBytes += m.length;
    });
    const proc = (i: number, reset = false): Promise<Proc> => fetch(`http://127.0.0.1:${procs[i]!.port}/debug/proc${reset ? '?reset=1' : ''}`).then((r) => r.json() as Promise<Proc>);
    const allProcs = (reset = false): Promise<Proc[]> => Promise.all(procs.map((_, i) => proc(i, reset)));
    const ports = procs.map((p) => p.port);

    // Peers, partitioned by agent so every pair lives in one generator.
    const specs: Array<Array<Record<string, unknown>>> = gens.map(() => []);
    for (let a = 0; a < AGENTS; a++) {
      const base = a * (1 + CLIENTS_PER);
      const g = specs[a % GENS]!;
      g.push({ idx: base, id: randomUUID(), kind: 'agent', shard: a % SHARDS });
      for (let j = 0; j < CLIENTS_PER; j++) g.push({ idx: base + 1 + j, id: randomUUID(), kind: 'client', shard: (a + j) % SHARDS, agent: base });
    }
    await Promise.all(gens.map((g, i) => g.call('setup', { specs: specs[i], ports })));
    const sameShardPairs = Array.from({ length: AGENTS }, (_, a) => Array.from({ length: CLIENTS_PER }, (_, j) => (a + j) % SHARDS === a % SHARDS)).flat().filter(Boolean).length;

    const mismatches = async (): Promise<Mismatch> => {
      const all = await Promise.all(gens.map((g) => g.call<Mismatch>('mismatches')));
      return { bad: all.reduce((n, m) => n + m.bad, 0), down: all.reduce((n, m) => n + m.down, 0), examples: all.flatMap((m) => m.examples).slice(0, 5) };
    };
    const converge = async (ms: number): Promise<{ ms: number; last: Mismatch }> => {
      const t0 = Date.now();
      let last = await mismatches();
      while (last.bad + last.down > 0 && Date.now() - t0 < ms) {
        await sleep(250);
        last = await mismatches();
      }
      return { ms: last.bad + last.down === 0 ? Date.now() - t0 : -1, last };
    };

    console.log(`connecting ${TOTAL} peers (${AGENTS} agents × ${CLIENTS_PER} clients) to ${SHARDS} shards…`);
    const tc = Date.now();
    const opened = (await Promise.all(gens.map((g) => g.call<number>('connectAll')))).reduce((a, b) => a + b, 0);
    const connectMs = Date.now() - tc;
    const initial = await converge(120_000);
    console.log(`connected ${opened}/${TOTAL} in ${connectMs} ms; initial views converged in ${initial.ms} ms`);

    // ---- churn window ----
    await Promise.all(gens.map((g) => g.call('stats', { reset: true })));
    const p0 = await allProcs(true);
    const info0 = await redisInfo(admin);
    busMsgs = 0;
    busBytes = 0;
    const rss: number[][] = p0.map((p) => [p.rss]);
    const t0 = performance.now();
    const ms = DURATION_S * 1000;
    const updatesPerSec = TOTAL / UPDATE_EVERY_S;
    console.log(`churn: ${RATE} connects + ${RATE} disconnects/s, ${updatesPerSec.toFixed(0)} node updates/s, ${DURATION_S} s`);
    let churning = true;
    const churn = Promise.all(gens.map((g) => g.call('churn', { connectsPerSec: RATE / GENS, disconnectsPerSec: RATE / GENS, updatesPerSec: updatesPerSec / GENS, ms }))).finally(() => (churning = false));
    let nextReport = 30_000;
    while (churning) {
      await Promise.race([churn, sleep(SAMPLE_MS)]);
      const ps = await allProcs();
      ps.forEach((p, i) => rss[i]!.push(p.rss));
      const el = performance.now() - t0;
      if (el >= nextReport) {
        nextReport += 30_000;
        console.log(`  t=${(el / 1000).toFixed(0)} s  RSS ${ps.map((p) => mb(p.rss)).join('/')} MB  bus ${(busMsgs / (el / 1000)).toFixed(0)} msgs/s`);
      }
    }
    await churn;
    const churnS = (performance.now() - t0) / 1000;
    const p1 = await allProcs();
    const info1 = await redisInfo(admin);
    const bus = { msgs: busMsgs, bytes: busBytes };
    const states = await Promise.all(procs.map((p) => p.state()));

    // ---- settle: everyone back, views must equal ground truth ----
    const back = (await Promise.all(gens.map((g) => g.call<number>('reconnectAll')))).reduce((a, b) => a + b, 0);
    const settled = await converge(60_000);
    const g = await Promise.all(gens.map((x) => x.call<GenStats>('stats', { final: true })));
    const sum = (k: string): number => g.reduce((n, s) => n + (s.counts[k] ?? 0), 0);
    const sameAll = g.flatMap((s) => s.same);
    const crossAll = g.flatMap((s) => s.cross);
    const joinsAll = g.flatMap((s) => s.joins);
    const codes: Record<string, number> = {};
    for (const s of g) for (const [c, n] of Object.entries(s.closeCodes)) codes[c] = (codes[c] ?? 0) + n;
    const delta = (k: string): number => ((info1[k] ?? 0) - (info0[k] ?? 0)) / churnS;

    out(`Run: ${new Date().toISOString().slice(0, 16)}Z, ${machine}; Redis ${redisVersion} (local, shared with other work); wall clock.`);
    out(
      `Command: \`node --import tsx bench/coordinator/soak.ts --peers=${PEERS} --shards=${SHARDS} --rate=${RATE} --duration=${DURATION_S} --update-every=${UPDATE_EVERY_S} --clients-per=${CLIENTS_PER} --gens=${GENS} --hb=${HB_MS}\``,
    );
    out('');
    out(
      `${TOTAL} peers (${AGENTS} agents × ${CLIENTS_PER} clients; ${sameShardPairs} of ${AGENTS * CLIENTS_PER} pairs start same-shard), ${SHARDS} shard processes, ${GENS} load-generator processes; ` +
        `connected in ${(connectMs / 1000).toFixed(1)} s. Churn ${f1(sum('connects') / churnS)} connects + ${f1(sum('disconnects') / churnS)} disconnects/s and ${f1(sum('updatesSent') / churnS)} node updates/s for ${churnS.toFixed(0)} s; a churned-in peer's socket opened after p50 ${f1(pct(joinsAll, 50))} / p99 ${f1(pct(joinsAll, 99))} / max ${f1(Math.max(0, ...g.map((s) => s.joinsMax)))} ms.`,
    );
    out('');
    out('| propagation (update sent → partner receives) | samples | p50 ms | p99 ms | max ms |');
    out('|---|---|---|---|---|');
    out(`| same shard | ${g.reduce((n, s) => n + s.sameN, 0)} | ${f2(pct(sameAll, 50))} | ${f2(pct(sameAll, 99))} | ${f1(Math.max(0, ...g.map((s) => s.sameMax)))} |`);
    out(`| cross shard (via Redis) | ${g.reduce((n, s) => n + s.crossN, 0)} | ${f2(pct(crossAll, 50))} | ${f2(pct(crossAll, 99))} | ${f1(Math.max(0, ...g.map((s) => s.crossMax)))} |`);
    out('');
    out('| shard | RSS start / max / end MB | heap end MB | CPU % (churn) | event-loop delay p99 / max ms | peers held at end of churn (local / remote) |');
    out('|---|---|---|---|---|---|');
    procs.forEach((_, i) => {
      const r = rss[i]!;
      const st = states[i]!.stats;
      out(
        `| ${i} | ${mb(r[0]!)} / ${mb(Math.max(...r))} / ${mb(p1[i]!.rss)} | ${mb(p1[i]!.heapUsed)} | ${f1(((p1[i]!.cpuMicros - p0[i]!.cpuMicros) / 1e6 / churnS) * 100)} | ${f1(p1[i]!.eldP99Ms)} / ${f1(p1[i]!.eldMaxMs)} | ${String(st.local)} / ${String(st.ghosts)} |`,
      );
    });
    out('');
    out('| Redis | per second over the churn window |');
    out('|---|---|');
    out(`| bus messages published (this run's channel) | ${f1(bus.msgs / churnS)} (${f1(bus.bytes / churnS / 1000)} kB/s; each delivered to ${SHARDS} shards + the counter) |`);
    out(`| PUBLISH calls (whole server) | ${f1(delta('cmd_publish'))} |`);
    out(`| commands processed (whole server) | ${f1(delta('total_commands_processed'))} |`);
    out('');
    const lost = settled.last.bad + settled.last.down;
    out(
      `Final states: ${back} churned-out peers reconnected, every view equal to ground truth after ${settled.ms >= 0 ? `${settled.ms} ms` : 'NOT within 60 s'}; ` +
        `**${lost} lost final states**${lost > 0 ? ` (${settled.last.bad} wrong views, ${settled.last.down} peers not open; e.g. ${settled.last.examples.join('; ')})` : ''}. ` +
        `Server-initiated closes during churn: ${Object.keys(codes).length === 0 ? 'none' : Object.entries(codes).map(([c, n]) => `${n}× ${c}`).join(', ')}; ` +
        `resyncs ${states.map((s) => String(s.stats.resyncs)).join('/')}, seq gaps ${states.map((s) => String(s.stats.gaps)).join('/')}; ` +
        `intermediate updates not seen on an unchanged connection ${sum('missed')} of ${sum('expected')} expected deliveries.`,
    );
    console.log(JSON.stringify({ peers: TOTAL, shards: SHARDS, churn_s: churnS, lost_final_states: lost, settle_ms: settled.ms, same_p50: pct(sameAll, 50), same_p99: pct(sameAll, 99), cross_p50: pct(crossAll, 50), cross_p99: pct(crossAll, 99), bus_msgs_per_s: bus.msgs / churnS, counts: Object.fromEntries(Object.keys(g[0]?.counts ?? {}).map((k) => [k, sum(k)])) }));
    if (WRITE) writeResults(lines);
    if (lost > 0) process.exitCode = 1;
  } finally {
    await Promise.all(gens.map((x) => x.call('closeAll').catch(() => undefined)));
    for (const x of gens) x.kill();
    counter.disconnect();
    admin.disconnect();
    await shardsB.stop();
  }
}

function writeResults(lines: string[]): void {
  const file = fileURLToPath(new URL('../RESULTS.md', import.meta.url));
  const section = [
    '## Coordinator churn soak',
    '',
    'Design-guide §C.6 #2: shard processes (test/coordinator/shard/shard-process.ts: Shard + v1 coordinate routes) on the local Redis',
    'under their own key prefix; v1 peers in separate load-generator processes (agent and its clients in one process, so latency is',
    'one clock). Propagation = a fresh node update sent by a peer until a partner that was open at send time receives it; RSS sampled',
    'every few seconds; event-loop delay from monitorEventLoopDelay in each shard over the churn window; Redis figures are INFO deltas',
    '(whole server) and a counting subscriber on this run\'s bus channel. Latency includes scheduling on a shared 2-core machine.',
    '',
    ...lines,
    '',
  ].join('\n');
  replaceResultsSection(section, file);
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
