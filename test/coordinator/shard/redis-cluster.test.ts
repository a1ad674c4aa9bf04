/**
 * Redis Cluster plumbing of the shard bus: hash tags, seed URL parsing, the
 * per-slot transaction runner against a real 3-master cluster, and the
 * sharded subscriber following its channel when the slot moves.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BusTx, busKeys } from '../../../src/coordinator/shard/bus.js';
import { ClusterRouter, keySlot } from '../../../src/coordinator/shard/cluster-router.js';
import { clusterSeed, hashTag } from '../../../src/coordinator/shard/redis-cluster.js';
import { ShardedSubscriber } from '../../../src/coordinator/shard/sharded-subscriber.js';
import { RedisCluster } from '../../helpers/redis-cluster.js';
import { eventually } from '../helpers.js';

describe('hash tags and seed URLs', () => {
  it('hashTag follows the cluster spec: first {…} when not empty, else the whole key', () => {
    expect(hashTag('p:mirror:{s1}')).toBe('s1');
    expect(hashTag('p:{a}:{b}')).toBe('a');
    expect(hashTag('p:{}x{y}')).toBe('p:{}x{y}');
    expect(hashTag('p:{open')).toBe('p:{open');
    expect(hashTag('plain')).toBe('plain');
  });

  it('cluster keys put a shard mirror and meta on one tag and leave the rest untagged', () => {
    const k = busKeys('tn:', true);
    expect(hashTag(k.mirror('s1'))).toBe('s1');
    expect(hashTag(k.meta('s1'))).toBe('s1');
    expect(hashTag(k.members)).toBe(k.members);
    expect(hashTag(k.channel)).toBe(k.channel);
    // Single-node names are unchanged (rolling upgrades keep reading each other's mirrors).
    expect(busKeys('tn:').mirror('s1')).toBe('tn:mirror:s1');
  });

  it('clusterSeed takes host, port, credentials and TLS from the URL and refuses a database other than 0', () => {
    expect(clusterSeed('redis://127.0.0.1:7001')).toEqual({ host: '127.0.0.1', port: 7001, node: {} });
    expect(clusterSeed('rediss://u:p%40ss@redis.example:6380/0')).toEqual({ host: 'redis.example', port: 6380, node: { username: 'u', password: 'p@ss', tls: {} } });
    expect(clusterSeed('redis://[::1]').port).toBe(6379);
    expect(clusterSeed('redis://[::1]').host).toBe('::1');
    expect(() => clusterSeed('redis://h:1/2')).toThrow(/database 0/);
    expect(() => clusterSeed('http://h:1')).toThrow(/scheme/);
  });
});

describe('on a 3-master cluster', { timeout: 60_000 }, () => {
  let rc: RedisCluster;
  const prefix = `tn:${randomBytes(4).toString('hex')}:`;
  const logger = pino({ level: 'silent' });

  beforeAll(async () => {
    rc = await RedisCluster.start(3);
  }, 60_000);
  afterAll(async () => {
    await rc?.stop();
  });

  /** Two shard ids whose {tags} land on different masters. */
  async function idsOnTwoMasters(): Promise<[string, string]> {
    const first = `s-${randomBytes(3).toString('hex')}`;
    const a = await rc.ownerOf(`{${first}}`);
    for (;;) {
      const id = `s-${randomBytes(3).toString('hex')}`;
      if ((await rc.ownerOf(`{${id}}`)).port !== a.port) return [first, id];
    }
  }

  it('keySlot matches CLUSTER KEYSLOT (CRC16 of the hash tag)', async () => {
    const keys = ['', 'a', 'foo', '{user1000}.following', 'p:mirror:{s1}', 'p:{}x{y}', '日本語', `${prefix}bus`, ...Array.from({ length: 40 }, () => randomBytes(6).toString('hex'))];
    const probe = new Redis({ port: rc.nodes[0]!.port, host: '127.0.0.1' });
    try {
      for (const k of keys) expect(keySlot(k), k).toBe(Number(await probe.call('CLUSTER', 'KEYSLOT', k)));
    } finally {
      probe.disconnect();
    }
  });

  it('the router runs a transaction spanning masters (one MULTI per slot) and returns replies in order', async () => {
    const router = new ClusterRouter(rc.url);
    await router.connect();
    const raw = new Redis.Cluster([{ host: '127.0.0.1', port: rc.nodes[0]!.port }]);
    try {
      const [s1, s2] = await idsOnTwoMasters();
      const k = busKeys(prefix, true);
      // The same commands as one raw MULTI are refused by the cluster: grouping is what makes this work.
      await expect(raw.multi([['set', k.meta(s1), 'x'], ['set', k.meta(s2), 'y']]).exec()).rejects.toThrow();
      const write = new BusTx((cmds) => router.exec(cmds))
        .hset(k.mirror(s1), 'p1', Buffer.from('r1'))
        .set(k.meta(s1), 'e1:1', 'PX', 60_000)
        .hset(k.mirror(s2), 'p2', Buffer.from('r2'))
        .set(k.meta(s2), 'e2:7', 'PX', 60_000)
        .zadd(k.members, Date.now() + 60_000, s1)
        .publish(k.channel, 'hello');
      const w = await write.exec();
      expect(w?.map(([e]) => e)).toEqual([null, null, null, null, null, null]);
      const read = await new BusTx((cmds) => router.exec(cmds)).hgetallBuffer(k.mirror(s2)).get(k.meta(s2)).hgetallBuffer(k.mirror(s1)).get(k.meta(s1)).exec();
      expect(read?.map(([, v]) => v)).toEqual([{ p2: Buffer.from('r2') }, 'e2:7', { p1: Buffer.from('r1') }, 'e1:1']);
      // The slot map agrees with the cluster's own.
      for (const key of [k.meta(s1), k.meta(s2), k.members, k.channel]) expect(router.ownerOf(keySlot(key))?.port).toBe((await rc.ownerOf(key)).port);
    } finally {
      router.close();
      raw.disconnect();
    }
  });

  it('after a slot moves, a command fails once (MOVED), the router learns the new owner, and the next one succeeds', async () => {
    const router = new ClusterRouter(rc.url);
    await router.connect();
    try {
      // A channel, not a stored key: the helper moves only empty slots.
      const key = `${prefix}moving:{${randomBytes(3).toString('hex')}}`;
      const tx = (): Promise<unknown> => new BusTx((cmds) => router.exec(cmds)).publish(key, 'v').exec().then((r) => r?.[0]?.[0] ?? null);
      expect(await tx()).toBeNull();
      const from = await rc.ownerOf(key);
      const to = rc.nodes.find((n) => n !== from)!;
      await rc.moveSlotOf(key, to);
      const first = await tx();
      expect(String(first)).toMatch(/MOVED|EXECABORT/);
      // MOVED patches that slot at once; the full refresh follows.
      expect(router.ownerOf(keySlot(key))?.port).toBe(to.port);
      expect(await tx()).toBeNull();
    } finally {
      router.close();
    }
  });

  it('a router whose seed is down fails connect with an error instead of hanging', async () => {
    const router = new ClusterRouter('redis://127.0.0.1:1');
    try {
      await expect(router.connect()).rejects.toThrow(/ECONNREFUSED|Connection is closed/);
    } finally {
      router.close();
    }
  });

  it('the sharded subscriber receives SPUBLISH, and after its slot moves resubscribes on the new owner (reported as a gap)', async () => {
    const channel = `${prefix}chan`;
    const router = new ClusterRouter(rc.url);
    await router.connect();
    const cluster = new Redis.Cluster([{ host: '127.0.0.1', port: rc.nodes[0]!.port }]);
    const got: string[] = [];
    const events: string[] = [];
    const sub = new ShardedSubscriber(router, channel, { message: (b) => got.push(b.toString()), subscribed: (first) => events.push(first ? 'first' : 'again'), down: () => events.push('down') }, logger, {});
    try {
      await sub.start();
      expect(events).toEqual(['first']);
      await cluster.spublish(channel, 'one');
      await eventually(() => got.includes('one'), 'first message');
      const from = await rc.ownerOf(channel);
      const to = rc.nodes.find((n) => n !== from)!;
      await rc.moveSlotOf(channel, to);
      await eventually(() => events.join(',') === 'first,down,again', 'down, then subscribed again');
      const owner = await rc.onNode(to.port, (r) => r.call('PUBSUB', 'SHARDNUMSUB', channel));
      expect(Number((owner as unknown[])[1])).toBe(1);
      // Publish through a fresh client that learns the new owner; the old owner would answer MOVED.
      const pub = new Redis({ port: to.port, host: '127.0.0.1' });
      try {
        await pub.spublish(channel, 'two');
      } finally {
        pub.disconnect();
      }
      await eventually(() => got.includes('two'), 'message from the new owner');
    } finally {
      sub.close();
      router.close();
      cluster.disconnect();
    }
  });
});
