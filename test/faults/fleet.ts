/**
 * Fault-test fleet: v1 agents and clients spread over shard processes that
 * reconnect (jittered, bounded) to a live shard when their socket closes, and
 * re-send their latest node, as real peers do. The ground truth is what each
 * peer last sent; `mismatches()` compares every peer's view with it.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { idsOf, nodeJson } from '../coordinator/helpers.js';

export interface FleetTarget {
  /** Indexes of shards a peer may (re)connect to. */
  alive(): number[];
  port(shard: number): number;
}

class FleetPeer {
  ws: WebSocket | null = null;
  shard = -1;
  lastSent: string | null = null;
  lastSentId: string | null = null;
  /** Latest node id received, per sending peer. */
  readonly view = new Map<string, string>();
  closes = 0;
  /** Connection attempts, failed ones included (diagnosis). */
  attempts = 0;
  closeCodes: number[] = [];
  connecting: Promise<void> | null = null;
  stopped = false;

  constructor(
    readonly fleet: Fleet,
    readonly id: string,
    readonly kind: 'agent' | 'client',
    readonly agentId: string,
  ) {}

  url(shard: number): string {
    const port = this.fleet.target.port(shard);
    return this.kind === 'agent'
      ? `ws://127.0.0.1:${port}/api/v2/workspaceagents/me/coordinate?agent=${this.id}`
      : `ws://127.0.0.1:${port}/api/v2/workspaceagents/${this.agentId}/coordinate?client=${this.id}`;
  }

  /** One reconnect loop per peer: a second one would leave two live sockets for one peer id (a duplicate peer). */
  connect(shard: number): Promise<void> {
    if (this.connecting !== null) return this.connecting;
    this.connecting = (async () => {
      // Like a real agent or client: retry until stopped, jittered backoff growing to 1 s (a fault
      // that outlasts a fixed number of attempts must not read as lost state).
      for (let attempt = 0; !this.stopped; attempt++) {
        const alive = this.fleet.target.alive();
        const s = attempt === 0 && alive.includes(shard) ? shard : (alive[Math.floor(Math.random() * alive.length)] as number);
        this.attempts++;
        const ok = await this.open(s);
        if (ok) return;
        const cap = Math.min(1000, 100 * 2 ** Math.min(attempt, 4));
        await new Promise((r) => setTimeout(r, cap / 2 + Math.random() * (cap / 2)));
      }
    })().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private open(shard: number): Promise<boolean> {
    return new Promise((resolve) => {
      const ws = new WebSocket(this.url(shard), { perMessageDeflate: false, handshakeTimeout: 5000 });
      let opened = false;
      ws.on('error', () => {});
      ws.once('open', () => {
        opened = true;
        this.ws = ws;
        this.shard = shard;
        if (this.lastSent !== null) ws.send(Buffer.from(this.lastSent), { binary: true });
        // A fenced/draining shard closes at once with 1012: count it as a failed attempt.
        setTimeout(() => resolve(ws.readyState === WebSocket.OPEN), 30);
      });
      ws.on('message', (data: Buffer) => {
        const text = data.toString('utf8');
        // A v1 node has exactly one "id" key: every match is one node of the array.
        for (const m of text.matchAll(/"id":(\d+)/g)) {
          const id = m[1] as string;
          const from = this.fleet.senderOf.get(id);
          if (from !== undefined) this.view.set(from, id);
        }
      });
      ws.once('close', (code) => {
        if (!opened) return resolve(false);
        if (this.ws !== ws) return;
        this.ws = null;
        this.closes++;
        this.closeCodes.push(code);
        // A close while the loop is still checking this attempt is that loop's to retry.
        if (!this.stopped && this.connecting === null) {
          const delay = 50 + Math.random() * 500;
          setTimeout(() => void this.connect(this.shard), delay).unref();
        }
      });
    });
  }

  sendNode(): void {
    const n = nodeJson();
    const id = idsOf([n])[0] as string;
    this.fleet.senderOf.set(id, this.id);
    this.lastSent = n;
    this.lastSentId = id;
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(Buffer.from(n), { binary: true });
  }

  stop(): void {
    this.stopped = true;
    this.ws?.terminate();
  }
}

export class Fleet {
  readonly senderOf = new Map<string, string>();
  readonly agents: FleetPeer[] = [];
  readonly clients: FleetPeer[] = [];

  constructor(readonly target: FleetTarget) {}

  /** `agents` agents, each with `clientsPer` clients; agents on shard i%n, their clients on the other shards. */
  async start(agents: number, clientsPer: number): Promise<void> {
    const shards = this.target.alive();
    const n = shards.length;
    for (let i = 0; i < agents; i++) {
      const a = new FleetPeer(this, randomUUID(), 'agent', '');
      a.sendNode();
      this.agents.push(a);
      for (let j = 0; j < clientsPer; j++) {
        const c = new FleetPeer(this, randomUUID(), 'client', a.id);
        c.sendNode();
        this.clients.push(c);
      }
    }
    const all = [...this.agents.map((a, i) => [a, shards[i % n]] as const), ...this.clients.map((c, i) => [c, shards[(i + 1) % n]] as const)];
    for (let i = 0; i < all.length; i += 50) await Promise.all(all.slice(i, i + 50).map(([p, s]) => p.connect(s as number)));
  }

  /** One round of churn: `updates` random peers send a new node. */
  churn(updates: number): void {
    const all = [...this.agents, ...this.clients];
    for (let i = 0; i < updates; i++) all[Math.floor(Math.random() * all.length)]!.sendNode();
  }

  /** Peers whose view differs from the ground truth (each client: its agent's last node; each agent: each client's). */
  mismatches(): number {
    let bad = 0;
    const byAgent = new Map<string, FleetPeer[]>();
    for (const c of this.clients) {
      const a = this.agents.find((x) => x.id === c.agentId)!;
      if (c.view.get(a.id) !== a.lastSentId || c.ws === null) bad++;
      byAgent.set(a.id, [...(byAgent.get(a.id) ?? []), c]);
    }
    for (const a of this.agents) {
      if (a.ws === null) bad++;
      for (const c of byAgent.get(a.id) ?? []) if (a.view.get(c.id) !== c.lastSentId) bad++;
    }
    return bad;
  }

  /** Ids of peers some partner sees wrongly (diagnosis: ask the shards where their view comes from). */
  stalePeers(limit = 2): string[] {
    const out = new Set<string>();
    for (const c of this.clients) {
      const a = this.agents.find((x) => x.id === c.agentId)!;
      if (c.view.get(a.id) !== a.lastSentId) out.add(a.id);
      if (a.view.get(c.id) !== c.lastSentId) out.add(c.id);
      if (out.size >= limit) break;
    }
    return [...out].slice(0, limit);
  }

  /** First few mismatches, for failure messages. */
  describe(limit = 5): string[] {
    const out: string[] = [];
    for (const c of this.clients) {
      const a = this.agents.find((x) => x.id === c.agentId)!;
      if (c.view.get(a.id) !== a.lastSentId || c.ws === null)
        out.push(`client ${c.id.slice(0, 8)}@${c.shard} sees agent ${a.id.slice(0, 8)}@${a.shard} as ${c.view.get(a.id)} want ${a.lastSentId} open=${c.ws !== null} attempts=${c.attempts} closes=${c.closeCodes.join(',')}`);
      if (a.view.get(c.id) !== c.lastSentId || a.ws === null)
        out.push(`agent ${a.id.slice(0, 8)}@${a.shard} sees client ${c.id.slice(0, 8)}@${c.shard} as ${a.view.get(c.id)} want ${c.lastSentId} open=${a.ws !== null} attempts=${a.attempts} closes=${a.closeCodes.join(',')}`);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Polls until every view matches (bounded); returns ms taken, or -1 on timeout. */
  async converge(ms: number): Promise<number> {
    const t0 = Date.now();
    while (Date.now() - t0 < ms) {
      if (this.mismatches() === 0) return Date.now() - t0;
      await new Promise((r) => setTimeout(r, 50));
    }
    return -1;
  }

  stop(): void {
    for (const p of [...this.agents, ...this.clients]) p.stop();
  }
}
