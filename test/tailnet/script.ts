/** Packetdrill-style harness: a TcpStack on a ManualClock and a scripted remote end. */
import { ManualClock } from '../../src/util/clock.js';
import {
  ACK,
  type TcpSegment,
  TcpStack,
  type TcpStackOptions,
  decodeIpv6,
  decodeTcp,
  encodeIpv6,
  encodeTcp,
  parseIpv6,
} from '../../src/tailnet/index.js';

export const LOCAL = parseIpv6('fd7a:115c:a1e0:4a2b:1c3d:4e5f:6a7b:8c9d');
export const REMOTE = parseIpv6('fd7a:115c:a1e0:49d6:b259:b7ac:b1b2:48f4');
export const LPORT = 50000;
export const ISS = 1000;
export const RISS = 5000;
export const EMPTY = new Uint8Array(0);

export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

export function setup(tcp: TcpStackOptions['tcp'] = {}) {
  const clock = new ManualClock();
  const out: TcpSegment[] = [];
  const stack = new TcpStack({
    localAddress: LOCAL,
    remoteAddress: REMOTE,
    clock,
    output: (p) => {
      const ip = decodeIpv6(p)!;
      out.push(decodeTcp(ip.payload, ip.src, ip.dst)!);
    },
    random: { port: () => LPORT, iss: () => ISS },
    tcp,
  });
  const inject = (seg: Partial<TcpSegment>, dstPort = LPORT): void => {
    const full: TcpSegment = {
      srcPort: 2,
      dstPort,
      seq: 0,
      ack: 0,
      flags: ACK,
      window: 65535,
      urgent: 0,
      mss: null,
      payload: EMPTY,
      ...seg,
    };
    stack.input(encodeIpv6(REMOTE, LOCAL, 6, encodeTcp(full, REMOTE, LOCAL)));
  };
  const last = (): TcpSegment => out[out.length - 1]!;
  return { clock, out, stack, inject, last };
}

/** Connects and completes the handshake; returns the socket and the harness. */
export async function established(tcp: TcpStackOptions['tcp'] = {}, synAck: Partial<TcpSegment> = {}) {
  const h = setup(tcp);
  const socket = h.stack.connect(2);
  const received: Buffer[] = [];
  socket.on('data', (b: Buffer) => received.push(b));
  const errors: Error[] = [];
  socket.on('error', (e) => errors.push(e));
  h.inject({ seq: RISS, ack: ISS + 1, flags: 0x12, mss: 1220, ...synAck });
  await tick();
  return { ...h, socket, received, errors };
}

export const bytes = (n: number, fill = 0x61): Uint8Array => new Uint8Array(n).fill(fill);
