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

  /**
   * Every wrong view, the one rule behind mismatches/describe/stalePeers: for each
   * client and its agent, both ways, the viewer must be connected and hold the
   * sender's last node.
   */
  private *wrongViews(): Generator<{ viewer: FleetPeer; sender: FleetPeer }> {
    const agents = new Map(this.agents.map((a) => [a.id, a]));
    const withClients = new Set<string>();
    for (const c of this.clients) {
      const a = agents.get(c.agentId)!;
      withClients.add(a.id);
      for (const [viewer, sender] of [[c, a], [a, c]] as const) {
        if (viewer.ws === null || viewer.view.get(sender.id) !== sender.lastSentId) yield { viewer, sender };
      }
    }
    // An agent without clients has nothing to see, but must still be connected.
    for (const a of this.agents) if (!withClients.has(a.id) && a.ws === null) yield { viewer: a, sender: a };
  }

  /** Wrong views (see wrongViews); 0 when every peer is connected and up to date. */
  mismatches(): number {
    let bad = 0;
    for (const _ of this.wrongViews()) bad++;
    return bad;
  }

  /** Ids of peers some partner sees wrongly (diagnosis: ask the shards where their view comes from). */
  stalePeers(limit = 2): string[] {
    const out = new Set<string>();
    for (const { viewer, sender } of this.wrongViews()) {
      if (viewer.ws !== null) out.add(sender.id);
      if (out.size >= limit) break;
    }
    return [...out];
  }

  /** The first few wrong views, one per line: the message of a failed convergence assertion. */
  describe(limit = 5): string {
    const out: string[] = [];
    const who = (p: FleetPeer): string => `${p.kind} ${p.id.slice(0, 8)}@${p.shard}`;
    for (const { viewer: v, sender: s } of this.wrongViews()) {
      out.push(`${who(v)} sees ${who(s)} as ${v.view.get(s.id)} want ${s.lastSentId} open=${v.ws !== null} attempts=${v.attempts} closes=${v.closeCodes.join(',')}`);
      if (out.length >= limit) break;
    }
    return out.join('\n');
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
