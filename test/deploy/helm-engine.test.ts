/**
 * deploy/render (TypeScript Go-template subset) renders the chart byte for byte as Helm's
 * engine does: deploy/render/helm-engine is Go's text/template + sprig + sigs.k8s.io/yaml set
 * up as Helm's pkg/engine, built here with `go build` (skipped when no Go toolchain is found).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHART_DIR, RELEASE } from '../../deploy/render.js';
import { renderChart } from '../../deploy/render/chart.js';
import { deployPath } from './helpers.js';

const src = deployPath('render', 'helm-engine');
const goBin = ((): string | null => {
  for (const c of [process.env.GO_BIN, 'go', '/usr/local/go/bin/go'].filter((x): x is string => !!x)) if (spawnSync(c, ['version'], { stdio: 'ignore' }).status === 0) return c;
  return null;
})();

const CASES: [string, Record<string, unknown>][] = [
  ['defaults', {}],
  [
    'every optional resource on',
    {
      derpService: { enabled: true, loadBalancerSourceRanges: ['0.0.0.0/0'] },
      ingress: { enabled: true, className: 'nginx', host: 'tailnetd.example.com', tls: [{ hosts: ['tailnetd.example.com'], secretName: 'tls' }] },
      metrics: { serviceMonitor: { enabled: true, labels: { release: 'prometheus' } } },
      tailnetd: { accessURL: 'https://tailnetd.example.com', derp: { stunAddresses: ['203.0.113.7:3478'], forceWebsockets: true } },
      extraEnv: [{ name: 'TAILNETD_DERP_SERVER_REGION_NAME', value: 'Example' }],
      podAnnotations: { a: 'yes', b: 'on', c: '1', d: 'true', e: '1.5', f: 'null', g: '~', h: '' },
      podLabels: { team: 'net' },
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'k', operator: 'Exists' }],
      imagePullSecrets: [{ name: 'regcred' }],
    },
  ],
  [
    'features off, odd numbers and names',
    {
      replicaCount: 1000000, // float64 in Helm: prints 1e+06
      fullnameOverride: 'x-very-long-name-that-goes-on-and-on-beyond-sixty-three-characters-for-sure-',
      metrics: { enabled: false },
      podDisruptionBudget: { enabled: false },
      serviceAccount: { create: false },
      tailnetd: { redis: { urlSecret: { name: '' } }, derp: { meshKeySecret: { name: '' }, stun: false } },
      topologySpreadConstraints: [],
    },
  ],
  ['release name without the chart name', { nameOverride: 'relay' }],
];

describe.skipIf(goBin === null)('deploy/render matches Helm’s template engine (Go text/template + sprig)', () => {
  let engine = '';
  /** Set when the Go modules could not be downloaded: an environment problem, not a rendering one. */
  let offline: string | null = null;
  beforeAll(() => {
    const hash = createHash('sha256');
    for (const f of ['main.go', 'go.mod', 'go.sum']) hash.update(readFileSync(join(src, f)));
    engine = join(tmpdir(), `tailnetd-helm-engine-${hash.digest('hex').slice(0, 16)}`);
    if (existsSync(engine)) return;
    const tmp = `${engine}.${process.pid}.tmp`;
    const res = spawnSync(goBin!, ['build', '-p', '1', '-o', tmp, '.'], { cwd: src, encoding: 'utf8', timeout: 280_000, env: { ...process.env, GOFLAGS: '-buildvcs=false' } });
    if (res.status !== 0) {
      if (/dial tcp|no such host|i\/o timeout|connection refused|TLS handshake|proxyconnect|GOPROXY|module lookup disabled/i.test(res.stderr)) offline = res.stderr;
      else throw new Error(`go build failed: ${res.stderr}`);
      return;
    }
    renameSync(tmp, engine); // atomic: parallel runs never see a half-written binary
  }, 300_000);

  const goRender = (release: string, values: Record<string, unknown>): { ok: true; files: Record<string, string> } | { ok: false; err: string } => {
    const res = spawnSync(engine, [CHART_DIR, release, RELEASE.namespace, JSON.stringify(values)], { encoding: 'utf8' });
    return res.status === 0 ? { ok: true, files: JSON.parse(res.stdout) as Record<string, string> } : { ok: false, err: res.stderr };
  };

  for (const [label, values] of CASES) {
    it(`renders every template and NOTES.txt identically (${label})`, (ctx) => {
      if (offline) ctx.skip(`Go modules unavailable: ${offline.slice(0, 200)}`);
      const release = label.startsWith('release name') ? 'edge' : RELEASE.releaseName;
      const go = goRender(release, values);
      if (!go.ok) throw new Error(go.err);
      const mine = renderChart(CHART_DIR, { releaseName: release, namespace: RELEASE.namespace, values });
      const goFiles = Object.entries(go.files).filter(([k, v]) => !k.endsWith('NOTES.txt') && v.trim() !== '');
      expect(mine.files.map((f) => f.source).sort()).toEqual(goFiles.map(([k]) => k).sort());
      for (const [k, v] of goFiles) {
        // chart.ts drops leading blank lines and ends each file with one newline, as helm does
        expect(mine.files.find((f) => f.source === k)!.text, k).toBe(v.replace(/^\n+/, '').replace(/\s+$/, '') + '\n');
      }
      expect(mine.notes).toBe(go.files['tailnetd/templates/NOTES.txt']);
    });
  }

  it('fails where Helm fails (drain longer than the termination grace period)', (ctx) => {
    if (offline) ctx.skip('Go modules unavailable');
    const values = { terminationGracePeriodSeconds: 20 };
    const go = goRender(RELEASE.releaseName, values);
    expect(go.ok).toBe(false);
    expect(go.ok ? '' : go.err).toMatch(/terminationGracePeriodSeconds must exceed/);
    expect(() => renderChart(CHART_DIR, { ...RELEASE, values })).toThrow(/terminationGracePeriodSeconds must exceed/);
  });
});
