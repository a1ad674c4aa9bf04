/** Shared by the deploy tests: paths, and the check of environment names against the config schema. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { optionDefs, sectionDefs } from '../../src/config/schema.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const repoPath = (...p: string[]): string => join(root, ...p);
export const deployPath = (...p: string[]): string => join(root, 'deploy', ...p);

/**
 * Environment names the deploy files use before the server defines them: expected from the
 * scale-out work (Redis bus, per-replica relay URL for DERP meshing). Remove each name here
 * once it lands in src/config/schema.ts; the test below then fails if one is left over.
 */
export const PENDING_ENV = ['TAILNETD_REDIS_URL', 'TAILNETD_DERP_RELAY_URL'] as const;

/** Every environment name tailnetd reads: options (all aliases), section fragments, Coder aliases. */
export function schemaEnvNames(): Set<string> {
  const names = new Set<string>();
  for (const d of optionDefs) for (const e of d.env) names.add(e);
  for (const s of sectionDefs) {
    for (const e of Object.values(s.env)) names.add(e);
    for (const e of Object.values(s.coderAliases)) names.add(e);
  }
  return names;
}

/** Canonical (first) env name of an option by its config key. */
export function envOf(key: string): string {
  const d = optionDefs.find((o) => o.key === key);
  if (!d) throw new Error(`no option ${key}`);
  return d.env[0]!;
}

/** Splits the names into those tailnetd does not know and those only pending from scale-out. */
export function envNamesKnown(names: Iterable<string>): { unknown: string[]; pending: string[] } {
  const known = schemaEnvNames();
  const unknown: string[] = [];
  const pending: string[] = [];
  for (const n of new Set(names)) {
    if (known.has(n)) continue;
    if ((PENDING_ENV as readonly string[]).includes(n)) pending.push(n);
    else unknown.push(n);
  }
  return { unknown: unknown.sort(), pending: pending.sort() };
}
