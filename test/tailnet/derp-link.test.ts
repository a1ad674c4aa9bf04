/**
 * TS ↔ TS over tailnetd's real DERP server (HTTP on 127.0.0.1:0, both the
 * Upgrade: DERP and the WebSocket transports): WireGuard datagrams as DERP
 * packets, our TCP client to the test echo responder.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { DerpServer, createDerpHttpHandlers } from '../../src/derp/index.js';
import { DerpLink, TcpStack, deviceOverDerp, parseIpv6, tailnetPeerOverDerp } from '../../src/tailnet/index.js';
import { generateKeyPair, parsePrefix6 } from '../../src/wireguard/index.js';
import { EchoResponder } from './responder.js';

const CLIENT = 'fd7a:115c:a1e0:4a2b:1c3d:4e5f:6a7b:8c9d';
const AGENT = 'fd7a:115c:a1e0:49d6:b259:b7ac:b1b2:48f4';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function relay(): Promise<string> {
  const derp = new DerpServer({ privateKey: Buffer.from(generateKeyPair().privateKey), logger: pino({ level: 'silent' }), registry: new Registry() });
  const h = createDerpHttpHandlers(derp);
  const http: Server = createServer((req, res) => {
    if (!h.handleRequest(req, res)) {
      res.writeHead(404);
      res.end();
    }
  });
  http.on('upgrade', (req, sock, head) => {
    if (!h.handleUpgrade(req, sock, head)) sock.destroy();
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  cleanups.push(async () => {
    await derp.close({ graceMs: 100 });
    http.closeAllConnections();
    await new Promise<void>((r) => http.close(() => r()));
  });
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}/derp`;
}

async function pair(websocket: boolean) {
  const url = await relay();
  const kc = generateKeyPair();
  const ka = generateKeyPair();
  const lc = await DerpLink.connect(url, kc.privateKey, { websocket });
  const la = await DerpLink.connect(url, ka.privateKey, { websocket });
  cleanups.push(() => {
    lc.close();
    la.close();
  });
  let stack!: TcpStack;
  let responder!: EchoResponder;
  const drops: string[] = [];
  const client = deviceOverDerp(lc, {
    privateKey: kc.privateKey,
    deliver: (_p, pkt) => stack.input(pkt),
    onEvent: (_p, e) => {
      if (e.type === 'drop') drops.push(e.reason);
    },
  });
  const agent = deviceOverDerp(la, { privateKey: ka.privateKey, deliver: (_p, pkt) => responder.input(pkt) });
  cleanups.push(() => {
    client.close();
    agent.close();
  });
  const toAgent = client.addPeer({ publicKey: ka.publicKey, allowedIps: [parsePrefix6(`${AGENT}/128`)] });
  const toClient = agent.addPeer({ publicKey: kc.publicKey, allowedIps: [parsePrefix6(`${CLIENT}/128`)] });
  stack = new TcpStack({ localAddress: CLIENT, remoteAddress: AGENT, output: (p) => toAgent.send(p) });
  responder = new EchoResponder(parseIpv6(AGENT), parseIpv6(CLIENT), (p) => toClient.send(p));
  return { url, lc, la, stack, client, agent, kc, ka, drops };
}

async function echo(stack: TcpStack, size: number): Promise<Buffer> {
  const s = await stack.dial(2, { timeoutMs: 10_000 });
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (i * 17 + 3) & 0xff;
  const got: Buffer[] = [];
  let total = 0;
  await new Promise<void>((resolve, reject) => {
    s.on('data', (b: Buffer) => {
      got.push(b);
      total += b.length;
      if (total >= size) resolve();
    });
    s.on('error', reject);
    s.write(data);
  });
  s.destroy();
  expect(Buffer.concat(got).equals(data)).toBe(true);
  return Buffer.concat(got);
}

describe('WireGuard over tailnetd DERP', () => {
  it.each([false, true])('echoes 256 KiB through the relay (websocket=%s)', async (ws) => {
    const p = await pair(ws);
    await echo(p.stack, 256 * 1024);
    expect(p.lc.stats.received).toBeGreaterThan(0);
    expect(p.la.stats.received).toBeGreaterThan(0);
  });

  it('drops disco frames and datagrams from keys that are not the authenticated peer', async () => {
    const p = await pair(false);
    await echo(p.stack, 10);
    const disco = new Uint8Array(80);
    disco.set([0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac]);
    p.la.send(p.kc.publicKey, disco);
    // A third node sends a transport datagram naming one of our live indices: wrong DERP source ⇒ dropped.
    const intruder = await DerpLink.connect(p.url, generateKeyPair().privateKey);
    cleanups.push(() => intruder.close());
    const forged = new Uint8Array(48);
    const view = new DataView(forged.buffer);
    view.setUint32(0, 4, true);
    view.setUint32(4, p.client.peer(p.ka.publicKey)!.current!.localIndex, true);
    intruder.send(p.kc.publicKey, forged);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !p.drops.includes('unknown_peer')) await new Promise((r) => setTimeout(r, 10));
    expect(p.drops).toContain('unknown_peer');
    expect(p.lc.stats.disco).toBe(1);
  });

  it('refuses a Device whose key differs from the DERP login key', async () => {
    const url = await relay();
    const k = generateKeyPair();
    const link = await DerpLink.connect(url, k.privateKey);
    cleanups.push(() => link.close());
    expect(() => deviceOverDerp(link, { privateKey: generateKeyPair().privateKey, deliver: () => {} })).toThrow(/differ/);
  });

  it('TailnetPeer over DERP: dial through a session; PeerGone fails pending dials but keeps live connections', async () => {
    const url = await relay();
    const me = generateKeyPair();
    const ag = generateKeyPair();
    const lm = await DerpLink.connect(url, me.privateKey);
    const la = await DerpLink.connect(url, ag.privateKey);
    cleanups.push(() => {
      lm.close();
      la.close();
    });
    let answering = true;
    let responder!: EchoResponder;
    const agent = deviceOverDerp(la, { privateKey: ag.privateKey, deliver: (_p, pkt) => answering && responder.input(pkt) });
    const toMe = agent.addPeer({ publicKey: me.publicKey, allowedIps: [parsePrefix6(`${CLIENT}/128`)] });
    responder = new EchoResponder(parseIpv6(AGENT), parseIpv6(CLIENT), (p) => toMe.send(p));
    const peer = tailnetPeerOverDerp(lm, { privateKey: me.privateKey, address: CLIENT });
    cleanups.push(() => {
      peer.close();
      agent.close();
    });
    const session = peer.openSession(ag.publicKey, AGENT);
    const live = await session.dial(2, { timeoutMs: 10_000 });
    live.on('error', () => {});
    let got = '';
    live.on('data', (b: Buffer) => (got += b.toString()));
    live.write('ping');
    while (got !== 'ping') await new Promise((r) => setTimeout(r, 5));
    answering = false;
    const pending = session.dial(4, { timeoutMs: 10_000 });
    la.close();
    await expect(pending).rejects.toMatchObject({ code: 'EHOSTUNREACH' });
    expect(live.destroyed).toBe(false);
    expect(session.stack.connectionCount).toBe(1);
  });

  it('tailnetPeerOverDerp refuses a key that differs from the DERP login', async () => {
    const url = await relay();
    const link = await DerpLink.connect(url, generateKeyPair().privateKey);
    cleanups.push(() => link.close());
    expect(() => tailnetPeerOverDerp(link, { privateKey: generateKeyPair().privateKey, address: CLIENT })).toThrow(/differ/);
  });
});
