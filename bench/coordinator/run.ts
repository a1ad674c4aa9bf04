/**
 * Coordinator benchmarks (perf-anchors.md §2: C1, C2, C5, C6).
 *
 *   run.ts ──fork──► server-child (coord | ws | sio ×2 + Redis)
 *          ──fork──► loadgen-child ×2 (raw-WebSocket receivers, paced senders, C1 peers)
 *
 * Usage: node --import tsx bench/coordinator/run.ts [--quick] [--only=C1,C2,C5,C6,FW] [--no-write]
 * (or `npm run bench:coordinator`). A full run replaces the "## Coordinator" section of bench/RESULTS.md.
 *
 * With --proto=v1|v2|both|mixed, C1, C2 and C5 (sockets) run with v1 JSON and/or v2 dRPC peers side by side
 * instead (proto.ts); only --write then writes, and only the "## Coordinator v2 vs v1" section.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { replaceResultsSection } from '../results-file.js';
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Child } from './ipc.js';
import { coreInstructionsPerUpdate } from './core-instructions.js';
import { coreCostPerUpdate } from './core-scale.js';
import { runFrameWrite } from './frame-write.js';
import { runProtoComparison } from './proto.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = (args.find((a) => a.startsWith('--only='))?.slice(7) ?? 'C1,C2,C5,C6,FW').split(',');
// Full runs update bench/RESULTS.md (as `npm run bench` expects); quick or partial runs never do.
const write = !quick && !args.includes('--no-write') && !args.some((a) => a.startsWith('--only='));
const lines: string[] = [];
const out = (s: string): void => {
  console.log(s);
  lines.push(s);
};

interface ServerStats {
  cpuMicros: number;
  rss: number;
  heapUsed: number;
  peers: number;
  /** Server event-loop delay since the last reset (ms). */
  eldP99: number;
  eldMax: number;
}
interface GenStats {
  frames: number;
  samples: number[];
  seen: number;
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}
const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '–');
const k = (x: number): string => (x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** C5: length of the idle window whose CPU rate is subtracted from each run. */
const IDLE_MS = 4000;

type System = 'coord' | 'ws' | 'sio';

interface Deployment {
  servers: Child[];
  ports: number[];
  stop(): void;
}

async function deploy(system: System): Promise<Deployment> {
  const n = system === 'sio' ? 2 : 1;
  const key = `bench-coord-${randomUUID()}`;
  const servers = Array.from({ length: n }, () => new Child('./server-child.ts', [system, key]));
  const ports: number[] = [];
  for (const s of servers) ports.push((await s.call<{ port: number }>('start')).port);
  return { servers, ports, stop: () => servers.forEach((s) => s.kill()) };
}

function agentUrl(system: System, port: number, agentId: string): string {
  return system === 'sio'
    ? `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket&role=agent&agent=${agentId}`
    : `ws://127.0.0.1:${port}/api/v2/workspaceagents/me/coordinate?agent=${agentId}`;
}
function clientUrl(system: System, port: number, agentId: string): string {
  return system === 'sio'
    ? `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket&role=client&agent=${agentId}`
    : `ws://127.0.0.1:${port}/api/v2/workspaceagents/${agentId}/coordinate?client=${randomUUID()}`;
}

async function serverStats(d: Deployment, reset = false): Promise<ServerStats> {
  const all = await Promise.all(d.servers.map((s) => s.call<ServerStats>('stats', { reset })));
  return all.reduce((a, b) => ({
    cpuMicros: a.cpuMicros + b.cpuMicros,
    rss: a.rss + b.rss,
    heapUsed: a.heapUsed + b.heapUsed,
    peers: a.peers + b.peers,
    eldP99: Math.max(a.eldP99, b.eldP99),
    eldMax: Math.max(a.eldMax, b.eldMax),
  }));
}

// ---------------------------------------------------------------- C2
interface StepResult {
  rate: number;
  offered: number;
  delivered: number;
  p50: number;
  p99: number;
  cpu: number;
  /** Delivered frames per server CPU-second (capacity per core, generator-independent). */
  perCore: number;
}

async function c2(system: System, receiversN: number, rates: number[], stepMs: number): Promise<{ steps: StepResult[]; best: StepResult | null; perCore: number }> {
  const d = await deploy(system);
  const gen = new Child('./loadgen-child.ts');
  const snd = new Child('./loadgen-child.ts');
  try {
    const agentId = randomUUID();
    await snd.call('senderOpen', { system, url: agentUrl(system, d.ports[0] as number, agentId) });
    const urls = Array.from({ length: receiversN }, (_, i) => clientUrl(system, d.ports[i % d.ports.length] as number, agentId));
    await gen.call('recvOpen', { system, urls, sampleEvery: 10, base: 0 });
    await sleep(300);
    await snd.call('senderRun', { rate: rates[0], ms: 1000 }); // warm-up
    await sleep(500);
    await gen.call('stats', { reset: true });
    const steps: StepResult[] = [];
    let best: StepResult | null = null;
    let failures = 0;
    for (const rate of rates) {
      const s0 = await serverStats(d);
      const t0 = performance.now();
      const sent = await snd.call<number>('senderRun', { rate, ms: stepMs });
      await sleep(400); // let the tail drain into this step
      const el = (performance.now() - t0) / 1000;
      const s1 = await serverStats(d);
      const g = await gen.call<GenStats>('stats', { reset: true });
      const r: StepResult = {
        rate,
        offered: (sent * receiversN) / (stepMs / 1000),
        delivered: g.frames / (stepMs / 1000),
        p50: pct(g.samples, 50),
        p99: pct(g.samples, 99),
        cpu: (s1.cpuMicros - s0.cpuMicros) / 1e6 / el,
        perCore: 0,
      };
      r.perCore = g.frames / ((s1.cpuMicros - s0.cpuMicros) / 1e6);
      steps.push(r);
      const ok = r.p99 <= 100 && g.frames >= 0.97 * sent * receiversN;
      if (ok && (best === null || r.delivered > best.delivered)) best = r;
      // A shared machine produces outliers: stop after two failing steps in a row.
      failures = ok ? 0 : failures + 1;
      if (failures >= 2) break;
      await sleep(300);
    }
    const loaded = steps.filter((x) => x.cpu >= 0.1).map((x) => x.perCore);
    return { steps, best, perCore: pct(loaded.length > 0 ? loaded : steps.map((x) => x.perCore), 50) };
  } finally {
    await gen.call('closeAll').catch(() => {});
    await snd.call('closeAll').catch(() => {});
    gen.kill();
    snd.kill();
    d.stop();
  }
}

// ---------------------------------------------------------------- peers (C1, C5, C6)
async function connectPairs(system: System, d: Deployment, pairs: number, agentsGen: Child, clientsGen: Child): Promise<void> {
  const ids = Array.from({ length: pairs }, () => randomUUID());
  const port = d.ports[0] as number;
  await agentsGen.call('peersOpen', { urls: ids.map((id) => agentUrl(system, port, id)), base: 0 });
  await clientsGen.call('peersOpen', { urls: ids.map((id) => clientUrl(system, port, id)), base: 20 });
}

async function c1(pairs: number, ms: number): Promise<Record<string, number>> {
  const d = await deploy('coord');
  const ga = new Child('./loadgen-child.ts');
  const gc = new Child('./loadgen-child.ts');
  try {
    const base = await d.servers[0]!.call<{ rss: number }>('gc');
    await connectPairs('coord', d, pairs, ga, gc);
    await ga.call('peersSendOnce');
    await gc.call('peersSendOnce');
    await sleep(1000);
    const after = await d.servers[0]!.call<{ rss: number }>('gc');
    await ga.call('stats', { reset: true });
    await gc.call('stats', { reset: true });
    const s0 = await serverStats(d, true);
    const t0 = performance.now();
    const [sa, sc] = await Promise.all([
      ga.call<number>('peersRun', { ms, periodMs: 23_000, burstFraction: 0.01 }),
      gc.call<number>('peersRun', { ms, periodMs: 23_000, burstFraction: 0.01 }),
    ]);
    await sleep(300);
    const el = (performance.now() - t0) / 1000;
    const s1 = await serverStats(d);
    const a = await ga.call<GenStats>('stats', { reset: true });
    const c = await gc.call<GenStats>('stats', { reset: true });
    const samples = a.samples.concat(c.samples);
    return {
      peers: pairs * 2,
      sent: sa + sc,
      delivered: a.frames + c.frames,
      p50: pct(samples, 50),
      p99: pct(samples, 99),
      max: pct(samples, 100),
      cpuPct: ((s1.cpuMicros - s0.cpuMicros) / 1e6 / el) * 100,
      rssPerPeer: (after.rss - base.rss) / (pairs * 2),
      rssMB: s1.rss / 1e6,
      eldP99: s1.eldP99,
      eldMax: s1.eldMax,
    };
  } finally {
    await ga.call('closeAll').catch(() => {});
    await gc.call('closeAll').catch(() => {});
    ga.kill();
    gc.kill();
    d.stop();
  }
}

async function c5(pairs: number, rate: number, ms: number): Promise<Record<string, number>> {
  const d = await deploy('coord');
  const ga = new Child('./loadgen-child.ts');
  const gc = new Child('./loadgen-child.ts');
  try {
    await connectPairs('coord', d, pairs, ga, gc);
    await ga.call('peersSendOnce');
    await gc.call('peersSendOnce');
    const periodMs = ((pairs * 2) / rate) * 1000;
    // Warm-up at the same rate: JIT and caches settle before anything is measured.
    await Promise.all([ga.call<number>('peersRun', { ms: 2000, periodMs, burstFraction: 0 }), gc.call<number>('peersRun', { ms: 2000, periodMs, burstFraction: 0 })]);
    await sleep(1000);
    await ga.call('stats', { reset: true });
    await gc.call('stats', { reset: true });
    // The idle fleet's background (keep-alives, timers) grows with N but is not per-update cost:
    // measure it first, subtract it from the run ("above idle", the figure the C5 target reads).
    const i0 = await serverStats(d);
    const ti = performance.now();
    await sleep(IDLE_MS);
    const i1 = await serverStats(d);
    const idleCpuPerMs = (i1.cpuMicros - i0.cpuMicros) / (performance.now() - ti);
    const t0 = performance.now();
    const s0 = await serverStats(d);
    const [sa, sc] = await Promise.all([
      ga.call<number>('peersRun', { ms, periodMs, burstFraction: 0 }),
      gc.call<number>('peersRun', { ms, periodMs, burstFraction: 0 }),
    ]);
    await sleep(300);
    const s1 = await serverStats(d);
    const elapsedMs = performance.now() - t0;
    const a = await ga.call<GenStats>('stats', { reset: true });
    const c = await gc.call<GenStats>('stats', { reset: true });
    const sent = sa + sc;
    return {
      peers: pairs * 2,
      sent,
      usPerUpdate: (s1.cpuMicros - s0.cpuMicros) / sent,
      netUsPerUpdate: (s1.cpuMicros - s0.cpuMicros - idleCpuPerMs * elapsedMs) / sent,
      idleCpuPct: idleCpuPerMs / 10,
      p99: pct(a.samples.concat(c.samples), 99),
      delivered: a.frames + c.frames,
    };
  } finally {
    await ga.call('closeAll').catch(() => {});
    await gc.call('closeAll').catch(() => {});
    ga.kill();
    gc.kill();
    d.stop();
  }
}

async function c6(system: 'coord' | 'ws', pairs: number): Promise<number> {
  const d = await deploy(system);
  const ga = new Child('./loadgen-child.ts');
  const gc = new Child('./loadgen-child.ts');
  try {
    const base = await d.servers[0]!.call<{ rss: number }>('gc');
    await connectPairs(system, d, pairs, ga, gc);
    await ga.call('peersSendOnce');
    await gc.call('peersSendOnce');
    await sleep(1500);
    const after = await d.servers[0]!.call<{ rss: number }>('gc');
    return (after.rss - base.rss) / (pairs * 2);
  } finally {
    await ga.call('closeAll').catch(() => {});
    await gc.call('closeAll').catch(() => {});
    ga.kill();
    gc.kill();
    d.stop();
  }
}

// ---------------------------------------------------------------- main
async function main(): Promise<void> {
  const started = Date.now();
  out(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}, load average at start ${loadavg().map((x) => x.toFixed(1)).join(' ')} (shared machine)`);
  out('');
  if (only.includes('C2')) {
    const receivers = quick ? 200 : 250;
    const rates = quick ? [20, 80, 160] : [40, 80, 160, 240, 320, 480, 640, 800, 960, 1200, 1440, 1760];
    const stepMs = quick ? 1500 : 3000;
    out(`### C2 fan-out ramp: 1 agent → ${receivers} clients, ~420 B nodes, ${stepMs / 1000} s steps; max delivered/s with p99 ≤ 100 ms`);
    out('');
    out('| system | updates/s in | delivered/s | p50 ms | p99 ms | server CPU (cores) | frames per server CPU-s |');
    out('|---|---|---|---|---|---|---|');
    const best: Partial<Record<System, number>> = {};
    const perCore: Partial<Record<System, number>> = {};
    for (const system of ['coord', 'ws', 'sio'] as System[]) {
      const r = await c2(system, receivers, rates, stepMs);
      for (const s of r.steps) out(`| ${system} | ${s.rate} | ${k(s.delivered)} | ${f1(s.p50)} | ${f1(s.p99)} | ${f2(s.cpu)} | ${k(s.perCore)} |`);
      best[system] = r.best?.delivered ?? 0;
      perCore[system] = r.perCore;
    }
    out('');
    out(`| C2 max delivered/s (p99 ≤ 100 ms) | tailnetd | bare ws | socket.io+redis (2 procs) | ÷ bare ws | ÷ socket.io |`);
    out('|---|---|---|---|---|---|');
    out(`| | ${k(best.coord ?? 0)} | ${k(best.ws ?? 0)} | ${k(best.sio ?? 0)} | ${f2((best.coord ?? 0) / (best.ws || NaN))} (target ≥ 0.6) | ${f2((best.coord ?? 0) / (best.sio || NaN))} (target ≥ 1.5) |`);
    out(`| C2 frames per server CPU-second (median of loaded steps) | ${k(perCore.coord ?? 0)} | ${k(perCore.ws ?? 0)} | ${k(perCore.sio ?? 0)} (both procs) | ${f2((perCore.coord ?? 0) / (perCore.ws || NaN))} | ${f2((perCore.coord ?? 0) / (perCore.sio || NaN))} |`);
    out('');
  }
  if (only.includes('C1')) {
    const pairs = quick ? 500 : 5000;
    const ms = quick ? 10_000 : 60_000;
    const r = await c1(pairs, ms);
    out(`### C1 steady: ${pairs} agents + ${pairs} clients, 1 update/peer/~23 s + 1 % bursts every 5 s, ${ms / 1000} s window`);
    out('');
    out('| peers | updates sent | delivered | p50 ms | p99 ms | max ms | server CPU % | server event-loop delay p99 / max ms | RSS/peer (connected, 1 node each) |');
    out('|---|---|---|---|---|---|---|---|---|');
    out(
      `| ${r.peers} | ${r.sent} | ${r.delivered} | ${f2(r.p50 as number)} | ${f2(r.p99 as number)} | ${f1(r.max as number)} | ${f1(r.cpuPct as number)} | ${f1(r.eldP99 as number)} / ${f1(r.eldMax as number)} | ${f1((r.rssPerPeer as number) / 1000)} KB |`,
    );
    out('');
  }
  if (only.includes('C5')) {
    const sizes = quick ? [500, 2500] : [500, 2500, 9000]; // pairs (peers = 2×); 9000 pairs = 18k sockets, the fd ceiling here
    const rate = quick ? 500 : 1000;
    const ms = quick ? 4000 : 8000;
    out(`### C5 scale invariance (sockets): ${rate} updates/s, server CPU per update`);
    out('');
    out('| peers | updates | server CPU µs/update | idle fleet CPU % | µs/update above idle | ratio to smallest (above idle) | p99 ms |');
    out('|---|---|---|---|---|---|---|');
    let first = 0;
    for (const pairs of sizes) {
      const r = await c5(pairs, rate, ms);
      first ||= r.netUsPerUpdate as number;
      out(`| ${r.peers} | ${r.sent} | ${f1(r.usPerUpdate as number)} | ${f1(r.idleCpuPct as number)} | ${f1(r.netUsPerUpdate as number)} | ${f2((r.netUsPerUpdate as number) / first)} | ${f2(r.p99 as number)} |`);
    }
    out('');
    out('### C5 scale invariance (core only: decode + fan-out + v1 encode, in-process)');
    out('');
    out('| peers | ns/update | ratio to 1k | heap/peer |');
    out('|---|---|---|---|');
    let base = 0;
    for (const n of [1000, 10_000, 50_000]) {
      const r = coreCostPerUpdate(n, quick ? 50_000 : 200_000);
      base ||= r.nsPerUpdate;
      out(`| ${k(n)} | ${r.nsPerUpdate.toFixed(0)} | ${f2(r.nsPerUpdate / base)} | ${(r.heapPerPeer / 1000).toFixed(2)} KB |`);
    }
    out('');
    if (!args.includes('--no-callgrind')) {
      const rows = await coreInstructionsPerUpdate(quick ? [1000, 10_000] : [1000, 10_000, 50_000], quick ? 1000 : 2000, quick ? 6000 : 22_000);
      out('### C5 scale invariance (core only, callgrind instructions per update: the C5 measure, free of cache and load effects)');
      out('');
      if (rows === null) out('valgrind not installed: skipped.');
      else {
        out('| peers | instructions/update | ratio to 1k |');
        out('|---|---|---|');
        for (const r of rows) out(`| ${k(r.peers)} | ${k(r.perUpdate)} | ${f2(r.perUpdate / (rows[0] as { perUpdate: number }).perUpdate)} |`);
        const ratios = rows.map((r) => r.perUpdate / (rows[0] as { perUpdate: number }).perUpdate);
        const worst = ratios.reduce((a, b) => (Math.abs(b - 1) > Math.abs(a - 1) ? b : a), 1);
        out('');
        out(`Target C5 flat within ±20 % from 1k to ${k((rows[rows.length - 1] as { peers: number }).peers)} peers: worst ratio ${f2(worst)} → ${Math.abs(worst - 1) <= 0.2 ? 'met' : 'NOT met'}.`);
      }
      out('');
    }
  }
  if (only.includes('FW')) {
    const r = await runFrameWrite(() => {});
    out('### Fan-out write: pre-framed raw socket write vs ws.send (200 sockets, ~430 B messages, CPU per socket write, median of 3)');
    out('');
    out('| ws.send | pre-framed write | ratio |');
    out('|---|---|---|');
    out(`| ${r.wsSend.toFixed(0)} ns | ${r.preframed.toFixed(0)} ns | ${f2(r.preframed / r.wsSend)} |`);
    out('');
  }
  if (only.includes('C6')) {
    const pairs = quick ? 1000 : 5000;
    const ours = await c6('coord', pairs);
    const bare = await c6('ws', pairs);
    out(`### C6 idle memory: ${pairs * 2} peers (1 node each), server RSS growth after GC ÷ peers`);
    out('');
    out('| tailnetd | bare ws | ratio | target |');
    out('|---|---|---|---|');
    out(`| ${f1(ours / 1000)} KB | ${f1(bare / 1000)} KB | ${f2(ours / bare)} | ≤ 14 KB, ≤ 2× bare ws |`);
    out('');
  }
  out(`Total bench time ${((Date.now() - started) / 1000).toFixed(0)} s.`);
  if (write) writeResults();
}

function writeResults(): void {
  const file = fileURLToPath(new URL('../RESULTS.md', import.meta.url));
  const section = [
    '## Coordinator',
    '',
    'Command: `npm run bench:coordinator` or `node --import tsx bench/coordinator/run.ts` (≈ 9–10 min; `--quick` smoke runs and `--only=C2,C5` partial runs do not write this file; `--no-callgrind` skips the instruction counts; `TAILNETD_BENCH_CPU_PROF=1` writes server CPU profiles to bench/.out/prof).',
    'Load generators are separate processes on the same 2 vCPUs as the servers (shared with other work), so absolute figures are lower bounds; ratios are from the same run.',
    'Reading: latency columns include time the processes were not scheduled (see the server event-loop delay column); on a saturated machine the',
    'p99-bounded C2 maximum is set by the shared receiver process and scheduling, not by the server. "Frames per server CPU-second" is the',
    'generator-independent capacity figure (delivered frames ÷ server CPU time) and is the one to compare against the C2 targets.',
    `Above ~600 updates/s tailnetd's CPU per delivered frame falls: the agent's updates arrive several per read, and a socket's second and later frames of one event-loop turn leave corked in one writev (frame-writer.ts), so its server stays near 0.85 cores while delivered frames triple.`,
    'C5 core-only isolates algorithmic cost from sockets and fd limits (this machine caps a process at 20k fds, so the socket run stops at 18k peers);',
    'C5 is read from the callgrind table, the measure perf-anchors names: instructions per update, every size doing real deliveries (no duplicate',
    'suppression), V8 single-threaded with a full GC before and after the window so each run pays for the scavenges, promotions and sweeping its own',
    'updates caused. CPU time per update (the two tables above it) still grows with N: cache and TLB misses once the peer set outgrows the caches,',
    'and in the socket run the kernel\'s per-socket state; the instruction count, which is the algorithmic cost, stays flat.',
    '',
    ...lines,
    '',
  ].join('\n');
  replaceResultsSection(section, file);
}

const protoArg = args.find((a) => a.startsWith('--proto='));
const run = protoArg
  ? () =>
      runProtoComparison({
        proto: protoArg.slice(8),
        quick,
        only: only.filter((x) => ['C1', 'C2', 'C5'].includes(x)),
        write: args.includes('--write'),
        command: `node --import tsx bench/coordinator/run.ts ${args.join(' ')}`,
      })
  : main;

run().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
