import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { startHarness, type Harness, metric } from './helpers.js';
import { rawPeer, endsWithin } from './raw.js';
import { FrameType, encodeFrame, frameHeader } from '../../src/derp/frame.js';
import { seal } from '../../src/derp/box.js';
import { keyPair } from '../../src/derp/key.js';
import { ManualClock } from '../../src/util/clock.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe('HTTP upgrade', () => {
  it('answers with the exact 101 and ServerKey', async () => {
    h = await startHarness();
    const p = await rawPeer(h.port);
    const sk = await p.nextFrame();
    expect(p.httpHead).toBe(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\nConnection: Upgrade\r\nDerp-Version: 2\r\n' +
        `Derp-Public-Key: ${h.derp.publicKey.toString('hex')}\r\n\r\n`,
    );
    expect(sk.type).toBe(FrameType.ServerKey);
    expect(sk.payload.toString('hex')).toBe('44455250f09f9491' + h.derp.publicKey.toString('hex'));
    p.serverKey = sk.payload.subarray(8);
    await p.handshake();
  });

  it('fast start: no HTTP response, pipelined ClientInfo accepted', async () => {
    h = await startHarness();
    const p = await rawPeer(h.port, { fastStart: { serverKey: h.derp.publicKey, priv: keyPair().privateKey } });
    const sk = await p.nextFrame();
    expect(sk.type).toBe(FrameType.ServerKey);
    expect((await p.nextFrame()).type).toBe(FrameType.ServerInfo);
    expect(p.httpHead).toBe('');
  });

  it('fast start through the TS client', async () => {
    h = await startHarness();
    const a = await h.connect({ serverPublicKey: h.derp.publicKey });
    const b = await h.connect();
    a.send(b.publicKey, Buffer.from('fast'));
    const m = await b.recv(2000);
    expect(m.type === 'serverInfo' || m.type === 'packet').toBe(true);
  });

  it('treats Upgrade: websocket without the derp subprotocol as raw DERP', async () => {
    h = await startHarness();
    const p = await rawPeer(h.port, {
      request: 'GET /derp HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\n\r\n',
    });
    expect((await p.nextFrame()).type).toBe(FrameType.ServerKey);
    expect(p.httpHead).toMatch(/^HTTP\/1\.1 101 /);
  });

  it('answers 426 to other upgrades and to plain GET /derp', async () => {
    h = await startHarness();
    const p = await rawPeer(h.port, { request: 'GET /derp HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n' });
    await endsWithin(p);
    expect(p.httpHead).toMatch(/^HTTP\/1\.1 426 /);
    const res = await get(h.port, '/derp');
    expect(res.status).toBe(426);
    expect(res.body).toBe('DERP requires connection upgrade\n');
  });
});

function get(port: number, path: string, method = 'GET', headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTP endpoints', () => {
  it('probe and latency-check answer GET/HEAD with CORS and refuse other methods', async () => {
    h = await startHarness();
    for (const path of ['/derp/probe', '/derp/latency-check']) {
      for (const m of ['GET', 'HEAD']) {
        const r = await get(h.port, path, m);
        expect(r.status).toBe(200);
        expect(r.headers['access-control-allow-origin']).toBe('*');
      }
      const r = await get(h.port, path, 'POST');
      expect(r.status).toBe(405);
      expect(r.body).toBe('bogus probe method\n');
    }
  });

  it('generate_204 echoes valid challenges only', async () => {
    h = await startHarness();
    const cases: [string | undefined, string | undefined][] = [
      [undefined, undefined],
      ['input', 'response input'],
      ['ts_derp99b.tailscale.com', 'response ts_derp99b.tailscale.com'],
      ['a b', undefined],
      ['x'.repeat(65), undefined],
      ['x'.repeat(64), 'response ' + 'x'.repeat(64)],
    ];
    for (const [ch, want] of cases) {
      const r = await get(h.port, '/generate_204', 'GET', ch === undefined ? {} : { 'X-Tailscale-Challenge': ch });
      expect(r.status).toBe(204);
      expect(r.headers['x-tailscale-response']).toBe(want);
    }
  });
});

describe('handshake rules', () => {
  it('closes on a frame before ClientInfo', async () => {
    h = await startHarness();
    const p = await rawPeer(h.port);
    await p.nextFrame();
    p.write(encodeFrame(FrameType.SendPacket, Buffer.alloc(32, 1), Buffer.from('x')));
    expect(await endsWithin(p)).toBe(true);
  });

  it('closes on a short ClientInfo, a bad box and bad JSON', async () => {
    h = await startHarness();
    const kp = keyPair();
    const bad = [
      encodeFrame(FrameType.ClientInfo, Buffer.alloc(55, 1)),
      encodeFrame(FrameType.ClientInfo, kp.publicKey, Buffer.alloc(60, 7)),
      encodeFrame(FrameType.ClientInfo, kp.publicKey, seal(Buffer.from('{nope'), kp.privateKey, h.derp.publicKey)),
      encodeFrame(FrameType.ClientInfo, Buffer.alloc(32), seal(Buffer.from('{}'), kp.privateKey, h.derp.publicKey)),
      frameHeader(FrameType.ClientInfo, 262145),
    ];
    for (const f of bad) {
      const p = await rawPeer(h.port);
      await p.nextFrame();
      p.write(f);
      expect(await endsWithin(p)).toBe(true);
    }
    expect(await metric(h.registry, 'coder_derp_conn_closes_total', { reason: 'handshake_failed' })).toBe(4);
    expect(await metric(h.registry, 'coder_derp_conn_closes_total', { reason: 'frame_too_large' })).toBe(1);
  });

  it('closes a silent client at the handshake deadline (ManualClock)', async () => {
    const clock = new ManualClock();
    h = await startHarness({ clock });
    const p = await rawPeer(h.port);
    await p.nextFrame();
    p.write(Buffer.from([FrameType.ClientInfo, 0, 0])); // a slowloris trickle
    clock.advance(9_999);
    expect(await endsWithin(p, 100)).toBe(false);
    clock.advance(1);
    expect(await endsWithin(p)).toBe(true);
    expect(await metric(h.registry, 'coder_derp_conn_closes_total', { reason: 'handshake_timeout' })).toBe(1);
  });

  it('refuses keys the admission hook rejects (sync and async), admits mesh peers', async () => {
    const allowed = keyPair();
    h = await startHarness({
      meshKey: 'm'.repeat(32),
      admit: (k) => (k[0]! % 2 === 0 ? k.equals(allowed.publicKey) : Promise.resolve(k.equals(allowed.publicKey))),
    });
    await expect(h.connect()).rejects.toThrow();
    await expect(h.connect()).rejects.toThrow();
    const ok = await h.connect({ priv: allowed.privateKey });
    const mesh = await h.connect({ meshKey: 'm'.repeat(32) });
    mesh.send(ok.publicKey, Buffer.from('via mesh peer'));
    const m = await ok.recv(2000);
    expect(m.type === 'serverInfo' || m.type === 'packet').toBe(true);
    expect(await metric(h.registry, 'coder_derp_conn_closes_total', { reason: 'not_admitted' })).toBe(2);
  });
});

describe('steady-state frame rules', () => {
  const violations: [string, Buffer][] = [
    ['4 GiB SendPacket', frameHeader(FrameType.SendPacket, 0xffffffff)],
    ['SendPacket over 64 KiB', frameHeader(FrameType.SendPacket, 32 + 65537)],
    ['short SendPacket', encodeFrame(FrameType.SendPacket, Buffer.alloc(31))],
    ['7-byte ping', encodeFrame(FrameType.Ping, Buffer.alloc(7))],
    ['1001-byte ping', encodeFrame(FrameType.Ping, Buffer.alloc(1001))],
    ['2-byte NotePreferred', encodeFrame(FrameType.NotePreferred, Buffer.alloc(2))],
    ['WatchConns without mesh key', frameHeader(FrameType.WatchConns, 0)],
    ['ClosePeer without mesh key', encodeFrame(FrameType.ClosePeer, Buffer.alloc(32, 3))],
    ['ForwardPacket without mesh key', encodeFrame(FrameType.ForwardPacket, Buffer.alloc(70, 3))],
  ];
  it.each(violations)('closes on %s', async (_n, frame) => {
    h = await startHarness();
    const p = await rawPeer(h.port);
    await p.handshake();
    p.write(frame);
    expect(await endsWithin(p)).toBe(true);
  });

  it('skips unknown frame types and answers pings with the same 8 bytes', async () => {
    h = await startHarness();
    const p = await rawPeer(h.port);
    await p.handshake();
    p.write(encodeFrame(0x0b, Buffer.alloc(5000, 1)));
    p.write(encodeFrame(FrameType.Ping, Buffer.from('0102030405060708090a', 'hex')));
    const f = await p.nextFrame(1000);
    expect(f.type).toBe(FrameType.Pong);
    expect(f.payload.toString('hex')).toBe('0102030405060708');
  });

  it('client ping resolves on the matching pong', async () => {
    h = await startHarness();
    const c = await h.connect();
    await c.ping(1000);
    const w = await h.connect({ websocket: true });
    await w.ping(1000);
    expect(await metric(h.registry, 'coder_derp_sent_pong_total')).toBe(2);
  });

  it('sends keep-alives one period (60 s + jitter) after the handshake', async () => {
    const clock = new ManualClock();
    h = await startHarness({ clock, random: () => 0.5 });
    const p = await rawPeer(h.port);
    await p.handshake();
    clock.advance(62_499);
    await expect(p.nextFrame(100)).rejects.toThrow('timeout');
    clock.advance(1);
    expect((await p.nextFrame()).type).toBe(FrameType.KeepAlive);
  });

  it('tracks home connections through NotePreferred (idempotent)', async () => {
    h = await startHarness();
    const c = await h.connect();
    c.notePreferred(true);
    c.notePreferred(true);
    await c.ping();
    expect(await metric(h.registry, 'coder_derp_home_connections')).toBe(1);
    c.notePreferred(false);
    await c.ping();
    expect(await metric(h.registry, 'coder_derp_home_connections')).toBe(0);
    expect(await metric(h.registry, 'coder_derp_connections')).toBe(1);
  });
});

describe('client checks', () => {
  it('rejects a server with the wrong magic', async () => {
    const { createServer } = await import('node:net');
    const srv = createServer((s) => {
      s.once('data', () => {
        s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n\r\n');
        s.write(encodeFrame(FrameType.ServerKey, Buffer.from('DERPKEY!'), Buffer.alloc(32, 5)));
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    const { DerpClient } = await import('../../src/derp/client.js');
    await expect(DerpClient.connect(`http://127.0.0.1:${port}/derp`, keyPair().privateKey)).rejects.toMatchObject({ code: 'bad_magic' });
    srv.close();
    h = undefined as unknown as Harness;
  });
});
