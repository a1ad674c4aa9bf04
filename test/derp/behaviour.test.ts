import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startHarness, next, quiet, waitFor, metric, type Harness } from './helpers.js';
import { rawPeer, endsWithin } from './raw.js';
import { FrameParser, FrameType, PeerGoneReason, PeerPresentFlags, encodeFrame, ipTo16 } from '../../src/derp/frame.js';
import { seal } from '../../src/derp/box.js';
import { keyPair } from '../../src/derp/key.js';
import { ManualClock } from '../../src/util/clock.js';
import type { DerpClient } from '../../src/derp/client.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const MESH = 'abcdefghijklmnopqrstuvwxyz012345'; // Coder-style 32-char key

async function packetTo(c: DerpClient): Promise<string> {
  const m = await next(c);
  if (m.type !== 'packet') throw new Error(`expected packet, got ${m.type}`);
  return m.data.toString();
}

describe('duplicate keys', () => {
  it('keeps both connections, last writer receives, active falls back when it leaves', async () => {
    h = await startHarness();
    const priv = keyPair().privateKey;
    const a1 = await h.connect({ priv });
    const a2 = await h.connect({ priv });
    const b = await h.connect();
    expect(await metric(h.registry, 'coder_derp_dup_client_keys')).toBe(1);
    expect(await metric(h.registry, 'coder_derp_dup_client_conns')).toBe(2);
    expect(await metric(h.registry, 'coder_derp_dup_client_conns_total')).toBe(1);
    b.send(a1.publicKey, Buffer.from('1'));
    expect(await packetTo(a2)).toBe('1');
    await a1.ping(); // any frame makes a1 the active one
    b.send(a1.publicKey, Buffer.from('2'));
    expect(await packetTo(a1)).toBe('2');
    expect(await quiet(a2, 100)).toBe(true);
    a1.close();
    await waitFor(() => h.derp.connectionCount === 2);
    b.send(a1.publicKey, Buffer.from('3'));
    expect(await packetTo(a2)).toBe('3');
    expect(await metric(h.registry, 'coder_derp_dup_client_keys')).toBe(0);
    expect(await metric(h.registry, 'coder_derp_clients_local')).toBe(2);
  });

  it('optionally tells duplicates through a Health frame, cleared when single again', async () => {
    h = await startHarness({ healthOnDuplicate: true });
    const priv = keyPair().privateKey;
    const a1 = await h.connect({ priv });
    const a2 = await h.connect({ priv });
    const m1 = await next(a1);
    const m2 = await next(a2);
    expect(m1.type === 'health' && m1.problem.length > 0).toBe(true);
    expect(m2.type).toBe('health');
    a2.close();
    expect(await next(a1)).toEqual({ type: 'health', problem: '' });
  });
});

describe('slow receivers', () => {
  it('a receiver that stops reading never stalls the sender or other receivers', async () => {
    h = await startHarness({ limits: { writeTimeoutMs: 400, queueDepth: 32 } });
    const alice = await h.connect();
    const bob = await h.connect();
    const cathy = await rawPeer(h.port);
    const cathyKey = await cathy.handshake();
    cathy.sock.pause();
    let bobGot = 0;
    bob.onPacket = () => void bobGot++;
    const pkt = Buffer.alloc(60_000, 1);
    const start = Date.now();
    let sent = 0;
    while (Date.now() - start < 1200) {
      for (let i = 0; i < 8; i++) {
        alice.send(cathyKey, pkt);
        alice.send(bob.publicKey, pkt);
        sent++;
      }
      await waitFor(() => bobGot === sent, 10_000);
    }
    expect(bobGot).toBe(sent);
    const deadline = Date.now() + 10_000;
    while ((await metric(h.registry, 'coder_derp_write_timeouts_total')) === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await metric(h.registry, 'coder_derp_write_timeouts_total')).toBe(1);
    cathy.sock.resume(); // only a reading socket notices the close
    expect(await endsWithin(cathy, 10_000)).toBe(true);
    expect(await metric(h.registry, 'coder_derp_conn_closes_total', { reason: 'write_timeout' })).toBe(1);
    expect(await metric(h.registry, 'coder_derp_packets_dropped_reason_total', { reason: 'queue_head' })).toBeGreaterThan(0);
  });
});

describe('mesh', () => {
  it('watchers get a snapshot including themselves, then deltas (dups: present per conn, gone at last)', async () => {
    h = await startHarness({ meshKey: MESH });
    const w1 = await h.connect({ meshKey: MESH });
    w1.watchConns();
    const self = await next(w1);
    expect(self).toMatchObject({ type: 'peerPresent', key: w1.publicKey, flags: PeerPresentFlags.IsMeshPeer });
    const c1 = await h.connect();
    const p = await next(w1);
    expect(p).toMatchObject({ type: 'peerPresent', key: c1.publicKey, flags: PeerPresentFlags.IsRegular });
    if (p.type !== 'peerPresent') throw new Error();
    expect(p.ip?.equals(ipTo16('127.0.0.1')!)).toBe(true);
    expect(p.port).toBeGreaterThan(0);

    const w2 = await h.connect({ meshKey: MESH });
    w2.watchConns();
    const seen = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const m = await next(w2);
      if (m.type === 'peerPresent') seen.add(m.key.toString('hex'));
    }
    expect(seen).toEqual(new Set([w1, w2, c1].map((c) => c.publicKey.toString('hex'))));
    expect((await next(w1)).type).toBe('peerPresent'); // w2 arrived

    const dupPriv = keyPair().privateKey;
    const d1 = await h.connect({ priv: dupPriv });
    const d2 = await h.connect({ priv: dupPriv });
    for (const w of [w1, w2]) {
      expect(await next(w)).toMatchObject({ type: 'peerPresent', key: d1.publicKey });
      expect(await next(w)).toMatchObject({ type: 'peerPresent', key: d1.publicKey });
    }
    d1.close();
    expect(await quiet(w1, 150)).toBe(true);
    d2.close();
    c1.close();
    for (const w of [w1, w2]) {
      const got = [await next(w), await next(w)];
      expect(got).toContainEqual({ type: 'peerGone', key: d1.publicKey, reason: PeerGoneReason.Disconnected });
      expect(got).toContainEqual({ type: 'peerGone', key: c1.publicKey, reason: PeerGoneReason.Disconnected });
    }
    expect(await metric(h.registry, 'coder_derp_watchers')).toBe(2);
  });

  it('rejects mesh frames from a client with the wrong key', async () => {
    h = await startHarness({ meshKey: MESH });
    const c = await h.connect({ meshKey: 'wrong' });
    c.watchConns();
    await c.closed;
    expect(await metric(h.registry, 'coder_derp_conn_closes_total', { reason: 'insufficient_permissions' })).toBe(1);
  });

  it('ForwardPacket delivers with the carried source; ClosePeer closes the target', async () => {
    h = await startHarness({ meshKey: MESH });
    const mesh = await h.connect({ meshKey: MESH });
    const c = await h.connect();
    const remote = keyPair().publicKey;
    mesh.forwardPacket(remote, c.publicKey, Buffer.from('fwd'));
    const m = await next(c);
    expect(m).toMatchObject({ type: 'packet', src: remote });
    // Forwarded packets to unknown keys are dropped, never re-forwarded.
    mesh.forwardPacket(remote, keyPair().publicKey, Buffer.from('nowhere'));
    await mesh.ping();
    expect(await metric(h.registry, 'coder_derp_packets_dropped_reason_total', { reason: 'unknown_dest_on_fwd' })).toBe(1);
    expect(await metric(h.registry, 'coder_derp_packets_forwarded_in_total')).toBe(2);
    mesh.closePeer(c.publicKey);
    await c.closed;
    expect(await metric(h.registry, 'coder_derp_conn_closes_total', { reason: 'close_peer' })).toBe(1);
  });

  it('routes to registered forwarders for non-local keys and reports their departure', async () => {
    h = await startHarness({ meshKey: MESH });
    const c = await h.connect();
    const remote = keyPair().publicKey;
    const calls: string[] = [];
    const fwd = { forwardPacket: (s: Buffer, d: Buffer, p: Buffer) => void calls.push(`${s.equals(c.publicKey)}:${d.equals(remote)}:${p}`) };
    h.derp.addPacketForwarder(remote, fwd);
    expect(await metric(h.registry, 'coder_derp_clients_remote')).toBe(1);
    c.send(remote, Buffer.from('out'));
    await c.ping();
    expect(calls).toEqual(['true:true:out']);
    expect(await metric(h.registry, 'coder_derp_packets_forwarded_out_total')).toBe(1);
    // Something arrives from the remote key through a mesh connection.
    const mesh = await h.connect({ meshKey: MESH });
    mesh.forwardPacket(remote, c.publicKey, Buffer.from('in'));
    expect(await packetTo(c)).toBe('in');
    mesh.close();
    h.derp.removePacketForwarder(remote, fwd);
    expect(await next(c)).toEqual({ type: 'peerGone', key: remote, reason: PeerGoneReason.Disconnected });
    expect(await metric(h.registry, 'coder_derp_clients_remote')).toBe(0);
  });
});

describe('limits', () => {
  it('pauses reading from a client over its byte rate (ManualClock)', async () => {
    const clock = new ManualClock();
    h = await startHarness({ clock, limits: { perClientBytesPerSec: 65568, perClientBurstBytes: 65568 } });
    const a = await h.connect();
    const b = await h.connect();
    const big = Buffer.alloc(65536, 2);
    for (let i = 0; i < 3; i++) a.send(b.publicKey, big);
    expect((await next(b)).type).toBe('packet');
    expect((await next(b)).type).toBe('packet');
    expect(await quiet(b, 200)).toBe(true);
    clock.advance(1001);
    expect((await next(b)).type).toBe('packet');
    expect(await metric(h.registry, 'coder_derp_rate_limit_waits_total')).toBeGreaterThanOrEqual(1);
  });

  it('closes connections over the accept rate', async () => {
    const clock = new ManualClock();
    h = await startHarness({ clock, limits: { acceptPerSec: 1, acceptBurst: 2 } });
    await h.connect();
    await h.connect();
    await expect(h.connect()).rejects.toThrow();
    clock.advance(1000);
    await h.connect();
    expect(await metric(h.registry, 'coder_derp_conn_closes_total', { reason: 'accept_rate_limited' })).toBe(1);
  });
});

describe('shutdown', () => {
  it('sends Restarting to every client before closing', async () => {
    h = await startHarness();
    const a = await h.connect();
    const b = await h.connect({ websocket: true });
    await h.derp.close({ restarting: { reconnectInMs: 1000, tryForMs: 5000 } });
    for (const c of [a, b]) {
      expect(await next(c)).toEqual({ type: 'restarting', reconnectInMs: 1000, tryForMs: 5000 });
      await c.closed;
    }
  });
});

describe('WebSocket transport', () => {
  async function wsPeer(port: number) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/derp`, 'derp');
    const sizes: number[] = [];
    const frames: { type: number; payload: Buffer }[] = [];
    const parser = new FrameParser(
      () => 1 << 20,
      (type, payload) => {
        frames.push({ type, payload: Buffer.from(payload) });
        return true;
      },
    );
    ws.on('message', (d: Buffer) => {
      sizes.push(d.length);
      parser.push(d);
    });
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    await new Promise((r) => ws.on('open', r));
    return { ws, sizes, frames, closed };
  }

  it('splits server writes into binary messages of at most 16 KiB and reassembles split input', async () => {
    h = await startHarness();
    const p = await wsPeer(h.port);
    await waitFor(() => p.frames.length === 1);
    expect(p.ws.protocol).toBe('derp');
    const serverKey = p.frames[0]!.payload.subarray(8);
    const kp = keyPair();
    const ci = encodeFrame(FrameType.ClientInfo, kp.publicKey, seal(Buffer.from('{"version":2}'), kp.privateKey, serverKey));
    for (const b of ci) p.ws.send(Buffer.of(b)); // one byte per message
    await waitFor(() => p.frames.length === 2);
    expect(p.frames[1]!.type).toBe(FrameType.ServerInfo);
    const sender = await h.connect();
    sender.send(kp.publicKey, Buffer.alloc(65536, 3));
    await waitFor(() => p.frames.length === 3);
    expect(p.frames[2]!.payload.length).toBe(32 + 65536);
    expect(Math.max(...p.sizes)).toBeLessThanOrEqual(16384);
    p.ws.close();
  });

  it('closes with 1003 on a text message', async () => {
    h = await startHarness();
    const p = await wsPeer(h.port);
    p.ws.send('hello');
    expect(await p.closed).toBe(1003);
  });
});
