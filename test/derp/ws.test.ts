import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { connect } from 'node:net';
import { WebSocket } from 'ws';
import { WsReader, WS_OP_BINARY, WS_OP_CONT, WS_OP_PING, WS_OP_TEXT, wsAcceptKey, writeWsHeaderBefore } from '../../src/derp/ws.js';
import { startHarness, waitFor, type Harness } from './helpers.js';
import { chunked, frameStream, fuzzFrames } from './fuzzgen.js';
import { FrameParser } from '../../src/derp/frame.js';

/** A masked client frame. */
function clientFrame(opcode: number, payload: Uint8Array, fin = true, mask = Buffer.from([0x12, 0x34, 0x56, 0x78])): Buffer {
  const n = payload.length;
  const ext = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const out = Buffer.alloc(2 + ext + 4 + n);
  out[0] = (fin ? 0x80 : 0) | opcode;
  if (n < 126) out[1] = 0x80 | n;
  else if (n < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeUInt32BE(0, 2);
    out.writeUInt32BE(n, 6);
  }
  mask.copy(out, 2 + ext);
  for (let i = 0; i < n; i++) out[2 + ext + 4 + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}

function reader(max = 1 << 20) {
  const data: Buffer[] = [];
  const ctrl: string[] = [];
  const errors: number[] = [];
  const r = new WsReader(
    {
      data: (b, s, e) => data.push(Buffer.from(b.subarray(s, e))),
      control: (op, p) => ctrl.push(`${op}:${p.toString('hex')}`),
      error: (code) => errors.push(code),
    },
    max,
  );
  return { r, data: () => Buffer.concat(data), ctrl, errors };
}

describe('WsReader', () => {
  it('streams the unmasked payload of any message split, chunking and mask, with control frames in between', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 3 })), { maxLength: 8 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 90 }), { minLength: 1, maxLength: 20 }),
        (msgs, maskBytes, cuts) => {
          const mask = Buffer.from(maskBytes);
          const parts: Buffer[] = [];
          const want: Buffer[] = [];
          const pings: string[] = [];
          for (const [i, [m, nFrag]] of msgs.entries()) {
            want.push(Buffer.from(m));
            const step = Math.ceil(m.length / nFrag) || 1;
            let first = true;
            for (let o = 0; o < m.length || first; o += step) {
              const end = Math.min(m.length, o + step);
              parts.push(clientFrame(first ? WS_OP_BINARY : WS_OP_CONT, m.subarray(o, end), end >= m.length, mask));
              if (first && i % 2 === 0) {
                const p = Buffer.from([i, 1, 2]);
                parts.push(clientFrame(WS_OP_PING, p, true, mask)); // control frames may interleave fragments
                pings.push(`${WS_OP_PING}:${p.toString('hex')}`);
              }
              first = false;
            }
          }
          const t = reader();
          for (const c of chunked(Buffer.concat(parts), cuts)) t.r.push(c);
          expect(t.errors).toEqual([]);
          expect(t.data().equals(Buffer.concat(want))).toBe(true);
          expect(t.ctrl).toEqual(pings);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('rejects text (1003), unmasked or stray continuation frames (1002) and oversized messages (1009)', () => {
    const text = reader();
    text.r.push(clientFrame(WS_OP_TEXT, Buffer.from('hi')));
    expect(text.errors).toEqual([1003]);
    const unmasked = reader();
    unmasked.r.push(Buffer.from([0x82, 0x01, 0x00]));
    expect(unmasked.errors).toEqual([1002]);
    const cont = reader();
    cont.r.push(clientFrame(WS_OP_CONT, Buffer.from('x')));
    expect(cont.errors).toEqual([1002]);
    const big = reader(100);
    big.r.push(clientFrame(WS_OP_BINARY, Buffer.alloc(60), false));
    big.r.push(clientFrame(WS_OP_CONT, Buffer.alloc(60)));
    expect(big.errors).toEqual([1009]);
    expect(big.data().length).toBe(60);
  });

  it('writes server headers right before the payload', () => {
    const b = Buffer.alloc(4 + 300);
    expect(writeWsHeaderBefore(b, 4, WS_OP_BINARY, 300)).toBe(0);
    expect([...b.subarray(0, 4)]).toEqual([0x82, 126, 1, 44]);
    expect(writeWsHeaderBefore(b, 4, WS_OP_BINARY, 5)).toBe(2);
    expect([...b.subarray(2, 4)]).toEqual([0x82, 5]);
  });

  it('computes the RFC 6455 accept key', () => {
    expect(wsAcceptKey('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    expect(wsAcceptKey('short')).toBeNull();
  });
});

describe('FrameParser fed by offset', () => {
  it('parses chunk[start..end) windows exactly like the sliced bytes', () => {
    fc.assert(
      fc.property(fuzzFrames, fc.array(fc.integer({ min: 1, max: 70 }), { minLength: 1, maxLength: 20 }), fc.nat(5), (frames, cuts, pad) => {
        const got: string[] = [];
        const p = new FrameParser(
          () => 1 << 20,
          (t, b) => {
            got.push(t + ':' + b.toString('hex'));
            return true;
          },
        );
        for (const c of chunked(frameStream(frames), cuts)) {
          const framed = Buffer.concat([Buffer.alloc(pad, 0xee), c, Buffer.alloc(pad, 0xee)]);
          p.push(framed, pad, pad + c.length);
        }
        expect(got).toEqual(frames.map((f) => f.type + ':' + Buffer.from(f.payload).toString('hex')));
      }),
      { numRuns: 200 },
    );
  });
});

describe('WebSocket handshake and control frames', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('answers pings, echoes a close, and closes 1008 without the derp subprotocol', async () => {
    h = await startHarness();
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}/derp`, 'derp');
    await new Promise((r) => ws.once('open', r));
    expect(ws.protocol).toBe('derp');
    let pong = '';
    ws.on('pong', (d: Buffer) => (pong = d.toString()));
    ws.ping('abc');
    await waitFor(() => pong === 'abc');
    const closed = new Promise<number>((r) => ws.once('close', (code: number) => r(code)));
    ws.close(1000);
    expect(await closed).toBe(1000);

    // A protocol list that merely contains "derp": 101 without a subprotocol, then Close 1008.
    const sock = connect(h.port, '127.0.0.1');
    let got = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    sock.write(
      'GET /derp HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: derpish\r\n\r\n',
    );
    await waitFor(() => got.includes(Buffer.from([0x88])));
    const text = got.toString('latin1');
    expect(text.startsWith('HTTP/1.1 101')).toBe(true);
    expect(text).not.toMatch(/Sec-WebSocket-Protocol/i);
    const close = got.subarray(got.indexOf('\r\n\r\n') + 4);
    expect(close[0]).toBe(0x88);
    expect(close.readUInt16BE(2)).toBe(1008);
    sock.destroy();
  });
});
