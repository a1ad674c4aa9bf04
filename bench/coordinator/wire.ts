/**
 * Bench wire helpers: ~400 B nodes whose `id` carries the send time (epoch µs
 * × 1000 + seq, still a valid 63-bit id), and a lean raw WebSocket client used
 * as the receiver for every system under test, so receiver cost is identical.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Socket } from 'node:net';

const origin = performance.timeOrigin;
export const nowMicros = (): number => Math.floor((origin + performance.now()) * 1000);

let seq = 0;
const key = randomBytes(32).toString('hex');
const disco = randomBytes(32).toString('hex');

/** A ~420 B valid node stamped with the current time. */
export function stampedNode(): string {
  const id = `${nowMicros()}${String(seq++ % 1000).padStart(3, '0')}`;
  return (
    `{"id":${id},"as_of":"2026-11-28T18:00:00.123456789Z","key":"nodekey:${key}","disco":"discokey:${disco}",` +
    `"preferred_derp":1,"derp_latency":{"1-v4":0.0123,"1-v6":0.0131,"2-v4":0.0411,"2-v6":0.0432},"derp_forced_websockets":null,` +
    `"addresses":["fd7a:115c:a1e0:49d6:b259:b7ac:b1b2:48f4/128"],"allowed_ips":["fd7a:115c:a1e0:49d6:b259:b7ac:b1b2:48f4/128"],` +
    `"endpoints":["192.0.2.10:41641","[2001:db8::10]:41641"]}`
  );
}

/** Send time (µs) embedded in a received payload, or -1. Works for raw and JSON-escaped text. */
export function sentMicros(buf: Buffer): number {
  let i = buf.indexOf('id"');
  if (i < 0) i = buf.indexOf('id\\"');
  if (i < 0) return -1;
  while (i < buf.length && (buf[i] as number) !== 0x3a) i++; // ':'
  const start = i + 1;
  // 16 leading digits = epoch µs
  const s = buf.toString('latin1', start, start + 16);
  const n = Number(s);
  return Number.isFinite(n) ? n : -1;
}

export interface RawWs {
  socket: Socket;
  /** Called per data frame (text or binary) with the payload. */
  onFrame: (payload: Buffer, opcode: number) => void;
  sendText(text: string): void;
}

const EMPTY = Buffer.alloc(0);

/** A masked client frame with a zero mask key (payload unchanged). */
export function clientFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const hdr = len < 126 ? 6 : 8;
  const b = Buffer.allocUnsafe(hdr + len);
  b[0] = 0x80 | opcode;
  if (len < 126) b[1] = 0x80 | len;
  else {
    b[1] = 0x80 | 126;
    b.writeUInt16BE(len, 2);
  }
  b.writeUInt32BE(0, hdr - 4);
  payload.copy(b, hdr);
  return b;
}

/** Opens a raw WebSocket to `url` (ws://host:port/path) from `localAddress`. */
export function rawConnect(url: string, localAddress: string, onFrame: (payload: Buffer, opcode: number) => void): Promise<RawWs> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({
      host: u.hostname,
      port: u.port,
      path: u.pathname + u.search,
      localAddress,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
      },
    });
    req.on('error', reject);
    req.on('response', (res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    req.on('upgrade', (_res, socket: Socket, head: Buffer) => {
      socket.setNoDelay(true);
      const ws: RawWs = {
        socket,
        onFrame,
        sendText: (t) => socket.write(clientFrame(1, Buffer.from(t))),
      };
      let buf = head.length > 0 ? head : EMPTY;
      const parse = (): void => {
        let off = 0;
        for (;;) {
          if (buf.length - off < 2) break;
          const b0 = buf[off] as number;
          let len = (buf[off + 1] as number) & 0x7f;
          let hdr = 2;
          if (len === 126) {
            if (buf.length - off < 4) break;
            len = buf.readUInt16BE(off + 2);
            hdr = 4;
          } else if (len === 127) {
            if (buf.length - off < 10) break;
            len = Number(buf.readBigUInt64BE(off + 2));
            hdr = 10;
          }
          if (buf.length - off < hdr + len) break;
          const payload = buf.subarray(off + hdr, off + hdr + len);
          const op = b0 & 0x0f;
          if (op === 9) socket.write(clientFrame(10, payload));
          else if (op === 8) socket.end();
          else if (op === 1 || op === 2) ws.onFrame(payload, op);
          off += hdr + len;
        }
        buf = off === buf.length ? EMPTY : buf.subarray(off);
      };
      socket.on('data', (d: Buffer) => {
        buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
        parse();
      });
      socket.on('error', () => {});
      resolve(ws);
      setImmediate(parse); // after the caller holds `ws`

    });
    req.end();
  });
}
