/**
 * Renders deploy/helm/<chart> like `helm template` does, with the Go-template subset in
 * gotemplate.ts: values.yaml deep-merged with overrides, `_*` files as partials, one output
 * per template file (blank ones dropped), documents ordered by Helm's install order, NOTES.txt
 * rendered apart.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Templates } from './gotemplate.js';

export interface RenderOptions {
  releaseName?: string;
  namespace?: string;
  /** Deep-merged over values.yaml (maps merge, everything else replaces), as `--set`/`-f`. */
  values?: Record<string, unknown>;
}

export interface RenderedFile {
  /** e.g. tailnetd/templates/deployment.yaml, as helm's `# Source:` line. */
  source: string;
  text: string;
}

export interface Rendered {
  files: RenderedFile[];
  notes: string;
}

/** Helm's kind install order (pkg/releaseutil/kind_sorter.go); unknown kinds go last. */
const INSTALL_ORDER = [
  'PriorityClass', 'Namespace', 'NetworkPolicy', 'ResourceQuota', 'LimitRange', 'PodSecurityPolicy', 'PodDisruptionBudget',
  'ServiceAccount', 'Secret', 'SecretList', 'ConfigMap', 'StorageClass', 'PersistentVolume', 'PersistentVolumeClaim',
  'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleList', 'ClusterRoleBinding', 'ClusterRoleBindingList', 'Role',
  'RoleList', 'RoleBinding', 'RoleBindingList', 'Service', 'DaemonSet', 'Pod', 'ReplicationController', 'ReplicaSet',
  'Deployment', 'HorizontalPodAutoscaler', 'StatefulSet', 'Job', 'CronJob', 'IngressClass', 'Ingress', 'APIService',
];

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isMap(b) && isMap(v) ? deepMerge(b, v) : v;
  }
  return out;
}

export function renderChart(chartDir: string, opts: RenderOptions = {}): Rendered {
  const chart = parseYaml(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as { name: string; version: string; appVersion: string };
  const defaults = (parseYaml(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) ?? {}) as Record<string, unknown>;
  const values = deepMerge(defaults, opts.values ?? {});
  const releaseName = opts.releaseName ?? chart.name;
  const root = {
    Values: values,
    Release: { Name: releaseName, Namespace: opts.namespace ?? 'default', Service: 'Helm', IsInstall: true, IsUpgrade: false, Revision: 1 },
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
    Capabilities: { KubeVersion: { Version: 'v1.30.0', Major: '1', Minor: '30' } },
  };
  const tplDir = join(chartDir, 'templates');
  const names = readdirSync(tplDir).sort();
  const t = new Templates();
  for (const n of names) t.add(n, readFileSync(join(tplDir, n), 'utf8'));

  const files: RenderedFile[] = [];
  for (const n of names) {
    if (n.startsWith('_') || n === 'NOTES.txt' || !/\.(ya?ml|tpl)$/.test(n)) continue;
    const text = t.render(n, { ...root, Template: { Name: `${chart.name}/templates/${n}` } });
    if (text.trim() === '') continue;
    files.push({ source: `${chart.name}/templates/${n}`, text: text.replace(/^\n+/, '').replace(/\s+$/, '') + '\n' });
  }
  const kindRank = (f: RenderedFile): number => {
    const kind = /^kind:\s*(\S+)/m.exec(f.text)?.[1] ?? '';
    const i = INSTALL_ORDER.indexOf(kind);
    return i < 0 ? INSTALL_ORDER.length : i;
  };
  files.sort((a, b) => kindRank(a) - kindRank(b) || a.source.localeCompare(b.source));
  const notes = names.includes('NOTES.txt') ? t.render('NOTES.txt', root) : '';
  return { files, notes };
}

/** One multi-document stream, as `helm template` prints it. */
export function toStream(r: Rendered): string {
  return r.files.map((f) => `---\n# Source: ${f.source}\n${f.text}`).join('');
}
