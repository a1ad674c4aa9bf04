/**
 * vitest global setup: compile src/ to dist/ once, so tests that run the CLI as a process
 * exercise the built artifact users run (and do not pay tsx's start-up per call).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export default function setup(): void {
  const root = join(import.meta.dirname, '..');
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
}
