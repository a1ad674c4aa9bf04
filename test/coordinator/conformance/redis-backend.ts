/**
 * Sharded backend: three shard processes (test/coordinator/shard/shard-process.ts)
 * sharing the real Redis at 127.0.0.1:6379 under a per-start key prefix. No
 * in-process introspection: the cases check behaviour on the wire only.
 */
import { Redis } from 'ioredis';
import { newPrefix, startShard, type ShardProc } from '../shard/harness.js';
import type { BackendOptions, CoordinatorBackend, RunningBackend } from './backend.js';

const REDIS_URL = process.env.TAILNETD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** `cluster`: `redisUrl` is a seed of a throwaway Redis Cluster (test/helpers/redis-cluster.ts), torn down by its owner, so no key cleanup here. */
export async function startShards(n: number, opts: BackendOptions & { env?: Record<string, string>; redisUrl?: string; cluster?: boolean } = {}): Promise<RunningBackend & { procs: ShardProc[]; prefix: string }> {
  const prefix = newPrefix();
  const env: Record<string, string> = { REDIS_URL: opts.redisUrl ?? REDIS_URL, PREFIX: prefix, ...(opts.cluster ? { REDIS_CLUSTER: '1' } : {}), ...(opts.env ?? {}) };
  if (opts.writeTimeoutMs) env.WRITE_TIMEOUT_MS = String(opts.writeTimeoutMs);
  if (opts.queueSize) env.QUEUE_SIZE = String(opts.queueSize);
  const procs = await Promise.all(Array.from({ length: n }, (_, i) => startShard(i, env)));
  // Ready = each shard resynced after start; a fresh shard may miss others' first heartbeat, so wait for full membership.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const states = await Promise.all(procs.map((p) => p.state()));
    if (states.every((s) => s.ready && s.stats.remotes === n - 1)) break;
    if (Date.now() > deadline) throw new Error(`shards not ready: ${JSON.stringify(states)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = (i: number | undefined): string => `ws://127.0.0.1:${procs[(i ?? 0) % n]!.port}`;
  return {
    procs,
    prefix,
    shards: n,
    agentUrl: (agentId, shard) => `${url(shard)}/api/v2/workspaceagents/me/coordinate?agent=${agentId}`,
    clientUrl: (agentId, clientId, shard) => `${url(shard)}/api/v2/workspaceagents/${agentId}/coordinate?client=${clientId}`,
    nodeOn: (shard, peerId) => procs[shard % n]!.node(peerId),
    async stop() {
      await Promise.all(procs.map((p) => p.kill('SIGKILL')));
      if (opts.cluster) return;
      const r = new Redis(opts.redisUrl ?? REDIS_URL, { lazyConnect: true });
      try {
        await r.connect();
        const keys = await r.keys(`${prefix}*`);
        if (keys.length > 0) await r.del(...keys);
      } catch {
        // Redis gone (fault tests): nothing to clean
      } finally {
        r.disconnect();
      }
    },
  };
}

export const redisBackend: CoordinatorBackend = {
  name: 'sharded-redis-3',
  start: (opts) => startShards(3, opts),
};
