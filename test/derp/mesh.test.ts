import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startHarness, next, waitFor, metric, type Harness } from './helpers.js';
import { startMeshLink, type MeshLink } from '../../src/derp/mesh.js';
import { keyPair } from '../../src/derp/key.js';
import { PeerGoneReason } from '../../src/derp/frame.js';

const MESH = 'coder-style-mesh-key-32-chars-xx';
const log = pino({ level: 'silent' });
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function pair(): Promise<{ a: Harness; b: Harness; links: MeshLink[] }> {
  const ka = keyPair();
  const kb = keyPair();
  const a = await startHarness({ privateKey: ka.privateKey, meshKey: MESH });
  const b = await startHarness({ privateKey: kb.privateKey, meshKey: MESH });
  const links = [
    startMeshLink(a.derp, { url: b.url, meshKey: MESH, privateKey: ka.privateKey, logger: log, retryMs: 100 }),
    startMeshLink(b.derp, { url: a.url, meshKey: MESH, privateKey: kb.privateKey, logger: log, retryMs: 100 }),
  ];
  cleanup.push(() => a.close(), () => b.close(), () => links.forEach((l) => l.close()));
  await waitFor(() => links.every((l) => l.connected));
  return { a, b, links };
}

describe('mesh links between two servers', () => {
  it('relays across servers both ways and propagates departures', async () => {
    const { a, b } = await pair();
    const x = await a.connect();
    const y = await b.connect();
    await waitFor(() => a.derp.stats.clientsRemote >= 2 && b.derp.stats.clientsRemote >= 2);
    x.send(y.publicKey, Buffer.from('a→b'));
    const m = await next(y);
    expect(m).toMatchObject({ type: 'packet', src: x.publicKey });
    y.send(x.publicKey, Buffer.from('b→a'));
    expect(await next(x)).toMatchObject({ type: 'packet', src: y.publicKey });
    expect(await metric(a.registry, 'coder_derp_packets_forwarded_out_total')).toBe(1);
    expect(await metric(b.registry, 'coder_derp_packets_forwarded_in_total')).toBe(1);
    x.close();
    expect(await next(y)).toEqual({ type: 'peerGone', key: x.publicKey, reason: PeerGoneReason.Disconnected });
  });

  it('forgets learned keys when the link drops and relearns after reconnecting', async () => {
    const { a, b, links } = await pair();
    const y = await b.connect();
    await waitFor(() => a.derp.stats.clientsRemote >= 2);
    const before = links[0]!.keys;
    // Kick a's link off b: b closes the connection of a's server key.
    const admin = await b.connect({ meshKey: MESH });
    admin.closePeer(a.derp.publicKey);
    await waitFor(() => !links[0]!.connected || links[0]!.keys < before, 2000);
    await waitFor(() => links[0]!.connected && links[0]!.keys >= before, 3000);
    const x = await a.connect();
    x.send(y.publicKey, Buffer.from('again'));
    expect(await next(y)).toMatchObject({ type: 'packet', src: x.publicKey });
  });

  it('a link to itself stops', async () => {
    const k = keyPair();
    const a = await startHarness({ privateKey: k.privateKey, meshKey: MESH });
    cleanup.push(() => a.close());
    const l = startMeshLink(a.derp, { url: a.url, meshKey: MESH, privateKey: k.privateKey, logger: log, retryMs: 50 });
    cleanup.push(() => l.close());
    await new Promise((r) => setTimeout(r, 200));
    expect(l.connected).toBe(false);
    expect(l.keys).toBe(0);
  });
});
