/**
 * HTML debug page for GET /api/v2/debug/coordinator (coder-agents-api.md §4.8):
 * agents sorted by name with their connections, then "missing agents" (tunnel
 * destinations with no agent socket). Pure: renders a snapshot.
 */
import type { PeerId } from './types.js';

export interface DebugConn {
  id: PeerId;
  name: string;
  createdAt: number;
  lastWriteAt: number;
  overwrites: number;
}

export interface DebugSnapshot {
  title: string;
  now: number;
  agents: Array<DebugConn & { connections: DebugConn[] }>;
  missing: Array<{ id: PeerId; name: string; connections: DebugConn[] }>;
}

export function renderDebugPage(s: DebugSnapshot): string {
  const out: string[] = [];
  out.push(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>${esc(s.title)}</title></head><body>`);
  out.push(`<h1>${esc(s.title)}</h1>`);
  const agents = [...s.agents].sort((a, b) => cmp(a.name, b.name) || cmp(a.id, b.id));
  out.push(`<h2 id="agents"><a href="#agents">#</a> agents: total ${agents.length}</h2><ul>`);
  for (const a of agents) {
    out.push(
      `<li style="margin-top:4px"><b>${esc(a.name)}</b> (<code>${esc(a.id)}</code>): created ${ago(s.now, a.createdAt)}, write ${ago(s.now, a.lastWriteAt)}, overwrites ${a.overwrites}`,
    );
    connections(out, s.now, a.connections);
    out.push('</li>');
  }
  out.push('</ul>');
  const missing = [...s.missing].sort((a, b) => cmp(a.name, b.name) || cmp(a.id, b.id));
  out.push(`<h2 id="missing-agents"><a href="#missing-agents">#</a> missing agents: total ${missing.length}</h2><ul>`);
  for (const m of missing) {
    out.push(`<li style="margin-top:4px"><b>${esc(m.name)}</b> (<code>${esc(m.id)}</code>)`);
    connections(out, s.now, m.connections);
    out.push('</li>');
  }
  out.push('</ul></body></html>\n');
  return out.join('\n');
}

function connections(out: string[], now: number, conns: DebugConn[]): void {
  const sorted = [...conns].sort((a, b) => cmp(a.id, b.id));
  out.push(`<h3 style="margin:0;font-size:1em;font-weight:400">connections: total ${sorted.length}</h3><ul>`);
  for (const c of sorted) {
    out.push(`<li><b>${esc(c.name)}</b> (<code>${esc(c.id)}</code>): created ${ago(now, c.createdAt)}, write ${ago(now, c.lastWriteAt)}</li>`);
  }
  out.push('</ul>');
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Go-style rounded duration ("1h2m3s") followed by "ago", or "never". */
export function ago(now: number, at: number): string {
  if (at <= 0) return 'never';
  let s = Math.max(0, Math.round((now - at) / 1000));
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${s}s ago`;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
