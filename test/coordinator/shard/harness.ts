/**
 * Test harness: shard processes (shard-process.ts under tsx) sharing one
 * Redis with a per-test prefix, and an optional private redis-server for
 * fault tests that kill or pause it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ENTRY = fileURLToPath(new URL('./shard-process.ts', import.meta.url));

export interface ShardProc {
  readonly index: number;
  readonly port: number;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  state(): Promise<{ ready: boolean; stats: Record<string, number | boolean> }>;
  node(id: string): Promise<string | null>;
  explain(id: string): Promise<Record<string, unknown>>;
  kill(sig?: NodeJS.Signals): Promise<void>;
}

export async function startShard(index: number, env: Record<string, string>): Promise<ShardProc> {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY], {
    env: { ...process.env, ...env, SHARD_ID: env.SHARD_ID ?? `s${index}-${randomBytes(3).toString('hex')}` },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error('shard did not start in 20 s')), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /LISTEN (\d+)/.exec(buf);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
    void exited.then(() => reject(new Error('shard exited during start')));
  });
  const base = `http://127.0.0.1:${port}`;
  return {
    index,
    port,
    child,
    exited,
    state: async () => (await (await fetch(`${base}/debug/state`)).json()) as { ready: boolean; stats: Record<string, number | boolean> },
    explain: async (id) => (await (await fetch(`${base}/debug/peer?id=${id}`)).json()) as Record<string, unknown>,
    node: async (id) => ((await (await fetch(`${base}/debug/node?id=${id}`)).json()) as { node: string | null }).node,
    kill: async (sig = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
      await exited;
    },
  };
}

export function newPrefix(): string {
  return `tailnetd:test:${randomBytes(6).toString('hex')}:`;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** A private redis-server (Debian's binary) on a free port, for tests that kill or pause Redis. */
export class PrivateRedis {
  child: ChildProcess | null = null;
  readonly dir = mkdtempSync(join(tmpdir(), 'tailnetd-redis-'));
  constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort());
    await r.spawn();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async spawn(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir], { stdio: 'ignore' });
    this.child = child;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (await canConnect(this.port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('redis-server did not start');
  }

  signal(sig: NodeJS.Signals): void {
    this.child?.kill(sig);
  }

  async kill(): Promise<void> {
    const c = this.child;
    if (c === null || c.exitCode !== null) return;
    const done = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await done;
    this.child = null;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    import('node:net').then(({ connect }) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
  });
}
