/** Test helpers: v1 nodes with exact 63-bit ids, and a v1 peer over a real WebSocket. */
import { randomBytes, randomUUID } from 'node:crypto';
import WebSocket from 'ws';

export interface TestNodeOptions {
  id?: bigint;
  derp?: number;
  endpoints?: string[];
  asOf?: string;
  address?: string;
}

/** A valid v1 node JSON text; `id` is written as raw digits. */
export function nodeJson(o: TestNodeOptions = {}): string {
  const id = o.id ?? randomId();
  const addr = o.address ?? `fd7a:115c:a1e0:${randomBytes(2).toString('hex')}::1/128`;
  return (
    `{"id":${id},"as_of":${JSON.stringify(o.asOf ?? new Date().toISOString())},` +
    `"key":"nodekey:${randomBytes(32).toString('hex')}","disco":"discokey:${randomBytes(32).toString('hex')}",` +
    `"preferred_derp":${o.derp ?? 1},"derp_latency":{"1-v4":0.012,"1-v6":0.015},"derp_forced_websockets":null,` +
    `"addresses":[${JSON.stringify(addr)}],"allowed_ips":[${JSON.stringify(addr)}],` +
    `"endpoints":${JSON.stringify(o.endpoints ?? ['192.0.2.10:41641', '[2001:db8::1]:41641'])}}`
  );
}

export function randomId(): bigint {
  return randomBytes(8).readBigUInt64BE() >> 1n; // 63-bit, like cryptorand.Int63
}

export function uuid(): string {
  return randomUUID();
}

/** Extracts the raw `"id":<digits>` text of every node in a received array. */
export function idsOf(nodes: string[]): string[] {
  return nodes.map((n) => /"id":(-?\d+)/.exec(n)?.[1] ?? '?');
}

export interface Closed {
  code: number;
  reason: string;
}

/** A v1 coordinate peer: sends nodes, collects the arrays the server writes. */
export class V1Peer {
  readonly ws: WebSocket;
  /** Every received message, as the list of node object texts in its array. */
  readonly messages: string[][] = [];
  readonly rawMessages: Buffer[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<Closed>;
  private waiters: Array<() => void> = [];
  pings = 0;

  constructor(url: string) {
    this.ws = new WebSocket(url, { perMessageDeflate: false });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.wake();
      });
    });
    this.ws.on('error', () => {});
    this.ws.on('ping', () => this.pings++);
    this.ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) throw new Error('server sent a text frame');
      this.rawMessages.push(data);
      const text = data.toString('utf8');
      if (!text.startsWith('[') || !text.endsWith(']')) throw new Error(`not an array: ${text}`);
      this.messages.push(splitArray(text));
      this.wake();
    });
  }

  static async connect(url: string): Promise<V1Peer> {
    const p = new V1Peer(url);
    await p.opened;
    return p;
  }

  send(data: string | Buffer): void {
    this.ws.send(typeof data === 'string' ? Buffer.from(data) : data, { binary: true });
  }

  /** All nodes received so far, flattened. */
  get nodes(): string[] {
    return this.messages.flat();
  }

  /** Waits until `pred` holds (re-checked on every message/close), or fails after `ms`. */
  async until(pred: () => boolean, what: string, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits for the n-th message (1-based) and returns it. */
  async message(n: number, ms = 5000): Promise<string[]> {
    await this.until(() => this.messages.length >= n, `message #${n}`, ms);
    return this.messages[n - 1] as string[];
  }

  async close(): Promise<Closed> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
    return this.closed;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** Resolves after `ms` of real time (only for asserting that nothing arrives). */
export function quiet(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls an async/sync probe until it holds. */
export async function eventually(pred: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Top-level element texts of a JSON array text (raw, so 63-bit ids stay exact). */
export function splitArray(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      continue;
    }
    if (c === '{' || c === '[') {
      if (depth === 1 && c === '{') start = i;
      depth++;
    } else if (c === '}' || c === ']') {
      depth--;
      if (depth === 1 && c === '}') out.push(text.slice(start, i + 1));
    }
  }
  return out;
}
