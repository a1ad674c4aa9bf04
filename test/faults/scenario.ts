/** Shared setup of the shard fault scenarios: shards over a private Redis, a fleet, figures printed. */
import { startShard, newPrefix, type ShardProc } from '../coordinator/shard/harness.js';
import { Fleet } from './fleet.js';

export interface Cluster {
  procs: Array<ShardProc | null>;
  alive: Set<number>;
  fleet: Fleet;
  prefix: string;
  env: Record<string, string>;
  waitReady(ms?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startCluster(n: number, redisUrl: string, o: { hbMs: number; perShardEnv?: (i: number) => Record<string, string> }): Promise<Cluster> {
  const prefix = newPrefix();
  const env = { REDIS_URL: redisUrl, PREFIX: prefix, HB_MS: String(o.hbMs), CLOSE_SPREAD_MS: '500' };
  const procs: Array<ShardProc | null> = await Promise.all(Array.from({ length: n }, (_, i) => startShard(i, { ...env, ...(o.perShardEnv?.(i) ?? {}) })));
  const alive = new Set(procs.map((_, i) => i));
  const fleet = new Fleet({ alive: () => [...alive], port: (i) => procs[i]!.port });
  const c: Cluster = {
    procs,
    alive,
    fleet,
    prefix,
    env,
    async waitReady(ms = 15_000) {
      const t0 = Date.now();
      for (;;) {
        const live = [...alive].map((i) => procs[i]!);
        const st = await Promise.all(live.map((p) => p.state().catch(() => null)));
        if (st.every((s) => s !== null && s.ready && s.stats.remotes === live.length - 1)) return;
        if (Date.now() - t0 > ms) throw new Error(`cluster not ready: ${JSON.stringify(st)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      fleet.stop();
      await Promise.all(procs.map((p) => p?.kill('SIGKILL')));
    },
  };
  await c.waitReady();
  return c;
}

/** Polls `pred` every 25 ms up to `ms`; returns the elapsed ms or -1. */
export async function timeUntil(pred: () => Promise<boolean> | boolean, ms: number): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await pred()) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 25));
  }
  return -1;
}

export function report(name: string, figures: Record<string, number | string>): void {
  process.stdout.write(`[faults] ${name}: ${Object.entries(figures).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
}
