/**
 * Agent metadata: the descriptions provisioned with an agent (coder_agent `metadata` blocks,
 * stored as JSON on its row) and the JSON users read (codersdk.WorkspaceAgentMetadata).
 * Order as coderd: display order, then key. Values for undeclared keys (older tailnetd builds
 * stored any key) follow, by key.
 */
import type { AgentMetadataValue } from '../store/index.js';
import type { MetadataSpec } from '../provisioning/schema.js';

export type MetadataDescription = Pick<MetadataSpec, 'key' | 'display_name' | 'script' | 'interval' | 'timeout' | 'order'>;

/** Go's zero time.Time: the collected_at of a declared key that has not reported yet. */
const GO_ZERO_TIME = '0001-01-01T00:00:00Z';
const GO_ZERO_MS = Date.parse(GO_ZERO_TIME);

export function parseMetadataDescriptions(json: string | null): MetadataDescription[] {
  if (!json) return [];
  const parsed = JSON.parse(json) as MetadataDescription[];
  return [...parsed].sort((a, b) => a.order - b.order || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export interface WorkspaceAgentMetadataJson {
  result: { collected_at: string; age: number; value: string; error: string };
  description: { display_name: string; key: string; script: string; interval: number; timeout: number };
}

export function metadataJson(descriptions: readonly MetadataDescription[], values: Iterable<AgentMetadataValue>, nowMs: number): WorkspaceAgentMetadataJson[] {
  const byKey = new Map<string, AgentMetadataValue>();
  for (const v of values) byKey.set(v.key, v);
  const out: WorkspaceAgentMetadataJson[] = [];
  const result = (v: AgentMetadataValue | undefined) => {
    const collected = v ? Date.parse(v.collected_at) : GO_ZERO_MS;
    return { collected_at: v ? v.collected_at : GO_ZERO_TIME, age: Math.max(0, Math.trunc((nowMs - collected) / 1000)), value: v?.value ?? '', error: v?.error ?? '' };
  };
  for (const d of descriptions) {
    out.push({ result: result(byKey.get(d.key)), description: { display_name: d.display_name, key: d.key, script: d.script, interval: d.interval, timeout: d.timeout } });
    byKey.delete(d.key);
  }
  const rest = [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const v of rest) out.push({ result: result(v), description: { display_name: '', key: v.key, script: '', interval: 0, timeout: 0 } });
  return out;
}
