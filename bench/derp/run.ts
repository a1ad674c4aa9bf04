/**
 * DERP benchmark: Tailscale's derper vs tailnetd (vs a raw Node pipe relay
 * as the ceiling), driven by one Go load generator built on tailscale.com/derp.
 *
 *   bash bench/derp/run.sh [--quick] [--only D1,D4] [--cpu-prof] [--tailnetd-dir ../other-checkout]
 *
 * Servers are pinned to CPU 1 (taskset); the generator may use both CPUs
 * unless --pin-gen puts it on CPU 0 only. All on
 * 127.0.0.1 over plain HTTP. Prints a table with ratios to derper and writes
 * bench/.out/derp-results.json (partial runs: derp-results-<which>.json); a
 * full run also rewrites the ## DERP section of bench/RESULTS.md.
 *
 *   run.ts ─┬─ spawn derper / tailnetd (test/interop/derp/serve.ts) / pipe-relay.ts  [CPU 1]
 *           └─ loadgen throughput|latency|idle|storm → JSON                         [CPU 0]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { section, table, verdicts, writeSection, type Results, type StormR } from './report.js';

const ROOT = resolve(import.meta.dirname, '../..');
const OUT = join(ROOT, 'bench/.out');
const BIN = join(OUT, 'bin');
const DERPER_VERSION = 'v1.102.5';

const { values: argv } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    /** Pin the generator to CPU 0 too (servers are always on CPU 1). */
    'pin-gen': { type: 'boolean', default: false },
    /** With --only D4/D8: take the D1 ceilings from the previous bench/.out/derp-results.json. */
    'reuse-ceilings': { type: 'boolean', default: false },
    /** Update the ## DERP section of bench/RESULTS.md (default for full runs). */
    write: { type: 'boolean', default: false },
    /** Only re-render the section from bench/.out/derp-results.json. */
    render: { type: 'boolean', default: false },
    /** Run tailnetd from another checkout (e.g. a before/after comparison); default this tree. */
    'tailnetd-dir': { type: 'string' },
  },
});
const only = argv.only ? new Set(argv.only.split(',')) : null;
const want = (id: string): boolean => !only || only.has(id);
const quick = argv.quick;
const MEASURE = quick ? '2s' : '3s';

type Target = 'derper' | 'derper512' | 'tailnetd' | 'pipe';
interface Server {
  name: Target;
  url: string;
  proc: ChildProcess;
  pid: number;
}

function log(msg: string): void {
  process.stderr.write(`[bench:derp ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function ensureBinaries(): void {
  mkdirSync(BIN, { recursive: true });
  const env = { ...process.env, GOFLAGS: '-p=1', GOTOOLCHAIN: 'local' };
  const genDir = join(ROOT, 'bench/derp/loadgen');
  const genBin = join(BIN, 'loadgen');
  // Rebuilt when any of its sources is newer than the binary (a new transport, a fix).
  const stale = !existsSync(genBin) || readdirSync(genDir).some((f) => statSync(join(genDir, f)).mtimeMs > statSync(genBin).mtimeMs);
  if (stale) {
    log('building loadgen');
    const r = spawnSync('go', ['build', '-o', genBin, '.'], { cwd: genDir, env, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('loadgen build failed');
  }
  if (!existsSync(join(BIN, 'derper'))) {
    log(`installing derper ${DERPER_VERSION}`);
    const r = spawnSync('go', ['install', `tailscale.com/cmd/derper@${DERPER_VERSION}`], {
      cwd: join(ROOT, 'bench/derp/loadgen'),
      env: { ...env, GOBIN: BIN },
      stdio: 'inherit',
    });
    if (r.status !== 0) throw new Error('derper install failed');
  }
}

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => res(port));
    });
  });
}

function waitLine(proc: ChildProcess, stream: 'stdout' | 'stderr', re: RegExp, timeoutMs = 30_000): Promise<string[]> {
  return new Promise((res, rej) => {
    const lines: string[] = [];
    const src = proc[stream];
    if (!src) return rej(new Error('no stream'));
    const rl = createInterface({ input: src });
    const t = setTimeout(() => rej(new Error(`timeout waiting for ${re}: ${lines.join('\n')}`)), timeoutMs);
    rl.on('line', (l) => {
      lines.push(l);
      if (re.test(l)) {
        clearTimeout(t);
        rl.removeAllListeners('line');
        res(lines);
      }
    });
    proc.once('exit', (code) => rej(new Error(`exited ${code} before ${re}: ${lines.join('\n')}`)));
  });
}

async function startServers(): Promise<Record<Target, Server>> {
  const port = await freePort();
  const keyFile = join(OUT, 'derper-bench.key');
  const derper = spawn('taskset', ['-c', '1', join(BIN, 'derper'), '-a', `127.0.0.1:${port}`, '-http-port=-1', '-stun=false', '-c', keyFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await waitLine(derper, 'stderr', /serving on/);
  derper.stderr?.resume();
  // Same derper with the Coder fork's queue depth (512, tailnetd's default), to
  // separate "drops under bursts" from forwarding speed.
  const port512 = await freePort();
  const derper512 = spawn('taskset', ['-c', '1', join(BIN, 'derper'), '-a', `127.0.0.1:${port512}`, '-http-port=-1', '-stun=false', '-c', keyFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, TS_DEBUG_DERP_PER_CLIENT_SEND_QUEUE_DEPTH: '512' },
  });
  await waitLine(derper512, 'stderr', /serving on/);
  derper512.stderr?.resume();

  // The Node servers run as plain JavaScript bundles, as `npm start` runs tailnetd: under
  // --import tsx a loader worker thread shares the pinned CPU with the relay.
  const bundle = async (entry: string, outDir: string): Promise<string> => {
    mkdirSync(outDir, { recursive: true });
    const outfile = join(outDir, `${basename(entry, '.ts')}.bench.mjs`);
    await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', outfile, logLevel: 'warning', packages: 'external' });
    return outfile;
  };
  const profArgs = argv['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', join(OUT, 'prof')] : [];
  const tnRoot = argv['tailnetd-dir'] ? resolve(argv['tailnetd-dir']) : ROOT;
  // TAILNETD_BENCH_NODE_FLAGS: extra node/V8 flags for the tailnetd child only (experiments, e.g. --trace-gc).
  const extraArgs = (process.env.TAILNETD_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const tn = spawn('taskset', ['-c', '1', process.execPath, ...profArgs, ...extraArgs, await bundle(join(tnRoot, 'test/interop/derp/serve.ts'), join(tnRoot, 'bench', '.out'))], {
    cwd: tnRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, LOG_LEVEL: 'error' },
  });
  const tnLines = await waitLine(tn, 'stdout', /^READY=1/);
  const tnUrl = tnLines.find((l) => l.startsWith('TAILNETD_DERP_URL='))?.split('=')[1] ?? '';
  // TAILNETD_BENCH_STDOUT=<file>: keep the tailnetd child's later stdout (e.g. --trace-gc lines), time-stamped.
  const tnOut = process.env.TAILNETD_BENCH_STDOUT;
  if (tnOut && tn.stdout) {
    const w = createWriteStream(tnOut);
    createInterface({ input: tn.stdout }).on('line', (l) => w.write(`${new Date().toISOString()} ${l}\n`));
  }

  const pipe = spawn('taskset', ['-c', '1', process.execPath, await bundle(join(ROOT, 'bench/derp/pipe-relay.ts'), OUT)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const pLines = await waitLine(pipe, 'stdout', /^READY=1/);
  const pipeUrl = pLines.find((l) => l.startsWith('PIPE_URL='))?.split('=')[1] ?? '';

  const mk = (name: Target, url: string, proc: ChildProcess): Server => ({ name, url, proc, pid: proc.pid ?? 0 });
  return {
    derper: mk('derper', `http://127.0.0.1:${port}/derp`, derper),
    derper512: mk('derper512', `http://127.0.0.1:${port512}/derp`, derper512),
    tailnetd: mk('tailnetd', tnUrl, tn),
    pipe: mk('pipe', pipeUrl, pipe),
  };
}

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ
}

function rssKB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

function genCmd(args: string[]): [string, string[]] {
  const bin = join(BIN, 'loadgen');
  return argv['pin-gen'] ? ['taskset', ['-c', '0', bin, ...args]] : [bin, args];
}

function loadgen<T>(args: string[]): Promise<T> {
  return new Promise((res, rej) => {
    const p = spawn(...genCmd(args), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code) => {
      if (code !== 0) return rej(new Error(`loadgen ${args.join(' ')}: exit ${code}: ${err}`));
      try {
        res(JSON.parse(out.trim().split('\n').pop() ?? '') as T);
      } catch (e) {
        rej(new Error(`loadgen output: ${out} ${err} ${String(e)}`));
      }
    });
  });
}

interface Tp {
  offered_pps: number;
  sent_pps: number;
  delivered_pps: number;
  delivered_gbps: number;
  loss: number;
  gen_cpu_s: number;
  duration_s: number;
}
interface TpRun extends Tp {
  server_cpu_s: number;
  ok: boolean;
}
interface Sweep {
  runs: TpRun[];
  ceiling_pps: number;
  ceiling_gbps: number;
  peak_pps: number;
  cpu_s_per_gb: number;
}

async function throughputRun(s: Server, transport: string, size: number, rate: number): Promise<TpRun> {
  const c0 = cpuSeconds(s.pid);
  const r = await loadgen<Tp>(['throughput', '-url', s.url, '-transport', transport, '-size', String(size), '-rate', String(rate), '-pairs', '10', '-warmup', '1s', '-duration', MEASURE]);
  const server_cpu_s = cpuSeconds(s.pid) - c0;
  // Sustained = at most 1 % of what was sent got lost. (A relay that pushes
  // back instead of dropping shows up as sent < offered; delivered says it all.)
  const ok = r.loss <= 0.01;
  return { ...r, server_cpu_s, ok };
}

function summarize(runs: TpRun[], size: number): Sweep {
  const okRuns = runs.filter((r) => r.ok);
  const best = okRuns.reduce<TpRun | null>((a, r) => (!a || r.delivered_pps > a.delivered_pps ? r : a), null);
  const peak = Math.max(0, ...runs.map((r) => r.delivered_pps));
  const gb = best ? (best.delivered_pps * best.duration_s * size) / 1e9 : 0;
  return {
    runs,
    ceiling_pps: best?.delivered_pps ?? 0,
    ceiling_gbps: best?.delivered_gbps ?? 0,
    peak_pps: peak,
    cpu_s_per_gb: best && gb > 0 ? best.server_cpu_s / gb : 0,
  };
}

/**
 * Rate sweep of several servers, interleaved (every server at rate r before
 * any at the next rate) so load from other tenants of the box hits all alike.
 * A server drops out after two runs that lose > 1 % or stop delivering more
 * (less than 80 % of the offer and under 5 % more than the previous rate).
 */
async function sweepAll(targets: Array<{ s: Server; transport: string }>, size: number, rates: number[]): Promise<Sweep[]> {
  const runs: TpRun[][] = targets.map(() => []);
  const fails = targets.map(() => 0);
  for (const rate of rates) {
    for (const [i, { s, transport }] of targets.entries()) {
      if ((fails[i] ?? 0) >= 2) continue;
      const r = await throughputRun(s, transport, size, rate);
      runs[i]?.push(r);
      log(`${s.name} ${transport} ${size}B offered ${rate}: delivered ${Math.round(r.delivered_pps)} pps, loss ${(r.loss * 100).toFixed(2)} %, sent ${Math.round(r.sent_pps)}, server CPU ${r.server_cpu_s.toFixed(2)} s${r.ok ? '' : ' (loss > 1 %)'}`);
      // Keep going while delivery still grows, even if the generator cannot reach the offer.
      const prev = runs[i]?.[runs[i].length - 2]?.delivered_pps ?? 0;
      const growing = r.delivered_pps >= 0.8 * rate || r.delivered_pps > prev * 1.05;
      fails[i] = r.ok && growing ? 0 : (fails[i] ?? 0) + 1;
    }
    if (fails.every((f) => f >= 2)) break;
  }
  return runs.map((r) => summarize(r, size));
}

interface Lat {
  p50_us: number;
  p99_us: number;
  p999_us: number;
  lost: number;
  samples: number;
  /** Every RTT in send order (µs; -1 lost); dropped from the saved results. */
  rtt_us?: number[];
  /** p99 of each repetition, when pooled. */
  run_p99_us?: number[];
  bg_rate: number;
  bg_delivered_pps: number;
}

/**
 * Ping/echo RTT. Background load, if any, comes from a separate generator
 * process: in one Go process the echo goroutine would queue behind the
 * background receivers in the Go scheduler and measure the generator, not
 * the relay (real clients are separate processes).
 */
async function latencyRun(s: Server, transport: string, bgRate: number): Promise<Lat> {
  const count = quick ? 3000 : 5000;
  let bg: Promise<Tp> | null = null;
  if (bgRate > 0) {
    const secs = (count * 0.5) / 1000 + 3;
    bg = loadgen<Tp>(['throughput', '-url', s.url, '-transport', transport, '-size', '1400', '-rate', String(Math.round(bgRate)), '-pairs', '10', '-warmup', '0s', '-duration', `${secs}s`]);
    await sleep(1500);
  }
  const at = new Date().toISOString();
  const r = await loadgen<Lat>(['latency', '-url', s.url, '-transport', transport, '-count', String(count), '-discard', '500', '-interval', '500us']);
  if (process.env.TAILNETD_BENCH_STDOUT) log(`latency ${s.name} bg ${Math.round(bgRate)} ${at} → ${new Date().toISOString()} p99 ${r.p99_us.toFixed(0)} µs`);
  if (bg) {
    const b = await bg;
    r.bg_rate = bgRate;
    r.bg_delivered_pps = b.delivered_pps;
  }
  return r;
}

async function idleMemory(s: Server, n: number): Promise<{ kb_per_conn: number; kb_per_conn_after_packet: number; connect_s: number }> {
  const rss0 = rssKB(s.pid);
  const p = spawn(...genCmd(['idle', '-url', s.url, '-conns', String(n), '-concurrency', '128']), { stdio: ['pipe', 'pipe', 'inherit'] });
  const first = await waitLine(p, 'stdout', /"phase":"connected"/, 180_000);
  const info = JSON.parse(first[first.length - 1] ?? '{}') as { seconds: number };
  await sleep(2000);
  const rss1 = rssKB(s.pid);
  const sent = waitLine(p, 'stdout', /"phase":"sent"/, 60_000);
  p.stdin.write('\n');
  await sent;
  await sleep(2000);
  const rss2 = rssKB(s.pid);
  p.stdin.end('\n');
  await new Promise((r) => p.once('exit', r));
  await sleep(2000);
  return { kb_per_conn: (rss1 - rss0) / n, kb_per_conn_after_packet: (rss2 - rss0) / n, connect_s: info.seconds };
}

interface Storm {
  conns: number;
  failed: number;
  seconds: number;
  handshakes_per_s: number;
  p50_ms: number;
  p99_ms: number;
  first_error?: string;
}

/** The round with the median handshake rate (its own p99 and CPU), plus every round's rate. */
function medianStorm(xs: StormR[]): StormR {
  const sorted = [...xs].sort((a, b) => a.handshakes_per_s - b.handshakes_per_s);
  const mid = sorted[Math.floor((sorted.length - 1) / 2)] as StormR;
  return { ...mid, all_per_s: xs.map((x) => x.handshakes_per_s) };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const RATES_1400 = quick ? [25_000, 50_000, 100_000, 150_000, 200_000, 300_000] : [25_000, 50_000, 75_000, 100_000, 150_000, 200_000, 250_000, 300_000, 400_000];
const RATES_100 = quick ? [50_000, 100_000, 200_000, 300_000, 400_000] : [50_000, 100_000, 150_000, 200_000, 300_000, 400_000, 500_000];

async function main(): Promise<void> {
  if (argv.render) {
    const r = JSON.parse(readFileSync(join(OUT, 'derp-results.json'), 'utf8')) as Results;
    writeSection(join(ROOT, 'bench/RESULTS.md'), section(r, 'npm run bench:derp'));
    process.stdout.write(`${table(r)}\n\n${verdicts(r).join('\n')}\n`);
    return;
  }
  ensureBinaries();
  const started = Date.now();
  const servers = await startServers();
  const results: Record<string, unknown> & Results = { date: new Date().toISOString(), derper: DERPER_VERSION, quick, node: process.version };
  let ceil: Record<Target, number> = { derper: 0, derper512: 0, tailnetd: 0, pipe: 0 };
  try {
    // Order: D4 right after the D1 sweep that sets its loads, before the 100 B sweep and the
    // 10k-connection and storm runs, whose garbage V8 collects (major GC) for seconds afterwards,
    // which would land in the idle latency runs of tailnetd only.
    if (want('D1') || ((want('D4') || want('D8')) && !argv['reuse-ceilings'])) {
      const [p, d, t, d5] = (await sweepAll(
        [
          { s: servers.pipe, transport: 'raw' },
          { s: servers.derper, transport: 'upgrade' },
          { s: servers.tailnetd, transport: 'upgrade' },
          { s: servers.derper512, transport: 'upgrade' },
        ],
        1400,
        RATES_1400,
      )) as [Sweep, Sweep, Sweep, Sweep];
      results.D1 = { pipe: p, derper: d, tailnetd: t, derper_queue512: d5 };
      ceil = { pipe: p.ceiling_pps || p.peak_pps, derper: d.ceiling_pps || d.peak_pps, derper512: d5.ceiling_pps, tailnetd: t.ceiling_pps || t.peak_pps };
    }
    if (argv['reuse-ceilings'] && !want('D1')) {
      const prev = JSON.parse(readFileSync(join(OUT, 'derp-results.json'), 'utf8')) as { D1?: Record<string, Sweep> };
      const c = (k: string): number => prev.D1?.[k]?.ceiling_pps || prev.D1?.[k]?.peak_pps || 0;
      ceil = { pipe: c('pipe'), derper: c('derper'), derper512: c('derper_queue512'), tailnetd: c('tailnetd') };
      log(`reusing D1 ceilings ${JSON.stringify(ceil)}`);
    }
    if (want('D4')) {
      // Five interleaved repetitions per case, percentiles over their pooled samples.
      const reps = quick ? 1 : 5;
      const all: Record<string, Lat[]> = {};
      // One unmeasured loaded run each first: a running relay has its packet path JIT-compiled.
      // A cold Node process showed 1.6 ms idle p99 for its first 10k pings at 2k/s, then 0.4 ms
      // once any burst had gone through it (bench/.out notes, 2026-11-29).
      for (const s of [servers.pipe, servers.derper, servers.tailnetd]) {
        await latencyRun(s, s.name === 'pipe' ? 'raw' : 'upgrade', ceil[s.name] > 0 ? ceil[s.name] * 0.5 : 25_000);
      }
      const trOf = (s: Server): string => (s.name === 'pipe' ? 'raw' : 'upgrade');
      for (let rep = 0; rep < reps; rep++) {
        // Idle: one generator pings the three in turn (loadgen latency-rr), one ping in
        // flight at a time. This box's host stalls every process for 10-20 ms now and
        // then (clusters of 50-130 consecutive slow pings in one run, none in the next);
        // interleaved, a stall lands in all three series instead of deciding which
        // one's p99 it ruins.
        // A second derper (the queue-512 one: one ping in flight, so its queue depth does not
        // matter) is the A/A control: how far two identical relays' figures differ here. The
        // order rotates each round so no relay always follows the same one.
        const order = [servers.pipe, servers.derper, servers.derper512, servers.tailnetd];
        const idleSet = order.map((_, i) => order[(i + rep) % order.length]!);
        const idle = await loadgen<Lat[]>(['latency-rr', '-url', idleSet.map((s) => s.url).join(','), '-transport', idleSet.map(trOf).join(','), '-count', String(quick ? 3000 : 5000), '-discard', '500', '-interval', '500us']);
        log(`latency idle round-robin p99 ${idleSet.map((s, i) => `${s.name} ${idle[i]!.p99_us.toFixed(0)}`).join(', ')} µs`);
        for (const [i, s] of idleSet.entries()) (all[`${s.name}_idle`] ??= []).push(idle[i]!);
        for (const s of [servers.pipe, servers.derper, servers.tailnetd]) {
          const tr = trOf(s);
          (all[`${s.name}_50`] ??= []).push(await latencyRun(s, tr, ceil[s.name] > 0 ? ceil[s.name] * 0.5 : 50_000));
          // Same absolute load for everyone: half of derper's ceiling.
          (all[`${s.name}_d50`] ??= []).push(await latencyRun(s, tr, ceil.derper > 0 ? ceil.derper * 0.5 : 12_500));
        }
      }
      // Percentiles over all repetitions' samples pooled: one run that meets a burst of
      // host noise then weighs as one fifth of the samples, not as a coin flip in a median.
      const lat: Record<string, Lat> = {};
      const series: Record<string, number[][]> = {};
      for (const [k, v] of Object.entries(all)) {
        const pooled = v.flatMap((x) => (x.rtt_us ?? []).filter((u) => u >= 0)).sort((a, b) => a - b);
        const q = (f: number): number => pooled[Math.floor(f * (pooled.length - 1))] ?? 0;
        const first = v[0] as Lat;
        series[k] = v.map((x) => x.rtt_us ?? []);
        lat[k] = {
          ...first,
          rtt_us: undefined,
          samples: pooled.length,
          lost: v.reduce((n, x) => n + x.lost, 0),
          p50_us: q(0.5),
          p99_us: q(0.99),
          p999_us: q(0.999),
          run_p99_us: v.map((x) => Math.round(x.p99_us)),
        };
        log(`${k} RTT p50 ${lat[k]?.p50_us.toFixed(0)} p99 ${lat[k]?.p99_us.toFixed(0)} p999 ${lat[k]?.p999_us.toFixed(0)} µs over ${pooled.length} samples (p99 of each run: ${v.map((x) => x.p99_us.toFixed(0)).join(', ')})`);
      }
      writeFileSync(join(OUT, 'derp-d4-series.json'), JSON.stringify(series));
      results.D4 = lat;
    }
    if (want('D3')) {
      const [p, d, t] = (await sweepAll(
        [{ s: servers.pipe, transport: 'raw' }, { s: servers.derper, transport: 'upgrade' }, { s: servers.tailnetd, transport: 'upgrade' }],
        100,
        RATES_100,
      )) as [Sweep, Sweep, Sweep];
      results.D3 = { pipe: p, derper: d, tailnetd: t };
    }
    if (want('D8')) {
      // Two WebSocket clients: the real Go one (coder/websocket under tailscale.com/net/wsconn, as
      // derphttp uses) and ws-lite (loadgen/wslite.go: one masked message per write, nothing per
      // message on the heap), plus tailnetd over Upgrade in the same interleaved sweep, so the
      // WS ÷ Upgrade ratio compares one moment of the box. The real client's own CPU per message
      // caps it on this box before either relay.
      const [d, t, dl, tl, tu] = (await sweepAll(
        [
          { s: servers.derper, transport: 'ws' },
          { s: servers.tailnetd, transport: 'ws' },
          { s: servers.derper, transport: 'ws-lite' },
          { s: servers.tailnetd, transport: 'ws-lite' },
          { s: servers.tailnetd, transport: 'upgrade' },
        ],
        1400,
        RATES_1400,
      )) as [Sweep, Sweep, Sweep, Sweep, Sweep];
      results.D8 = { derper: d, tailnetd: t, derper_lite: dl, tailnetd_lite: tl, tailnetd_upgrade: tu };
    }
    if (want('D6')) {
      const n = quick ? 2000 : 10_000;
      const d = await idleMemory(servers.derper, n);
      const t = await idleMemory(servers.tailnetd, n);
      results.D6 = { conns: n, derper: d, tailnetd: t };
    }
    if (want('D7')) {
      const n = quick ? 2000 : 5000;
      // Alternating rounds (d t, t d, d t): one storm is a few seconds on a
      // shared box, so a single pair mostly measures what else ran then.
      const rounds = quick ? 1 : 3;
      const runs: Record<'derper' | 'tailnetd', StormR[]> = { derper: [], tailnetd: [] };
      // A small unmeasured storm on each first: a running relay is warm (JIT-compiled handshake path).
      for (const name of ['derper', 'tailnetd'] as const) await loadgen<Storm>(['storm', '-url', servers[name].url, '-conns', '500']);
      for (let r = 0; r < rounds; r++) {
        const order: Array<'derper' | 'tailnetd'> = r % 2 === 0 ? ['derper', 'tailnetd'] : ['tailnetd', 'derper'];
        for (const name of order) {
          const srv = servers[name];
          const c0 = cpuSeconds(srv.pid);
          const st = await loadgen<Storm>(['storm', '-url', srv.url, '-conns', String(n)]);
          const cpu = cpuSeconds(srv.pid) - c0;
          runs[name].push({ ...st, server_cpu_us_per_handshake: (cpu * 1e6) / Math.max(1, st.conns - st.failed) });
          await sleep(2000);
        }
      }
      results.D7 = { derper: medianStorm(runs.derper), tailnetd: medianStorm(runs.tailnetd), rounds };
    }
  } finally {
    for (const s of Object.values(servers)) s.proc.kill('SIGTERM');
    await sleep(1500);
  }
  results.elapsed_s = (Date.now() - started) / 1000;
  results.ceilings = ceil;
  results.loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  // Partial runs keep the full results file (the one --render and --reuse-ceilings read) intact.
  const file = only || quick ? `derp-results-${quick ? 'quick-' : ''}${[...(only ?? ['all'])].join('-')}.json` : 'derp-results.json';
  writeFileSync(join(OUT, file), JSON.stringify(results, null, 2));
  process.stdout.write(`\n${table(results as Results)}\n\n${verdicts(results as Results).join('\n')}\n\nelapsed ${results.elapsed_s} s, load average at end ${String(results.loadavg)}; raw results in bench/.out/${file}\n`);
  if (argv.write || (!only && !quick)) {
    writeSection(join(ROOT, 'bench/RESULTS.md'), section(results as Results, 'npm run bench:derp'));
    log('updated the ## DERP section of bench/RESULTS.md');
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:derp failed: ${String(e instanceof Error ? e.stack : e)}\n`);
  process.exit(1);
});
