/**
 * Sharded backend over a Redis Cluster: a private 3-master cluster
 * (test/helpers/redis-cluster.ts) per suite, three shard processes with
 * TAILNETD_REDIS_CLUSTER semantics (SPUBLISH/SSUBSCRIBE, hash-tagged mirrors).
 */
import { RedisCluster } from '../../helpers/redis-cluster.js';
import type { CoordinatorBackend, RunningBackend } from './backend.js';
import { startShards } from './redis-backend.js';

export const redisClusterBackend: CoordinatorBackend = {
  name: 'sharded-redis-cluster-3x3',
  async start(opts): Promise<RunningBackend> {
    const cluster = await RedisCluster.start(3);
    try {
      const b = await startShards(3, { ...opts, redisUrl: cluster.url, cluster: true });
      return {
        shards: b.shards,
        agentUrl: b.agentUrl,
        clientUrl: b.clientUrl,
        nodeOn: b.nodeOn,
        async stop() {
          await b.stop();
          await cluster.stop();
        },
      };
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  },
};
