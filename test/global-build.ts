/**
 * vitest global setup: compile src/ to dist/ once, so tests that run the CLI as a process
 * exercise the built artifact users run (and do not pay tsx's start-up per call).
 *
 * Type errors do not stop the tests here: `npm test` runs `npm run typecheck` first and fails
 * on them, and tsc still emits (exit status 2, "diagnostics present, outputs generated"), so a
 * single vitest file can be run while another file of the tree is mid-edit.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const OUTPUTS_GENERATED = 2;

export default function setup(): void {
  const root = join(import.meta.dirname, '..');
  const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
  if (r.status === 0) return;
  if (r.status === OUTPUTS_GENERATED) {
    process.stderr.write('global-build: type errors above (dist/ was still emitted; `npm run typecheck` reports them)\n');
    return;
  }
  throw new Error(`tsc -p tsconfig.build.json failed (status ${String(r.status)}, signal ${String(r.signal)})`);
}
