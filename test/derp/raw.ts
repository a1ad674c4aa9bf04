/** A hand-driven DERP peer over a raw TCP socket, for protocol-violation tests. */
import { connect, type Socket } from 'node:net';
import { FrameParser, FrameType, encodeFrame } from '../../src/derp/frame.js';
import { seal } from '../../src/derp/box.js';
import { keyPair } from '../../src/derp/key.js';

export interface RawPeer {
  sock: Socket;
  /** Bytes before the first frame (the HTTP response), once complete. */
  httpHead: string;
  frames: { type: number; payload: Buffer }[];
  ended: Promise<void>;
  isEnded(): boolean;
  write(b: Buffer): void;
  nextFrame(ms?: number): Promise<{ type: number; payload: Buffer }>;
  /** Sends a valid ClientInfo for `priv` and waits for ServerInfo. */
  handshake(opts?: { priv?: Buffer; json?: string }): Promise<Buffer>;
  serverKey: Buffer | null;
}

export async function rawPeer(
  port: number,
  opts: { request?: string; fastStart?: { serverKey: Buffer; priv: Buffer }; noHttp?: boolean } = {},
): Promise<RawPeer> {
  const sock = connect({ host: '127.0.0.1', port });
  await new Promise<void>((r, j) => sock.once('connect', r).once('error', j));
  const frames: { type: number; payload: Buffer }[] = [];
  let waiter: (() => void) | null = null;
  const parser = new FrameParser(
    () => 1 << 20,
    (type, payload) => {
      frames.push({ type, payload: Buffer.from(payload) });
      waiter?.();
      return true;
    },
  );
  let head: Buffer | null = opts.fastStart || opts.noHttp ? null : Buffer.alloc(0);
  let ended = false;
  const peer: RawPeer = {
    sock,
    httpHead: '',
    frames,
    serverKey: null,
    ended: new Promise<void>((r) =>
      sock.on('close', () => {
        ended = true;
        waiter?.();
        r();
      }),
    ),
    isEnded: () => ended,
    write: (b) => sock.write(b),
    async nextFrame(ms = 2000) {
      const deadline = Date.now() + ms;
      while (frames.length === 0) {
        if (ended) throw new Error('connection closed');
        const left = deadline - Date.now();
        if (left <= 0) throw new Error('timeout');
        await new Promise<void>((r) => {
          waiter = r;
          setTimeout(r, left).unref();
        });
        waiter = null;
      }
      return frames.shift()!;
    },
    async handshake(o = {}) {
      const kp = keyPair(o.priv);
      if (!peer.serverKey) {
        const sk = await peer.nextFrame();
        if (sk.type !== FrameType.ServerKey) throw new Error('no ServerKey');
        peer.serverKey = sk.payload.subarray(8, 40);
      }
      const box = seal(Buffer.from(o.json ?? '{"version":2,"CanAckPings":true}'), kp.privateKey, peer.serverKey);
      sock.write(encodeFrame(FrameType.ClientInfo, kp.publicKey, box));
      const si = await peer.nextFrame();
      if (si.type !== FrameType.ServerInfo) throw new Error('no ServerInfo');
      return kp.publicKey;
    },
  };
  const feed = (b: Buffer): void => {
    try {
      parser.push(b);
    } catch {
      sock.destroy(); // not DERP framing (e.g. an HTTP error body)
    }
  };
  sock.on('error', () => {});
  sock.on('data', (chunk: Buffer) => {
    if (head !== null) {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      peer.httpHead = head.subarray(0, end + 4).toString('latin1');
      const rest = head.subarray(end + 4);
      head = null;
      if (rest.length) feed(rest);
      return;
    }
    feed(chunk);
  });
  if (!opts.noHttp) {
    let req = opts.request ?? 'GET /derp HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: DERP\r\n\r\n';
    if (opts.fastStart) {
      req = 'GET /derp HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: DERP\r\nDerp-Fast-Start: 1\r\n\r\n';
      const kp = keyPair(opts.fastStart.priv);
      const box = seal(Buffer.from('{"version":2,"CanAckPings":true}'), kp.privateKey, opts.fastStart.serverKey);
      sock.write(Buffer.concat([Buffer.from(req), encodeFrame(FrameType.ClientInfo, kp.publicKey, box)]));
      peer.serverKey = opts.fastStart.serverKey;
    } else sock.write(req);
  }
  return peer;
}

/** Resolves true if the peer's connection ends within `ms`. */
export async function endsWithin(p: RawPeer, ms = 2000): Promise<boolean> {
  let t: NodeJS.Timeout | undefined;
  const r = await Promise.race([p.ended.then(() => true), new Promise<boolean>((res) => (t = setTimeout(() => res(false), ms)))]);
  clearTimeout(t);
  return r;
}
