/**
 * Server-tailnet bench: the real Coder v0.19.0 agent's reconnecting PTY
 * reached through tailnetd's /pty (tailnetd's TS WireGuard/TCP peer) next to
 * a Go tailnet.Conn client in the same run, same relay. The measuring code is
 * the Go test TestServerPeerBench in test/interop/coder (it needs the era's
 * SDK and agent); this driver builds it, runs it and prints the table.
 *
 *   node --import tsx bench/peer.ts [--samples N] [--bulk-bytes N]
 *
 * Needs Go (GOTOOLCHAIN go1.20.14 is fetched by the go command) and a built
 * tailnetd (`npm run build`, or TAILNETD_ROOT pointing at a tree with dist/).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

interface Row {
  path: string;
  rtt_median_ms: number;
  rtt_p95_ms: number;
  samples: number;
  bulk_bytes: number;
  bulk_mib_per_s: number;
  open_ms: number;
}

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const mod = resolve(import.meta.dirname, '../test/interop/coder');
const work = mkdtempSync(join(tmpdir(), 'tailnetd-bench-peer-'));
const env: NodeJS.ProcessEnv = {
  ...process.env,
  GOTOOLCHAIN: 'go1.20.14',
  GONOSUMDB: 'github.com/coder,github.com/tailscale',
  TAILNETD_PEER_BENCH: '1',
  INTEROP_LOG_DIR: work,
  ...(opt('--samples') ? { PEER_BENCH_SAMPLES: opt('--samples')! } : {}),
  ...(opt('--bulk-bytes') ? { PEER_BENCH_BULK_BYTES: opt('--bulk-bytes')! } : {}),
};

function run(cmd: string, argv: string[], cwd: string): string {
  const r = spawnSync(cmd, argv, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    process.stderr.write(r.stdout ?? '');
    process.stderr.write(r.stderr ?? '');
    throw new Error(`${cmd} ${argv.join(' ')} exited ${r.status}`);
  }
  return r.stdout;
}

const testBin = join(work, 'coder.test');
if (!process.env['CODER_AGENT_BIN']) {
  run('go', ['build', '-p', '1', '-buildvcs=false', '-ldflags', '-X github.com/coder/coder/buildinfo.tag=0.19.0', '-o', join(work, 'coder-agent'), './cmd/coder-agent'], mod);
  env['CODER_AGENT_BIN'] = join(work, 'coder-agent');
}
run('go', ['test', '-p', '1', '-c', '-o', testBin, '.'], mod);
const out = run(testBin, ['-test.run', '^TestServerPeerBench$', '-test.v'], mod);
const rows: Row[] = out
  .split('\n')
  .filter((l) => l.startsWith('BENCH_PEER '))
  .map((l) => JSON.parse(l.slice('BENCH_PEER '.length)) as Row);
if (rows.length === 0) throw new Error(`no BENCH_PEER lines in the output:\n${out}`);

const f = (n: number, d = 2): string => n.toFixed(d);
console.log('| path | PTY open (ms) | keystroke RTT median (ms) | p95 (ms) | samples | bulk PTY output (MiB/s) | bytes |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.path} | ${f(r.open_ms)} | ${f(r.rtt_median_ms)} | ${f(r.rtt_p95_ms)} | ${r.samples} | ${f(r.bulk_mib_per_s)} | ${r.bulk_bytes} |`);
console.log(`\nlogs: ${work}`);
