/**
 * Churn-soak load generator (bench/coordinator/soak.ts). Owns a slice of the agents and
 * every client of those agents, so ground truth and propagation latency are measured in
 * one process against one clock. Peers are v1 coordinate WebSockets (`ws`).
 *
 *   node id = `${13-digit ms stamp}${6-digit global peer index}`: every received node names
 *   its sender; the stamp is monotonic per peer, so each update has a fresh id.
 *
 *   update sent ─► pending[id] = {t, expected receivers (open now, same/cross shard)}
 *   node received ─► view[sender] = id; first receipt by an expected receiver ─► latency sample
 *   pending older than 30 s ─► still-open expected receivers that never got it = `missed`
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { serveIpc } from './ipc.js';

interface PeerSpec {
  idx: number;
  id: string;
  kind: 'agent' | 'client';
  shard: number;
  /** Clients: their agent's index. */
  agent?: number;
}

class Peer {
  ws: WebSocket | null = null;
  shard: number;
  up = false;
  connecting = false;
  /** Bumped on every successful open: a receipt counts only for the connection it was expected on. */
  gen = 0;
  /** False while churned out (closed by us, not to be reconnected until churned in). */
  wantUp = true;
  downSince = 0;
  /** performance.now() when churn brought this peer back; 0 once open. */
  joinAt = 0;
  lastStamp = 0;
  lastSentId: string | null = null;
  lastSentText: string | null = null;
  readonly view = new Map<number, string>();
  readonly partners: Peer[] = [];
  readonly key = randomBytes(32).toString('hex');

  constructor(readonly spec: PeerSpec) {
    this.shard = spec.shard;
  }
}

interface Pending {
  t: number;
  expect: Map<Peer, { gen: number; cross: boolean }>;
}

const peers: Peer[] = [];
const byIdx = new Map<number, Peer>();
let ports: number[] = [];
const pending = new Map<string, Pending>();
const disco = randomBytes(32).toString('hex');

// ---- figures ----
const CAP = 100_000;
class Reservoir {
  readonly xs: number[] = [];
  n = 0;
  max = 0;
  add(x: number): void {
    this.n++;
    if (x > this.max) this.max = x;
    if (this.xs.length < CAP) this.xs.push(x);
    else {
      const j = Math.floor(Math.random() * this.n);
      if (j < CAP) this.xs[j] = x;
    }
  }
}
let same = new Reservoir();
let cross = new Reservoir();
/** Churn connect → WebSocket open (upgrade + admission under load). */
let joins = new Reservoir();
const zero = (): Record<string, number> => ({ updatesSent: 0, expected: 0, missed: 0, connects: 0, disconnects: 0, connectFailures: 0, reconnectsAfterServerClose: 0 });
let counts = zero();
let closeCodes: Record<string, number> = {};

// ---- wire ----
function nodeText(p: Peer, id: string): string {
  return (
    `{"id":${id},"as_of":"2026-11-28T18:00:00.123456789Z","key":"nodekey:${p.key}","disco":"discokey:${disco}",` +
    `"preferred_derp":1,"derp_latency":{"1-v4":0.0123,"1-v6":0.0131},"derp_forced_websockets":null,` +
    `"addresses":["fd7a:115c:a1e0:49d6:b259:b7ac:b1b2:48f4/128"],"allowed_ips":["fd7a:115c:a1e0:49d6:b259:b7ac:b1b2:48f4/128"],` +
    `"endpoints":["192.0.2.10:41641","[2001:db8::10]:41641"]}`
  );
}

function url(p: Peer, shard: number): string {
  const port = ports[shard] as number;
  return p.spec.kind === 'agent'
    ? `ws://127.0.0.1:${port}/api/v2/workspaceagents/me/coordinate?agent=${p.spec.id}`
    : `ws://127.0.0.1:${port}/api/v2/workspaceagents/${byIdx.get(p.spec.agent as number)!.spec.id}/coordinate?client=${p.spec.id}`;
}

const ID_RE = /"id":(\d{19})/g;

function onMessage(p: Peer, gen: number, data: Buffer): void {
  const text = data.toString('latin1');
  const now = performance.now();
  for (const m of text.matchAll(ID_RE)) {
    const id = m[1] as string;
    const sender = byIdx.get(Number(id.slice(13)));
    if (sender === undefined) continue;
    p.view.set(sender.spec.idx, id);
    const e = pending.get(id);
    const want = e?.expect.get(p);
    if (e !== undefined && want !== undefined) {
      if (want.gen === gen) (want.cross ? cross : same).add(now - e.t);
      e.expect.delete(p);
      if (e.expect.size === 0) pending.delete(id);
    }
  }
}

function randomShard(): number {
  return Math.floor(Math.random() * ports.length);
}

/** Opens `p` on `shard`, retrying (jittered, bounded) on failure; resolves once open or given up. */
async function connect(p: Peer, shard: number): Promise<void> {
  if (p.connecting || p.up) return;
  p.connecting = true;
  try {
    for (let attempt = 0; attempt < 50 && p.wantUp; attempt++) {
      const s = attempt === 0 ? shard : randomShard();
      if (await open(p, s)) return;
      counts.connectFailures!++;
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 400));
    }
  } finally {
    p.connecting = false;
  }
}

function open(p: Peer, shard: number): Promise<boolean> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url(p, shard), { perMessageDeflate: false });
    let opened = false;
    ws.on('error', () => {});
    ws.once('open', () => {
      opened = true;
      if (!p.wantUp) {
        ws.close(1000);
        return resolve(true);
      }
      p.ws = ws;
      p.up = true;
      p.shard = shard;
      const gen = ++p.gen;
      counts.connects!++;
      if (p.joinAt > 0) {
        joins.add(performance.now() - p.joinAt);
        p.joinAt = 0;
      }
      ws.on('message', (d: Buffer) => onMessage(p, gen, d));
      // Re-send the latest node on every (re)connect, as real peers do (not a fresh update: not timed).
      if (p.lastSentText !== null) ws.send(Buffer.from(p.lastSentText), { binary: true });
      resolve(true);
    });
    ws.once('close', (code) => {
      if (!opened) return resolve(false);
      if (p.ws !== ws) return;
      p.ws = null;
      p.up = false;
      if (p.wantUp) {
        // Closed by the server (not churn): count it and reconnect, jittered, as real peers do.
        closeCodes[String(code)] = (closeCodes[String(code)] ?? 0) + 1;
        counts.reconnectsAfterServerClose!++;
        setTimeout(() => void connect(p, p.shard), 50 + Math.random() * 500).unref();
      }
    });
  });
}

function sendUpdate(p: Peer): void {
  const stamp = Math.max(Date.now(), p.lastStamp + 1);
  p.lastStamp = stamp;
  const id = `${stamp}${String(p.spec.idx).padStart(6, '0')}`;
  const text = nodeText(p, id);
  p.lastSentId = id;
  p.lastSentText = text;
  if (!p.up || p.ws === null) return;
  p.ws.send(Buffer.from(text), { binary: true });
  counts.updatesSent!++;
  const expect = new Map<Peer, { gen: number; cross: boolean }>();
  for (const q of p.partners) if (q.up) expect.set(q, { gen: q.gen, cross: q.shard !== p.shard });
  if (expect.size > 0) {
    counts.expected! += expect.size;
    pending.set(id, { t: performance.now(), expect });
  }
}

function sweep(maxAgeMs: number): void {
  const cutoff = performance.now() - maxAgeMs;
  for (const [id, e] of pending) {
    if (e.t > cutoff) continue;
    for (const [q, w] of e.expect) if (q.up && q.gen === w.gen) counts.missed!++;
    pending.delete(id);
  }
}
setInterval(() => sweep(30_000), 5000).unref();

async function inBatches(items: Peer[], batch: number, f: (p: Peer) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += batch) await Promise.all(items.slice(i, i + batch).map(f));
}

function mismatches(): { bad: number; down: number; examples: string[] } {
  let bad = 0;
  let down = 0;
  const examples: string[] = [];
  for (const p of peers) {
    if (!p.up) {
      down++;
      continue;
    }
    for (const q of p.partners) {
      if (p.view.get(q.spec.idx) !== q.lastSentId) {
        bad++;
        if (examples.length < 5) examples.push(`${p.spec.kind} ${p.spec.idx}@${p.shard} sees ${q.spec.kind} ${q.spec.idx}@${q.shard}${q.up ? '' : '(down)'} as ${p.view.get(q.spec.idx)} want ${q.lastSentId}`);
      }
    }
  }
  return { bad, down, examples };
}

serveIpc({
  setup(params) {
    const { specs, ports: ps } = params as { specs: PeerSpec[]; ports: number[] };
    ports = ps;
    for (const s of specs) {
      const p = new Peer(s);
      peers.push(p);
      byIdx.set(s.idx, p);
    }
    for (const p of peers) {
      if (p.spec.kind !== 'client') continue;
      const a = byIdx.get(p.spec.agent as number)!;
      p.partners.push(a);
      a.partners.push(p);
    }
    return peers.length;
  },
  async connectAll() {
    for (const p of peers) sendUpdate(p); // first node, sent on open
    await inBatches(peers, 100, (p) => connect(p, p.shard));
    return peers.filter((p) => p.up).length;
  },
  async churn(params) {
    const { connectsPerSec, disconnectsPerSec, updatesPerSec, ms } = params as { connectsPerSec: number; disconnectsPerSec: number; updatesPerSec: number; ms: number };
    const start = performance.now();
    let disconnected = 0;
    let connected = 0;
    let updated = 0;
    let rr = 0;
    const out: Peer[] = [];
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const el = Math.min(performance.now() - start, ms);
        const now = performance.now();
        // Disconnects: random open peers close gracefully (1000) and stay out for ≥ 0.5 s.
        for (const due = Math.floor((el * disconnectsPerSec) / 1000); disconnected < due; disconnected++) {
          for (let tries = 0; tries < 20; tries++) {
            const p = peers[Math.floor(Math.random() * peers.length)] as Peer;
            if (!p.up || !p.wantUp) continue;
            // Forget the socket at once: its close handshake may outlast the time out (server busy).
            const ws = p.ws;
            p.ws = null;
            p.up = false;
            p.wantUp = false;
            p.downSince = now;
            ws?.close(1000);
            counts.disconnects!++;
            out.push(p);
            break;
          }
        }
        // Connects: the longest-out churned peer joins a random shard.
        for (const due = Math.floor((el * connectsPerSec) / 1000); connected < due; connected++) {
          const p = out[0];
          if (p === undefined || now - p.downSince < 500 || p.connecting) break;
          out.shift();
          p.wantUp = true;
          p.joinAt = now;
          void connect(p, randomShard());
        }
        // Node updates: round-robin over the peers, so each open peer updates about once per period.
        for (const due = Math.floor((el * updatesPerSec) / 1000); updated < due; updated++) {
          for (let tries = 0; tries < peers.length; tries++) {
            const p = peers[rr++ % peers.length] as Peer;
            if (p.up) {
              sendUpdate(p);
              break;
            }
          }
        }
        if (el >= ms) {
          clearInterval(tick);
          resolve();
        }
      }, 20);
    });
    return { disconnected, connected, updated };
  },
  async reconnectAll() {
    const down = peers.filter((p) => !p.wantUp || !p.up);
    for (const p of down) p.wantUp = true;
    await inBatches(down, 100, (p) => connect(p, randomShard()));
    return down.length;
  },
  mismatches() {
    return mismatches();
  },
  stats(params) {
    const { reset = false, final = false } = (params as { reset?: boolean; final?: boolean } | null) ?? {};
    // `final`: after settling, every update still pending on an unchanged connection was missed.
    sweep(reset || final ? 0 : 30_000);
    const out = {
      same: same.xs,
      sameN: same.n,
      sameMax: same.max,
      cross: cross.xs,
      crossN: cross.n,
      crossMax: cross.max,
      joins: joins.xs,
      joinsMax: joins.max,
      counts: { ...counts, pending: [...pending.values()].reduce((n, e) => n + e.expect.size, 0) },
      closeCodes,
      open: peers.filter((p) => p.up).length,
    };
    if (reset) {
      same = new Reservoir();
      cross = new Reservoir();
      joins = new Reservoir();
      counts = zero();
      closeCodes = {};
      pending.clear();
    }
    return out;
  },
  closeAll() {
    for (const p of peers) {
      p.wantUp = false;
      p.ws?.terminate();
    }
    return true;
  },
});
