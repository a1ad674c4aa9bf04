/**
 * The operator docs name only real things: every TAILNETD_* variable is a tailnetd option (or
 * listed as pending from scale-out), every metric in the alert table is registered by
 * src/metrics, and the drain section matches the server's drain constants.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createRegistry } from '../../src/metrics/registry.js';
import { deployPath, envNamesKnown, PENDING_ENV, repoPath } from './helpers.js';

const docs = ['README.md', 'compose/README.md'].map((p) => [p, readFileSync(deployPath(p), 'utf8')] as const);

/** Metric names declared in src/metrics/*.ts (string literals passed as names). */
function declaredMetricNames(): Set<string> {
  const names = new Set<string>();
  for (const f of readdirSync(repoPath('src', 'metrics'))) {
    const text = readFileSync(repoPath('src', 'metrics', f), 'utf8');
    for (const m of text.matchAll(/'((?:coder_derp|coordinator|tailnetd)_[a-z0-9_]+)'/g)) names.add(m[1]!);
  }
  return names;
}

describe('deploy/README.md and compose/README.md', () => {
  it('mention only environment names tailnetd defines, or the pending scale-out ones', () => {
    for (const [path, text] of docs) {
      const names = [...text.matchAll(/\b(TAILNETD_[A-Z0-9_]+)\b/g)].map((m) => m[1]!);
      const { unknown } = envNamesKnown(names);
      expect(unknown, path).toEqual([]);
    }
    const main = docs[0]![1];
    for (const p of PENDING_ENV) expect(main).toContain(p); // the pending list is documented
  });

  it('alert on metrics that tailnetd registers (default Node metrics included)', async () => {
    const declared = declaredMetricNames();
    const defaults = new Set((await createRegistry().getMetricsAsJSON()).map((m) => m.name));
    const main = docs[0]![1];
    const mentioned = new Set([...main.matchAll(/`((?:coder_derp|coordinator|tailnetd|nodejs|process)_[a-z0-9_]+)/g)].map((m) => m[1]!));
    expect(mentioned.size).toBeGreaterThan(15);
    const missing = [...mentioned].filter((n) => !declared.has(n) && !defaults.has(n) && !n.endsWith('_'));
    expect(missing).toEqual([]);
  });

  it('describes the drain as src/app.ts implements it', () => {
    const app = readFileSync(repoPath('src', 'app.ts'), 'utf8');
    const main = docs[0]![1];
    expect(app).toMatch(/reconnectInMs: 1000 \+ Math\.floor\(Math\.random\(\) \* 2000\)/);
    expect(main).toContain('reconnect in 1–3 s');
    expect(app).toMatch(/tryForMs: 30_000/);
    expect(main).toContain('try for 30 s');
    expect(app).toMatch(/graceMs: Math\.min\(graceMs, 2000\)/);
    expect(main).toContain('min(grace, 2 s)');
    expect(readFileSync(repoPath('src', 'api', 'http', 'server.ts'), 'utf8')).toContain("'Server is shutting down.'");
    expect(main).toContain('503 Server is shutting down.');
  });
});
