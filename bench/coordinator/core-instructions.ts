/**
 * C5 (core only) by instruction count, the measure the C5 target names: CPU
 * time per update also moves with cache misses and GC promotion as the peer
 * set outgrows the caches, and with whatever else the machine runs;
 * callgrind's instruction count does neither.
 *
 *   esbuild bundle of core-scale-child.ts ─► valgrind --tool=callgrind node bundle N U  (U = small, large)
 *   instructions per update = (Ir(N, large) − Ir(N, small)) ÷ (large − small)
 *
 * Each run collects fully before and after its updates (core-scale.ts
 * `settle`), so both runs end with their garbage swept and the difference
 * holds the whole GC cost of the extra updates. --single-threaded keeps GC
 * and JIT work on the main thread, where it runs at the same points in every
 * run: with background threads the same run moved by ±10 %.
 *
 * Setup, warm-up and process start cancel out in the difference. Runs go two
 * at a time (counts do not depend on load). Slow: valgrind runs node ~50×
 * slower, about 3 minutes for three sizes.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT = join(HERE, '..', '.out');

async function bundle(): Promise<string> {
  mkdirSync(OUT, { recursive: true });
  const file = join(OUT, 'core-scale-child.mjs');
  // One file: under valgrind, loading tsx and compiling TypeScript would dwarf the measured work.
  await build({ entryPoints: [join(HERE, 'core-scale-child.ts')], bundle: true, platform: 'node', format: 'esm', outfile: file, logLevel: 'warning', packages: 'external' });
  return file;
}

function instructions(file: string, peers: number, updates: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, '--expose-gc', '--single-threaded', file, String(peers), String(updates)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    p.on('error', reject);
    p.on('exit', (code) => {
      const m = /Collected : (\d+)/.exec(err);
      if (code !== 0 || m === null) reject(new Error(`callgrind run failed (exit ${code}): ${err.slice(-500)}`));
      else resolve(Number(m[1]));
    });
  });
}

/** Runs `jobs` at most `width` at a time, results in order. */
async function limited<T>(jobs: Array<() => Promise<T>>, width: number): Promise<T[]> {
  const out: T[] = new Array<T>(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await (jobs[i] as () => Promise<T>)();
      }
    }),
  );
  return out;
}

export interface CoreInstructionRow {
  peers: number;
  perUpdate: number;
}

/** Instructions per update at each size; null when valgrind is not installed. */
export async function coreInstructionsPerUpdate(sizes: number[], small = 2000, large = 22_000): Promise<CoreInstructionRow[] | null> {
  const has = await new Promise<boolean>((resolve) => {
    const p = spawn('valgrind', ['--version'], { stdio: 'ignore' });
    p.on('error', () => resolve(false));
    p.on('exit', (code) => resolve(code === 0));
  });
  if (!has) return null;
  const file = await bundle();
  const jobs = sizes.flatMap((n) => [() => instructions(file, n, small), () => instructions(file, n, large)]);
  const counts = await limited(jobs, 2);
  return sizes.map((peers, i) => ({ peers, perUpdate: ((counts[2 * i + 1] as number) - (counts[2 * i] as number)) / (large - small) }));
}

// Standalone: node --import tsx bench/coordinator/core-instructions.ts [1000,10000,50000] [small] [large]
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const sizes = (process.argv[2] ?? '1000,10000,50000').split(',').map(Number);
  const rows = await coreInstructionsPerUpdate(sizes, Number(process.argv[3] ?? 2000), Number(process.argv[4] ?? 22_000));
  if (rows === null) console.log('valgrind not installed');
  else for (const r of rows) console.log(`${r.peers}\t${(r.perUpdate / 1000).toFixed(1)}k instructions/update\t${(r.perUpdate / (rows[0] as CoreInstructionRow).perUpdate).toFixed(2)}`);
}
