/**
 * A throwaway Redis Cluster for tests: three masters (optionally each with a
 * replica) from Debian's /usr/bin/redis-server (≥ 7), each node in its own
 * temp dir, no persistence. Every node gets two ports probed free from port 0: the client port
 * and the cluster bus port (`cluster-port`, so the default port+10000 never
 * has to be free). A port taken between probing and binding makes that node
 * exit; it is then started again on fresh ports. Safe to run in parallel.
 *
 *   start(): spawn nodes ─► SET-CONFIG-EPOCH ─► ADDSLOTSRANGE (thirds, masters) ─► MEET (with bus port)
 *            ─► REPLICATE (replicas) ─► wait for cluster_state:ok, every node known, replicas linked
 *   stop():  SIGKILL, remove dirs
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

const REDIS_SERVER = process.env.TAILNETD_TEST_REDIS_SERVER ?? '/usr/bin/redis-server';
const SLOTS = 16384;

export interface ClusterNode {
  port: number;
  busPort: number;
  id: string;
  /** Id of the master this node was started as a replica of (null: started as a master). */
  replicaOf: string | null;
  dir: string;
  child: ChildProcess;
}

function probePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function ping(port: number): Promise<boolean> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 500 });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

async function spawnNode(): Promise<Omit<ClusterNode, 'id' | 'replicaOf'>> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const [port, busPort] = [await probePort(), await probePort()];
    if (port === busPort) continue;
    const dir = mkdtempSync(join(tmpdir(), 'tailnetd-rcluster-'));
    const child = spawn(
      REDIS_SERVER,
      [
        '--port', String(port),
        '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes',
        '--cluster-port', String(busPort),
        '--cluster-config-file', join(dir, 'nodes.conf'),
        '--cluster-node-timeout', '2000',
        '--save', '',
        '--appendonly', 'no',
        '--dir', dir,
      ],
      { stdio: 'ignore' },
    );
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    const deadline = Date.now() + 10_000;
    while (!exited && Date.now() < deadline) {
      if (await ping(port)) return { port, busPort, dir, child };
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  throw new Error('redis-server (cluster mode) did not start');
}

export class RedisCluster {
  private constructor(readonly nodes: ClusterNode[]) {}

  /** Seed URL (the first node); the cluster client discovers the others. */
  get url(): string {
    return `redis://127.0.0.1:${this.nodes[0]!.port}`;
  }

  static async start(masters = 3, o: { replicas?: boolean } = {}): Promise<RedisCluster> {
    const total = o.replicas === true ? masters * 2 : masters;
    const spawned = await Promise.all(Array.from({ length: total }, () => spawnNode()));
    const admins = spawned.map((n) => new Redis({ port: n.port, host: '127.0.0.1' }));
    try {
      const nodes: ClusterNode[] = [];
      for (let i = 0; i < spawned.length; i++) {
        const a = admins[i]!;
        await a.call('CLUSTER', 'SET-CONFIG-EPOCH', String(i + 1));
        if (i < masters) {
          const from = Math.floor((SLOTS * i) / masters);
          const to = Math.floor((SLOTS * (i + 1)) / masters) - 1;
          await a.call('CLUSTER', 'ADDSLOTSRANGE', String(from), String(to));
        }
        nodes.push({ ...spawned[i]!, id: String(await a.call('CLUSTER', 'MYID')), replicaOf: null });
      }
      for (const n of nodes.slice(1)) await admins[0]!.call('CLUSTER', 'MEET', '127.0.0.1', String(n.port), String(n.busPort));
      const c = new RedisCluster(nodes);
      await c.waitHealthy(20_000, false);
      for (let i = masters; i < total; i++) {
        const master = nodes[i - masters]!;
        // A replica can only follow a master it already knows (gossip): retry until it does.
        const deadline = Date.now() + 10_000;
        for (;;) {
          try {
            await admins[i]!.call('CLUSTER', 'REPLICATE', master.id);
            break;
          } catch (err) {
            if (Date.now() > deadline) throw err;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        nodes[i]!.replicaOf = master.id;
      }
      await c.waitHealthy();
      return c;
    } catch (err) {
      for (const n of spawned) {
        n.child.kill('SIGKILL');
        rmSync(n.dir, { recursive: true, force: true });
      }
      throw err;
    } finally {
      for (const a of admins) a.disconnect();
    }
  }

  /** Nodes not killed by kill(). */
  live(): ClusterNode[] {
    return this.nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
  }

  /** SIGKILLs one node (a master failover follows when it has a replica). */
  async kill(n: ClusterNode): Promise<void> {
    if (n.child.exitCode !== null || n.child.signalCode !== null) return;
    const done = new Promise((r) => n.child.once('exit', r));
    n.child.kill('SIGKILL');
    await done;
  }

  /**
   * Waits until every live node reports cluster_state:ok and knows every node,
   * and (with `replicasLinked`) every live replica's link to its master is up (bounded).
   */
  async waitHealthy(ms = 20_000, replicasLinked = true): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      const live = this.live();
      const infos = await Promise.all(live.map((n) => this.onNode(n.port, (r) => r.call('CLUSTER', 'INFO')).catch(() => '')));
      const repl = await Promise.all(live.map((n) => this.onNode(n.port, (r) => r.info('replication')).catch(() => '')));
      const ok =
        infos.every((i) => /cluster_state:ok/.test(String(i)) && new RegExp(`cluster_known_nodes:${this.nodes.length}\\b`).test(String(i))) &&
        (!replicasLinked || repl.every((r) => !/role:slave/.test(r) || /master_link_status:up/.test(r)));
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`redis cluster not healthy: ${infos.map((i) => /cluster_state:\w+/.exec(String(i))?.[0]).join(',')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Runs `fn` against one node over a short-lived connection. */
  async onNode<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
    const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
    r.on('error', () => {});
    try {
      await r.connect();
      return await fn(r);
    } finally {
      r.disconnect();
    }
  }

  /** `CLIENT KILL TYPE pubsub` on every live node; returns how many connections each dropped. */
  async killPubsubClients(): Promise<number[]> {
    return Promise.all(this.live().map((n) => this.onNode(n.port, async (r) => Number(await r.call('CLIENT', 'KILL', 'TYPE', 'pubsub')))));
  }

  /** The node owning the slot of `key` (a key or a shard channel), as the node `via` sees it. */
  async ownerOf(key: string, via: ClusterNode = this.live()[0]!): Promise<ClusterNode> {
    return this.onNode(via.port, async (r) => {
      const slot = Number(await r.call('CLUSTER', 'KEYSLOT', key));
      for (const [from, to, master] of await r.cluster('SLOTS')) {
        const n = this.nodes.find((x) => x.port === Number(master?.[1]));
        if (slot >= from && slot <= to && n !== undefined) return n;
      }
      throw new Error(`no node for slot ${slot}`);
    });
  }

  /**
   * Moves the slot of `key` (which must hold no keys: shard channels only) to
   * node `to`, as a resharding does: the old owner drops its sharded
   * subscribers of that slot (SUNSUBSCRIBE) and answers MOVED from then on.
   */
  async moveSlotOf(key: string, to: ClusterNode): Promise<void> {
    const slot = Number(await this.onNode(this.nodes[0]!.port, (r) => r.call('CLUSTER', 'KEYSLOT', key)));
    const from = await this.ownerOf(key);
    if (from === to) throw new Error('slot already there');
    await this.onNode(to.port, (r) => r.call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', from.id));
    await this.onNode(from.port, (r) => r.call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', to.id));
    const keys = (await this.onNode(from.port, (r) => r.call('CLUSTER', 'COUNTKEYSINSLOT', String(slot)))) as number;
    if (Number(keys) !== 0) throw new Error(`slot ${slot} holds keys`);
    await this.onNode(to.port, (r) => r.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', to.id));
    await this.onNode(from.port, (r) => r.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', to.id));
    for (const n of this.live()) if (n !== from && n !== to) await this.onNode(n.port, (r) => r.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', to.id));
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.nodes.map(async (n) => {
        if (n.child.exitCode === null && n.child.signalCode === null) {
          const done = new Promise((r) => n.child.once('exit', r));
          n.child.kill('SIGKILL');
          await done;
        }
        rmSync(n.dir, { recursive: true, force: true });
      }),
    );
  }
}
