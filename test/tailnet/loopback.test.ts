/**
 * TS ↔ TS loopback: two WireGuard Devices over an in-memory datagram link
 * (loss, duplication and reordering injected), our TcpStack on one side and a
 * tiny TS echo responder on the other, all on a ManualClock.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/util/clock.js';
import { TcpStack, parseIpv6 } from '../../src/tailnet/index.js';
import { Device, generateKeyPair, parsePrefix6 } from '../../src/wireguard/index.js';
import { EchoResponder } from './responder.js';

const CLIENT = 'fd7a:115c:a1e0:4a2b:1c3d:4e5f:6a7b:8c9d';
const AGENT = 'fd7a:115c:a1e0:49d6:b259:b7ac:b1b2:48f4';
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function world(opts: { lossToAgent: number; dupToClient: number; jitterToClient: number; seed: number }) {
  const clock = new ManualClock();
  const rand = rng(opts.seed);
  const ka = generateKeyPair();
  const kb = generateKeyPair();
  const stats = { dropped: 0, duplicated: 0 };
  const clientEvents: string[] = [];
  let client!: Device;
  let agent!: Device;
  client = new Device({
    privateKey: ka.privateKey,
    clock,
    send: (_p, d) => {
      if (rand() < opts.lossToAgent) {
        stats.dropped++;
        return;
      }
      clock.setTimeout(() => agent.receive(d, ka.publicKey), 5);
    },
    deliver: (_p, pkt) => stack.input(pkt),
    onEvent: (_p, e) => clientEvents.push(e.type),
  });
  agent = new Device({
    privateKey: kb.privateKey,
    clock,
    send: (_p, d) => {
      const copies = rand() < opts.dupToClient ? 2 : 1;
      if (copies === 2) stats.duplicated++;
      for (let i = 0; i < copies; i++) clock.setTimeout(() => client.receive(d, kb.publicKey), 5 + Math.floor(rand() * opts.jitterToClient));
    },
    deliver: (_p, pkt) => responder.input(pkt),
  });
  const toAgent = client.addPeer({ publicKey: kb.publicKey, allowedIps: [parsePrefix6(`${AGENT}/128`)] });
  const toClient = agent.addPeer({ publicKey: ka.publicKey, allowedIps: [parsePrefix6(`${CLIENT}/128`)] });
  const stack = new TcpStack({ localAddress: CLIENT, remoteAddress: AGENT, clock, output: (p) => toAgent.send(p) });
  const responder = new EchoResponder(parseIpv6(AGENT), parseIpv6(CLIENT), (p) => toClient.send(p));
  const run = async (until: () => boolean, maxMs: number): Promise<void> => {
    for (let t = 0; t < maxMs && !until(); t += 5) {
      clock.advance(5);
      await tick();
    }
  };
  return { clock, stack, responder, run, stats, client, agent, clientEvents };
}

describe('loopback: TS TCP client over TS WireGuard to a TS responder', () => {
  it('echoes 256 KiB on a clean link', async () => {
    const w = world({ lossToAgent: 0, dupToClient: 0, jitterToClient: 0, seed: 1 });
    const s = w.stack.connect(4);
    const got: Buffer[] = [];
    let total = 0;
    s.on('data', (b: Buffer) => {
      got.push(b);
      total += b.length;
    });
    const data = Buffer.alloc(256 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 13) & 0xff;
    s.write(data);
    await w.run(() => total >= data.length, 60_000);
    expect(Buffer.concat(got).equals(data)).toBe(true);
    s.end();
    let closed = false;
    s.on('close', () => (closed = true));
    await w.run(() => closed, 5_000);
    expect(closed).toBe(true);
  });

  it('survives 5% loss towards the responder plus duplication and reordering back', async () => {
    const w = world({ lossToAgent: 0.05, dupToClient: 0.05, jitterToClient: 30, seed: 42 });
    const s = w.stack.connect(2);
    const got: Buffer[] = [];
    let total = 0;
    s.on('data', (b: Buffer) => {
      got.push(b);
      total += b.length;
    });
    s.on('error', () => {});
    const data = Buffer.alloc(128 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff;
    // PTY-like small writes, then a bulk write.
    for (let i = 0; i < 100; i++) s.write(data.subarray(i * 10, i * 10 + 10));
    s.write(data.subarray(1000));
    await w.run(() => total >= data.length, 600_000);
    expect(w.stats.dropped).toBeGreaterThan(0);
    expect(w.stats.duplicated).toBeGreaterThan(0);
    expect(Buffer.concat(got).equals(data)).toBe(true);
  });

  it('after > 180 s idle, output from the responder side makes it initiate and the TS peer respond', async () => {
    const w = world({ lossToAgent: 0, dupToClient: 0, jitterToClient: 0, seed: 3 });
    const s = w.stack.connect(2);
    let text = '';
    s.on('data', (b: Buffer) => (text += b.toString()));
    s.write(Buffer.from('hi'));
    await w.run(() => text === 'hi', 5_000);
    await w.run(() => false, 200_000);
    const peer = w.client.peer(w.agent.publicKey)!;
    expect(peer.hasSession).toBe(false);
    w.clientEvents.length = 0;
    w.responder.push(s.localPort, 2, Buffer.from(' pty output'));
    await w.run(() => text === 'hi pty output', 20_000);
    expect(text).toBe('hi pty output');
    expect(w.clientEvents).toContain('response-sent');
    expect(w.clientEvents).not.toContain('initiation-sent');
  });
});
