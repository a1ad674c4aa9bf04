import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DerpClient } from '../../src/derp/client.js';
import { FrameParser, FrameType, encodeFrame, serverKeyFrame } from '../../src/derp/frame.js';
import { open, seal } from '../../src/derp/box.js';
import { keyPair } from '../../src/derp/key.js';
import { parseClientInfo } from '../../src/derp/info.js';
import { V, hex } from './vectors.js';

let srv: Server | null = null;
afterEach(() => {
  srv?.close();
  srv = null;
});

/** A scripted DERP server: handshake, then `script(sock, frames)`. */
async function fakeServer(script: (sock: Socket, frames: { type: number; payload: Buffer }[], clientKey: Buffer) => void) {
  const kp = keyPair();
  srv = createServer((sock) => {
    const frames: { type: number; payload: Buffer }[] = [];
    let clientKey: Buffer | null = null;
    let head: Buffer | null = Buffer.alloc(0);
    const parser = new FrameParser(
      () => 1 << 20,
      (type, payload) => {
        if (!clientKey) {
          clientKey = Buffer.from(payload.subarray(0, 32));
          parseClientInfo(open(payload.subarray(32), kp.privateKey, clientKey));
          sock.write(encodeFrame(FrameType.ServerInfo, seal(Buffer.from('{"version":2}'), kp.privateKey, clientKey)));
          script(sock, frames, clientKey);
        } else frames.push({ type, payload: Buffer.from(payload) });
        return true;
      },
    );
    sock.on('data', (d: Buffer) => {
      if (head) {
        head = Buffer.concat([head, d]);
        const i = head.indexOf('\r\n\r\n');
        if (i < 0) return;
        const rest = head.subarray(i + 4);
        head = null;
        sock.write(Buffer.concat([Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n\r\n'), serverKeyFrame(kp.publicKey)]));
        if (rest.length) parser.push(rest);
        return;
      }
      parser.push(d);
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => srv!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(srv!.address() as AddressInfo).port}/derp`;
}

describe('DerpClient decoding (TestClientRecv)', () => {
  it('decodes Ping (and answers it), Pong, Health, Restarting, short PeerGone/PeerPresent, ignores ServerKey', async () => {
    let serverSaw: { type: number; payload: Buffer }[] = [];
    const url = await fakeServer((sock, frames) => {
      serverSaw = frames;
      sock.write(
        Buffer.concat([
          hex('12000000080102030405060708'),
          hex('13000000080102030405060708'),
          hex(V.health),
          encodeFrame(FrameType.Health),
          hex('15000000080000000100000002'),
          serverKeyFrame(Buffer.alloc(32, 1)),
          encodeFrame(FrameType.PeerGone, hex(V.clientPub)),
          encodeFrame(FrameType.PeerPresent, hex(V.client2Pub)),
          encodeFrame(0x0b, Buffer.alloc(10)),
          hex(V.keepAlive),
        ]),
      );
    });
    const c = await DerpClient.connect(url, keyPair().privateKey);
    const got = [];
    for (let i = 0; i < 9; i++) got.push(await c.recv(2000));
    expect(got).toEqual([
      { type: 'serverInfo', info: { version: 2, tokenBucketBytesPerSecond: 0, tokenBucketBytesBurst: 0 } },
      { type: 'ping', data: hex('0102030405060708') },
      { type: 'pong', data: hex('0102030405060708') },
      { type: 'health', problem: 'BAD' },
      { type: 'health', problem: '' },
      { type: 'restarting', reconnectInMs: 1, tryForMs: 2 },
      { type: 'peerGone', key: hex(V.clientPub), reason: 0 },
      { type: 'peerPresent', key: hex(V.client2Pub), ip: null, port: 0, flags: 0 },
      { type: 'keepAlive' },
    ]);
    // The server's ping was answered with the same 8 bytes.
    for (let i = 0; i < 100 && serverSaw.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(serverSaw).toContainEqual({ type: FrameType.Pong, payload: hex('0102030405060708') });
    c.close();
  });

  it('writes the exact Go client bytes for send, ping data, NotePreferred and WatchConns', async () => {
    let saw: { type: number; payload: Buffer }[] = [];
    const url = await fakeServer((_s, frames) => (saw = frames));
    const c = await DerpClient.connect(url, keyPair().privateKey);
    c.send(hex(V.client2Pub), Buffer.from('hello'));
    c.notePreferred(true);
    c.watchConns();
    await new Promise((r) => setTimeout(r, 100));
    expect(Buffer.concat(saw.map((f) => encodeFrame(f.type, f.payload))).toString('hex')).toBe(V.sendPacket + V.notePreferred + V.watchConns);
    expect(() => c.send(hex(V.client2Pub), Buffer.alloc(65537))).toThrow();
    c.close();
  });
});
