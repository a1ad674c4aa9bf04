/** Shard bus metrics (coordinator/shard): envelopes by outcome, resyncs by trigger, fencing. */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface ShardMetrics {
  envelope(outcome: string): void;
  resync(trigger: string): void;
  publishFailed(): void;
  fenced(): void;
  setRemoteShards(n: number): void;
  setGhostPeers(n: number): void;
  /** A coordinate connection closed with 1012 by fencing or drain, or refused (1012) while fenced or draining. */
  restartClose(protocol: 'v1' | 'v2', reason: 'fenced' | 'draining' | 'refused'): void;
}

export function createShardMetrics(registry: Registry): ShardMetrics {
  const env = new Counter({ name: 'tailnetd_shard_envelopes_total', help: 'Shard bus envelopes received, by outcome.', labelNames: ['outcome'], registers: [registry] });
  const resync = new Counter({ name: 'tailnetd_shard_resyncs_total', help: 'Resyncs from the Redis mirror, by trigger.', labelNames: ['trigger'], registers: [registry] });
  const pubFail = new Counter({ name: 'tailnetd_shard_publish_failures_total', help: 'Bus publishes/mirror writes that failed (mirror rewritten on recovery).', registers: [registry] });
  const fenced = new Counter({ name: 'tailnetd_shard_fenced_total', help: 'Times this shard fenced itself (Redis unreachable past the heartbeat window).', registers: [registry] });
  const remotes = new Gauge({ name: 'tailnetd_shard_remote_shards', help: 'Other shards currently alive.', registers: [registry] });
  const ghosts = new Gauge({ name: 'tailnetd_shard_remote_peers', help: 'Peers of other shards mirrored into the local core.', registers: [registry] });
  const restart = new Counter({
    name: 'tailnetd_shard_restart_closes_total',
    help: 'Coordinate connections closed with 1012 (service restart) by fencing or drain, or refused while fenced/draining; by protocol (v1 JSON, v2 dRPC) and reason.',
    labelNames: ['protocol', 'reason'],
    registers: [registry],
  });
  return {
    restartClose: (protocol, reason) => restart.inc({ protocol, reason }),
    envelope: (o) => env.inc({ outcome: o }),
    resync: (t) => resync.inc({ trigger: t }),
    publishFailed: () => pubFail.inc(),
    fenced: () => fenced.inc(),
    setRemoteShards: (n) => remotes.set(n),
    setGhostPeers: (n) => ghosts.set(n),
  };
}
