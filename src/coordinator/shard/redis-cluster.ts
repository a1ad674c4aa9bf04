/**
 * Redis Cluster basics shared by the shard bus and DERP mesh discovery: the
 * seed URL (redis[s]://user:pass@host:port; its credentials and TLS apply to
 * every node), hash tags, and the transaction shapes. Routing is in
 * cluster-router.ts.
 */
import type { RedisOptions } from 'ioredis';

/** One recorded command: name, key (or shard channel), arguments. */
export type TxCommand = [name: string, key: string, ...args: Array<string | number | Buffer>];
export type TxResult = Array<[error: Error | null, result: unknown]>;

export interface ClusterSeed {
  host: string;
  port: number;
  /** Per-node connection options (credentials, TLS). */
  node: RedisOptions;
}

/** Parses a redis:// or rediss:// URL into a seed node. Redis Cluster has database 0 only. */
export function clusterSeed(url: string): ClusterSeed {
  const u = new URL(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`redis cluster: unsupported URL scheme ${u.protocol}`);
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && db !== '0') throw new Error('redis cluster: only database 0 exists in a cluster (drop the /N from the URL)');
  const node: RedisOptions = {};
  if (u.username !== '') node.username = decodeURIComponent(u.username);
  if (u.password !== '') node.password = decodeURIComponent(u.password);
  if (u.protocol === 'rediss:') node.tls = {};
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: u.port === '' ? 6379 : Number(u.port), node };
}

/**
 * The hash tag Redis hashes for `key` (cluster spec: the text between the
 * first `{` and the next `}`, when not empty; otherwise the whole key). Keys
 * with the same tag share a slot; different tags may too, which only costs an
 * extra round trip below.
 */
export function hashTag(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  if (close <= open + 1) return key;
  return key.slice(open + 1, close);
}

/**
 * Runs `cmds` as one MULTI per hash tag, all sent at once (dispatch is
 * synchronous, so successive calls keep their order per node), and returns
 * the replies in the recorded order. A group that fails marks each of its
 * commands with the error. `publish` becomes `spublish` (sharded pub/sub).
 */
