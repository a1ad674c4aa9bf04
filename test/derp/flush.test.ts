import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { FrameParser, FrameType, KEY_LEN, encodeFrame } from '../../src/derp/frame.js';
import { DerpServer } from '../../src/derp/server.js';
import { seal } from '../../src/derp/box.js';
import { keyPair } from '../../src/derp/key.js';
import { ManualClock } from '../../src/util/clock.js';
import { WsSocketStream } from '../../src/derp/stream.js';
import { MemStream } from './memstream.js';

/** A masked client WebSocket binary frame. */
function clientBinary(payload: Buffer): Buffer {
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const n = payload.length;
  const ext = n < 126 ? 0 : 2;
  const out = Buffer.alloc(2 + ext + 4 + n);
  out[0] = 0x82;
  if (n < 126) out[1] = 0x80 | n;
  else {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  }
  mask.copy(out, 2 + ext);
  for (let i = 0; i < n; i++) out[2 + ext + 4 + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}

function session(srv: DerpServer): { stream: MemStream; publicKey: Buffer } {
  const kp = keyPair();
  const stream = new MemStream();
  srv.accept(stream);
  stream.feed(encodeFrame(FrameType.ClientInfo, kp.publicKey, seal(Buffer.from('{"version":2}'), kp.privateKey, srv.publicKey)));
  return { stream, publicKey: kp.publicKey };
}

function framesOf(buf: Buffer): Array<{ type: number; payload: Buffer }> {
  const out: Array<{ type: number; payload: Buffer }> = [];
  const p = new FrameParser(
    () => 1 << 20,
    (type, payload) => {
      out.push({ type, payload: Buffer.from(payload) });
      return true;
    },
  );
  p.push(buf);
  return out;
}

describe('write batching at the end of a read chunk', () => {
  it('writes the packets one chunk routes before data() returns, one write per receiver', async () => {
    const srv = new DerpServer({ privateKey: keyPair().privateKey, logger: pino({ level: 'silent' }), registry: new Registry(), clock: new ManualClock() });
    const a = session(srv);
    const b = session(srv);
    const c = session(srv);
    expect(srv.connectionCount).toBe(3);
    const bBefore = b.stream.out.length;
    const cBefore = c.stream.out.length;

    const chunk = Buffer.concat([
      encodeFrame(FrameType.SendPacket, b.publicKey, Buffer.from('one')),
      encodeFrame(FrameType.SendPacket, c.publicKey, Buffer.from('two')),
      encodeFrame(FrameType.SendPacket, b.publicKey, Buffer.from('three')),
      encodeFrame(FrameType.SendPacket, b.publicKey, Buffer.from('four')),
    ]);
    a.stream.feed(chunk);

    // No await: the writes happened inside feed (no microtask hop), batched per receiver.
    expect(b.stream.out.length).toBe(bBefore + 1);
    expect(c.stream.out.length).toBe(cBefore + 1);
    const toB = framesOf(b.stream.out[bBefore] as Buffer);
    expect(toB.map((f) => f.type)).toEqual([FrameType.RecvPacket, FrameType.RecvPacket, FrameType.RecvPacket]);
    expect(toB.map((f) => f.payload.subarray(KEY_LEN).toString())).toEqual(['one', 'three', 'four']);
    for (const f of toB) expect(f.payload.subarray(0, KEY_LEN).equals(a.publicKey)).toBe(true);
    const toC = framesOf(c.stream.out[cBefore] as Buffer);
    expect(toC.map((f) => f.payload.subarray(KEY_LEN).toString())).toEqual(['two']);
    await srv.close();
  });

  it('batches the packets of every WebSocket message in one socket read into one write per receiver', async () => {
    const srv = new DerpServer({ privateKey: keyPair().privateKey, logger: pino({ level: 'silent' }), registry: new Registry(), clock: new ManualClock() });
    const b = session(srv);
    const sock = new Duplex({
      read() {},
      write(_chunk, _enc, cb) {
        cb();
      },
    });
    srv.accept(new WsSocketStream(sock, Buffer.alloc(0), Buffer.from('HTTP/1.1 101 Switching Protocols\r\n\r\n'), 1 << 20, '192.0.2.9', 1));
    const kp = keyPair();
    sock.push(clientBinary(encodeFrame(FrameType.ClientInfo, kp.publicKey, seal(Buffer.from('{"version":2}'), kp.privateKey, srv.publicKey))));
    await new Promise((r) => setImmediate(r));
    expect(srv.connectionCount).toBe(2);
    const before = b.stream.out.length;
    // Go's WebSocket client sends one message per DERP frame; one TCP read can hold several.
    sock.push(Buffer.concat(['a', 'b', 'c'].map((x) => clientBinary(encodeFrame(FrameType.SendPacket, b.publicKey, Buffer.from(x))))));
    await new Promise((r) => setImmediate(r));
    expect(b.stream.out.length).toBe(before + 1);
    expect(framesOf(b.stream.out[before] as Buffer).map((f) => f.payload.subarray(KEY_LEN).toString())).toEqual(['a', 'b', 'c']);
    await srv.close();
  });
});
