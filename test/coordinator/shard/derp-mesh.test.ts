import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { keyPair } from '../../../src/derp/key.js';
import { txClient } from '../../../src/coordinator/shard/bus.js';
import { DerpMeshManager } from '../../../src/coordinator/shard/derp-mesh.js';
import { next, startHarness, waitFor, type Harness } from '../../derp/helpers.js';

const MESH = 'coder-style-mesh-key-32-chars-xx';
const log = pino({ level: 'silent' });
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function replica(prefix: string): Promise<{ h: Harness; m: DerpMeshManager; redis: Redis }> {
  const k = keyPair();
  const h = await startHarness({ privateKey: k.privateKey, meshKey: MESH });
  const redis = new Redis('redis://127.0.0.1:6379', { enableOfflineQueue: false, lazyConnect: true });
  await redis.connect();
  const m = new DerpMeshManager({ derp: h.derp, meshKey: MESH, privateKey: k.privateKey, selfUrl: h.url, redis: txClient(redis), prefix, intervalMs: 200, linkRetryMs: 100, logger: log });
  await m.start();
  cleanup.push(
    () => h.close(),
    () => redis.disconnect(),
    () => m.stop(),
  );
  return { h, m, redis };
}

describe('DERP mesh across replicas (Redis discovery)', () => {
  it('replicas discover each other, relay between clients on different replicas both ways, and unlink a departed replica', async () => {
    const prefix = `tailnetd:test:${randomBytes(6).toString('hex')}:`;
    const [a, b, c] = [await replica(prefix), await replica(prefix), await replica(prefix)];
    await waitFor(() => [a, b, c].every((r) => r.m.connectedPeers() === 2), 5000);
    const x = await a.h.connect();
    const y = await c.h.connect();
    await waitFor(() => a.h.derp.stats.clientsRemote >= 1 && c.h.derp.stats.clientsRemote >= 1, 3000);
    x.send(y.publicKey, Buffer.from('a→c'));
    expect(await next(y)).toMatchObject({ type: 'packet', src: x.publicKey });
    y.send(x.publicKey, Buffer.from('c→a'));
    expect(await next(x)).toMatchObject({ type: 'packet', src: y.publicKey });
    await b.m.stop();
    await waitFor(() => a.m.peers().length === 1 && c.m.peers().length === 1, 3000);
    expect(a.m.peers()).toEqual([c.h.url]);
    await a.redis.del(`${prefix}derp:relays`);
  });
});
