import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/util/clock.js';
import { AGENT_IP, TailnetPeer, type TailnetPeerEvent, parseIpv6 } from '../../src/tailnet/index.js';
import { Device, generateKeyPair, parsePrefix6 } from '../../src/wireguard/index.js';
import { EchoResponder } from './responder.js';

const ME = 'fd7a:115c:a1e0:4a2b:1c3d:4e5f:6a7b:8c9d';
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Our TailnetPeer plus n fake agents (Device + echo responder), all on one ManualClock. */
function world(agents: number) {
  const clock = new ManualClock();
  const me = generateKeyPair();
  const events: TailnetPeerEvent[] = [];
  const sent: { dst: string; d: Uint8Array }[] = [];
  const block = new Set<string>();
  const fakes = new Map<string, { dev: Device; responder: EchoResponder; key: Uint8Array }>();
  const peer = new TailnetPeer({
    privateKey: me.privateKey,
    address: ME,
    clock,
    send: (dst, d) => {
      const k = Buffer.from(dst).toString('hex');
      sent.push({ dst: k, d });
      if (block.has(k)) return;
      clock.setTimeout(() => fakes.get(k)?.dev.receive(d, me.publicKey), 2);
    },
    onEvent: (e) => events.push(e),
  });
  for (let i = 0; i < agents; i++) {
    const k = generateKeyPair();
    let responder!: EchoResponder;
    const dev = new Device({
      privateKey: k.privateKey,
      clock,
      send: (_p, d) => clock.setTimeout(() => peer.receive(k.publicKey, d), 2),
      deliver: (_p, pkt) => responder.input(pkt),
    });
    const toMe = dev.addPeer({ publicKey: me.publicKey, allowedIps: [parsePrefix6(`${ME}/128`)] });
    responder = new EchoResponder(parseIpv6(AGENT_IP), parseIpv6(ME), (p) => toMe.send(p));
    fakes.set(Buffer.from(k.publicKey).toString('hex'), { dev, responder, key: k.publicKey });
  }
  const run = async (ms: number, until: () => boolean = () => false): Promise<void> => {
    for (let t = 0; t < ms && !until(); t += 5) {
      clock.advance(5);
      await tick();
    }
  };
  return { clock, peer, events, sent, block, fakes: [...fakes.values()], run };
}

describe('TailnetPeer sessions', () => {
  it('demultiplexes by agent session although every agent has the same IP', async () => {
    const w = world(2);
    const [a, b] = w.fakes;
    const sa = w.peer.openSession(a!.key);
    const sb = w.peer.openSession(b!.key);
    const ca = sa.connect(2);
    const cb = sb.connect(4);
    let ta = '';
    let tb = '';
    ca.on('data', (x: Buffer) => (ta += x.toString()));
    cb.on('data', (x: Buffer) => (tb += x.toString()));
    ca.write('to agent A');
    cb.write('to agent B, longer');
    await w.run(5_000, () => ta.length === 10 && tb.length === 18);
    expect(ta).toBe('to agent A');
    expect(tb).toBe('to agent B, longer');
    expect(a!.responder.echoed).toBe(10);
    expect(b!.responder.echoed).toBe(18);
    expect(w.events.filter((e) => e.type === 'handshake')).toHaveLength(2);
    expect(sa.reachable && sb.reachable).toBe(true);
  });

  it('keeps a persistent keepalive only while connections are open', async () => {
    const w = world(1);
    const agent = w.fakes[0]!;
    const s = w.peer.openSession(agent.key);
    const c = s.connect(2);
    c.on('error', () => {});
    let got = '';
    c.on('data', (x: Buffer) => (got += x.toString()));
    c.write('x');
    await w.run(2_000, () => got === 'x');
    const keepalives = (): number => w.sent.filter((m) => m.d[0] === 4 && m.d.length === 32).length;
    const k0 = keepalives();
    // The agent's passive keepalives (10 s, 20 s) re-arm ours: 45 s, 70 s, 95 s.
    await w.run(100_000);
    expect(keepalives() - k0).toBeGreaterThanOrEqual(3);
    c.destroy();
    await w.run(100);
    expect(s.stack.connectionCount).toBe(0);
    const k1 = keepalives();
    await w.run(100_000);
    expect(keepalives()).toBe(k1);
  });

  it('asks for a re-announcement after two unanswered initiations, with quick first-contact retries', async () => {
    const w = world(1);
    const agent = w.fakes[0]!;
    w.block.add(Buffer.from(agent.key).toString('hex'));
    const s = w.peer.openSession(agent.key);
    const c = s.connect(2);
    c.on('error', () => {});
    await w.run(1_000);
    const inits = w.sent.filter((m) => m.d[0] === 1).length;
    expect(inits).toBe(3); // t = 0, 250, 750 ms
    expect(w.events.filter((e) => e.type === 'reannounce')).toEqual([{ type: 'reannounce', agent: agent.key, reason: 'unanswered' }]);
    // Once the agent is reachable the handshake completes and the connection goes through.
    w.block.clear();
    let connected = false;
    c.on('connect', () => (connected = true));
    await w.run(10_000, () => connected);
    expect(connected).toBe(true);
  });

  it('closing a session fails its connections with EHOSTUNREACH and forgets the peer', async () => {
    const w = world(1);
    const agent = w.fakes[0]!;
    const s = w.peer.openSession(agent.key);
    const c = s.connect(2);
    const errs: string[] = [];
    c.on('error', (e) => errs.push((e as NodeJS.ErrnoException).code ?? ''));
    await w.run(1_000, () => !c.connecting);
    s.close();
    await tick();
    expect(errs).toEqual(['EHOSTUNREACH']);
    expect(w.peer.session(agent.key)).toBeUndefined();
    expect(w.peer.device.peer(agent.key)).toBeUndefined();
    await expect(s.dial(2)).rejects.toMatchObject({ code: 'EHOSTUNREACH' });
  });
});
