/**
 * deploy/helm/tailnetd rendered by deploy/render (a Go-template subset; no helm binary here):
 * deploy/k8s is up to date, every document validates against the Kubernetes schemas
 * (kubernetes-models), and probes, ports, env names, secrets, drain timing and DERP mesh
 * settings agree with tailnetd's config schema. When a `helm` binary is on PATH (or HELM_BIN),
 * `helm template` must produce the same documents.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Service, ServiceAccount } from 'kubernetes-models/v1';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { describe, expect, it } from 'vitest';
import { optionDefs, sectionDefs } from '../../src/config/schema.js';
import { CHART_DIR, K8S_FILE, RELEASE, renderDefault } from '../../deploy/render.js';
import { renderChart, toStream } from '../../deploy/render/chart.js';
import { deployPath, envNamesKnown, envOf } from './helpers.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed YAML in tests

const VALIDATORS: Record<string, (o: Obj) => { validate(): void }> = {
  Deployment: (o) => new Deployment(o),
  Service: (o) => new Service(o),
  ServiceAccount: (o) => new ServiceAccount(o),
  PodDisruptionBudget: (o) => new PodDisruptionBudget(o),
  Ingress: (o) => new Ingress(o),
  ServiceMonitor: (o) => new ServiceMonitor(o as ConstructorParameters<typeof ServiceMonitor>[0]),
};

function docs(stream: string): Obj[] {
  return parseAllDocuments(stream).map((d) => {
    expect(d.errors, String(d.errors)).toEqual([]);
    return d.toJS() as Obj;
  }).filter((d) => d !== null);
}

const render = (values: Record<string, unknown> = {}): Obj[] => docs(toStream(renderChart(CHART_DIR, { ...RELEASE, values })));
const byKind = (list: Obj[], kind: string, name?: string): Obj[] => list.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
const container = (list: Obj[]): Obj => byKind(list, 'Deployment')[0]!.spec.template.spec.containers[0];
const envMap = (c: Obj): Record<string, Obj> => Object.fromEntries((c.env as Obj[]).map((e) => [e.name as string, e]));
const portOf = (hostPort: string): number => Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));
const defaultOf = (key: string): unknown => optionDefs.find((o) => o.key === key)!.schema.parse(undefined);

const ALL_ON = {
  derpService: { enabled: true },
  ingress: { enabled: true, className: 'nginx', host: 'tailnetd.example.com', tls: [{ hosts: ['tailnetd.example.com'], secretName: 'tailnetd-tls' }] },
  metrics: { serviceMonitor: { enabled: true, labels: { release: 'prometheus' } } },
  tailnetd: { accessURL: 'https://tailnetd.example.com', derp: { stunAddresses: ['203.0.113.7:3478', '203.0.113.8:3478'] } },
  extraEnv: [{ name: 'TAILNETD_DERP_SERVER_REGION_NAME', value: 'Example' }],
  podAnnotations: { 'example.com/a': 'b' },
  nodeSelector: { 'kubernetes.io/os': 'linux' },
};

describe('deploy/k8s (rendered from the chart defaults)', () => {
  it('is up to date with deploy/helm/tailnetd (regenerate: node --import tsx deploy/render.ts)', () => {
    expect(readFileSync(K8S_FILE, 'utf8')).toBe(renderDefault());
  });

  for (const [label, values] of [['defaults', {}], ['every optional resource on', ALL_ON]] as const) {
    it(`validates every document against the Kubernetes schemas (${label})`, () => {
      const list = render(values);
      expect(list.length).toBeGreaterThan(0);
      for (const d of list) {
        const make = VALIDATORS[d.kind as string];
        expect(make, `no validator for ${d.kind}`).toBeDefined();
        expect(() => make!(d).validate(), `${d.kind}/${d.metadata?.name}`).not.toThrow();
        expect(d.metadata.namespace).toBe('tailnetd');
      }
    });
  }

  it('renders the resources the defaults promise, and the optional ones only when enabled', () => {
    const kinds = (l: Obj[]): string[] => l.map((d) => `${d.kind}/${d.metadata.name}`).sort();
    expect(kinds(render())).toEqual(['Deployment/tailnetd', 'PodDisruptionBudget/tailnetd', 'Service/tailnetd', 'Service/tailnetd-metrics', 'ServiceAccount/tailnetd']);
    expect(kinds(render(ALL_ON))).toEqual([
      'Deployment/tailnetd', 'Ingress/tailnetd', 'PodDisruptionBudget/tailnetd', 'Service/tailnetd', 'Service/tailnetd-derp',
      'Service/tailnetd-metrics', 'ServiceAccount/tailnetd', 'ServiceMonitor/tailnetd',
    ]);
  });
});

describe('deploy/helm/tailnetd agrees with tailnetd', () => {
  const list = render(ALL_ON);
  const dep = byKind(list, 'Deployment')[0]!;
  const pod = dep.spec.template.spec;
  const c = container(list);
  const env = envMap(c);
  const ports = Object.fromEntries((c.ports as Obj[]).map((p) => [p.name as string, p]));

  it('uses only environment names tailnetd defines (pending scale-out names listed in helpers.ts)', () => {
    const names = Object.keys(env).filter((n) => n.startsWith('TAILNETD_') || n.startsWith('CODER_'));
    const { unknown, pending } = envNamesKnown(names);
    expect(unknown).toEqual([]);
    expect(pending).toEqual([]); // scale-out options defined in src/config/schema.ts
    // every value given inline passes the option's own schema
    for (const [name, e] of Object.entries(env)) {
      if (e.value === undefined) continue;
      const opt = optionDefs.find((o) => o.env.includes(name));
      if (opt) expect(opt.schema.safeParse(e.value).success, `${name}=${e.value}`).toBe(true);
      const section = sectionDefs.find((s) => Object.values(s.env).includes(name));
      if (section) {
        const field = Object.entries(section.env).find(([, v]) => v === name)![0];
        expect((section.schema as { safeParse(v: unknown): { success: boolean } }).safeParse({ [field]: e.value }).success, `${name}=${e.value}`).toBe(true);
      }
    }
  });

  it('runs ≥3 replicas spread over zones and nodes, one disruption at a time', () => {
    expect(dep.spec.replicas).toBeGreaterThanOrEqual(3);
    const keys = (pod.topologySpreadConstraints as Obj[]).map((t) => t.topologyKey);
    expect(keys).toEqual(['topology.kubernetes.io/zone', 'kubernetes.io/hostname']);
    for (const t of pod.topologySpreadConstraints as Obj[]) expect(t.labelSelector.matchLabels).toEqual(dep.spec.selector.matchLabels);
    const pdb = byKind(list, 'PodDisruptionBudget')[0]!;
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(dep.spec.selector.matchLabels);
    expect(dep.spec.strategy.rollingUpdate.maxUnavailable).toBe(1);
  });

  it('binds the container ports through the listen-address options', () => {
    expect(ports.http).toMatchObject({ containerPort: portOf(env[envOf('httpAddress')]!.value), protocol: 'TCP' });
    expect(ports.metrics).toMatchObject({ containerPort: portOf(env[envOf('prometheusAddress')]!.value), protocol: 'TCP' });
    expect(ports.stun).toMatchObject({ containerPort: portOf(env[envOf('stunAddress')]!.value), protocol: 'UDP' });
    for (const k of ['httpAddress', 'prometheusAddress', 'stunAddress']) expect(env[envOf(k)]!.value).toMatch(/^0\.0\.0\.0:/);
    expect(env[envOf('prometheusEnable')]!.value).toBe('true');
  });

  it('probes readiness on /readyz and liveness/startup on /healthz, on the HTTP port', () => {
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    // liveness tolerates far longer than readiness: a dependency outage flips readiness only
    const tolerance = (p: Obj): number => p.periodSeconds * p.failureThreshold;
    expect(tolerance(c.livenessProbe)).toBeGreaterThan(tolerance(c.readinessProbe));
  });

  it('gives the SIGTERM drain time: terminationGracePeriodSeconds > preStop sleep + drain deadline', () => {
    const graceMs = Number(env[envOf('shutdownGraceMs')]?.value ?? defaultOf('shutdownGraceMs'));
    const sleep = c.lifecycle.preStop.exec.command as string[];
    expect(sleep[0]).toBe('sleep');
    const sleepS = Number(sleep[1]);
    expect(sleepS).toBeGreaterThan(0);
    expect(sleepS).toBeLessThanOrEqual(10); // short: only for endpoint propagation
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(sleepS + graceMs / 1000);
  });

  it('refuses to render a terminationGracePeriodSeconds the drain cannot fit in', () => {
    expect(() => renderChart(CHART_DIR, { ...RELEASE, values: { terminationGracePeriodSeconds: 20 } })).toThrow(/terminationGracePeriodSeconds must exceed/);
    expect(() => renderChart(CHART_DIR, { ...RELEASE, values: { terminationGracePeriodSeconds: 60, tailnetd: { shutdownGracePeriodMs: 60_000 } } })).toThrow(/must exceed/);
  });

  it('reads the PostgreSQL URL, Redis URL and DERP mesh key from Secrets, never inline', () => {
    for (const [name, secret] of [
      [envOf('postgresUrl'), 'tailnetd-postgres'],
      ['TAILNETD_REDIS_URL', 'tailnetd-redis'],
      [envOf('derpMeshKey'), 'tailnetd-derp-mesh'],
    ] as const) {
      expect(env[name]!.value, name).toBeUndefined();
      expect(env[name]!.valueFrom.secretKeyRef.name, name).toBe(secret);
    }
    // every secret option of the schema that the chart sets comes from a Secret
    for (const o of optionDefs.filter((d) => d.secret)) for (const e of o.env) if (env[e]) expect(env[e]!.valueFrom?.secretKeyRef, e).toBeDefined();
  });

  it('sets TAILNETD_REDIS_CLUSTER only when tailnetd.redis.cluster is on', () => {
    expect(env.TAILNETD_REDIS_CLUSTER).toBeUndefined();
    const on = envMap(container(render({ tailnetd: { redis: { cluster: true } } })));
    expect(on.TAILNETD_REDIS_CLUSTER!.value).toBe('true');
    expect(on.TAILNETD_REDIS_URL!.valueFrom.secretKeyRef.name).toBe('tailnetd-redis');
    expect(envNamesKnown(['TAILNETD_REDIS_CLUSTER']).unknown).toEqual([]);
  });

  it('meshes DERP: relay URL from the pod IP (downward API) on the HTTP port, replica id from the pod UID', () => {
    const names = Object.keys(env);
    expect(env.KUBE_POD_IP!.valueFrom.fieldRef.fieldPath).toBe('status.podIP');
    expect(names.indexOf('KUBE_POD_IP')).toBeLessThan(names.indexOf('TAILNETD_DERP_RELAY_URL')); // $(VAR) needs it defined first
    expect(env.TAILNETD_DERP_RELAY_URL!.value).toBe(`http://$(KUBE_POD_IP):${ports.http!.containerPort}`);
    expect(env[envOf('replicaId')]!.valueFrom.fieldRef.fieldPath).toBe('metadata.uid'); // a UUID, as the option requires
    expect(env[envOf('derpMeshKey')]!.valueFrom.secretKeyRef).toBeDefined();
  });

  it('exposes HTTP on a Service, metrics on a headless Service, and DERP (TCP) + STUN (UDP) on an optional LoadBalancer', () => {
    const svc = byKind(list, 'Service', 'tailnetd')[0]!;
    expect(svc.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }]);
    const metrics = byKind(list, 'Service', 'tailnetd-metrics')[0]!;
    expect(metrics.spec.clusterIP).toBe('None');
    expect(metrics.spec.ports[0]).toMatchObject({ name: 'metrics', targetPort: 'metrics' });
    const derp = byKind(list, 'Service', 'tailnetd-derp')[0]!;
    expect(derp.spec.type).toBe('LoadBalancer');
    expect(derp.spec.externalTrafficPolicy).toBe('Local');
    expect((derp.spec.ports as Obj[]).map((p) => `${p.protocol}:${p.targetPort}`).sort()).toEqual(['TCP:http', 'UDP:stun']);
    const sm = byKind(list, 'ServiceMonitor')[0]!;
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels as Record<string, string>)) expect(metrics.metadata.labels[k], k).toBe(v);
    expect(sm.spec.endpoints[0]).toMatchObject({ port: 'metrics', path: '/metrics' });
    for (const s of [svc, metrics, derp]) expect(s.spec.selector).toEqual(dep.spec.selector.matchLabels);
  });

  it('passes optional settings through (access URL, advertised STUN addresses, extra env)', () => {
    expect(env[envOf('accessUrl')]!.value).toBe('https://tailnetd.example.com');
    expect(env.TAILNETD_DERP_SERVER_STUN_ADDRESSES!.value).toBe('203.0.113.7:3478,203.0.113.8:3478');
    expect(env.TAILNETD_DERP_SERVER_REGION_NAME!.value).toBe('Example');
    const ing = byKind(list, 'Ingress')[0]!;
    expect(Number(ing.metadata.annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThanOrEqual(3600);
  });

  it('runs as the image user, non-root, read-only root filesystem, no privilege escalation', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
    expect(readFileSync(deployPath('Dockerfile'), 'utf8')).toMatch(/^USER 10001:10001$/m);
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    const mounts = (c.volumeMounts as Obj[]).map((m) => m.mountPath);
    expect(mounts).toContain('/var/lib/tailnetd'); // TAILNETD_DATA_DIR must be writable
    expect(env[envOf('dataDir')]!.value).toBe('/var/lib/tailnetd');
  });

  it('NOTES.txt names the Secrets to create', () => {
    const notes = renderChart(CHART_DIR, RELEASE).notes;
    for (const s of ['tailnetd-postgres', 'tailnetd-redis', 'tailnetd-derp-mesh', 'keygen mesh', '/readyz']) expect(notes).toContain(s);
    expect(renderChart(CHART_DIR, { ...RELEASE, values: { tailnetd: { derp: { meshKeySecret: { name: '' } } } } }).notes).toContain('WARNING: no DERP mesh key');
  });
});

const helmBin = ((): string | null => {
  for (const c of [process.env.HELM_BIN, 'helm'].filter((x): x is string => !!x)) if (spawnSync(c, ['version'], { stdio: 'ignore' }).status === 0) return c;
  return null;
})();

describe.skipIf(helmBin === null)('deploy/render against a real helm', () => {
  for (const [label, values] of [['defaults', {}], ['every optional resource on', ALL_ON]] as const) {
    it(`helm template gives the same documents (${label})`, () => {
      const args = ['template', RELEASE.releaseName, CHART_DIR, '-n', RELEASE.namespace, ...Object.entries(values).flatMap(([k, v]) => ['--set-json', `${k}=${JSON.stringify(v)}`])];
      const res = spawnSync(helmBin!, args, { encoding: 'utf8' });
      expect(res.status, res.stderr).toBe(0);
      expect(docs(res.stdout)).toEqual(render(values));
    });
  }
});
