import { execFile } from 'node:child_process';
import { existsSync, renameSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const GO_DIR = fileURLToPath(new URL('./go/', import.meta.url));
export const HARNESS_BIN = `${GO_DIR}bin/rpcharness`;
const GO = existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';

/** Builds the Go client once; rebuilt only when its sources are newer than the binary. */
export async function buildHarness(): Promise<string> {
  const sources = ['main.go', 'coder.go', 'go.mod', 'go.sum'].map((f) => statSync(`${GO_DIR}${f}`).mtimeMs);
  if (existsSync(HARNESS_BIN) && statSync(HARNESS_BIN).mtimeMs >= Math.max(...sources)) return HARNESS_BIN;
  // Test files run in parallel forks: build under a private name, then rename atomically.
  const tmp = `bin/rpcharness.${process.pid}.tmp`;
  await run(GO, ['build', '-o', tmp, '.'], { cwd: GO_DIR, timeout: 240_000, env: { ...process.env, GOFLAGS: '-buildvcs=false' } });
  renameSync(`${GO_DIR}${tmp}`, HARNESS_BIN);
  return HARNESS_BIN;
}

export async function runHarness(
  url: string,
  mode: 'echo' | 'coder' = 'echo',
  ws: 'coder' | 'nhooyr' = 'coder',
): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const r = await run(HARNESS_BIN, ['-url', url, '-mode', mode, '-ws', ws], { timeout: 60_000, maxBuffer: 16 << 20 });
    return { stdout: r.stdout, stderr: r.stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: number };
    return { stdout: err.stdout ?? '', stderr: err.stderr ?? String(e), code: err.code ?? 1 };
  }
}
