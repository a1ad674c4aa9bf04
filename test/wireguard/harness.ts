/** Two wireguard Devices wired back to back through an in-memory, non-reentrant link. */
import { ManualClock } from '../../src/util/clock.js';
import { Device, type DeviceRandom, type PeerEvent, type WgPeer, parsePrefix6, randomPrivateKey } from '../../src/wireguard/index.js';

export const ADDR_A = 'fd7a:115c:a1e0:4a2b:1c3d:4e5f:6a7b:8c9d';
export const ADDR_B = 'fd7a:115c:a1e0:49d6:b259:b7ac:b1b2:48f4';

export function ipv6Packet(src: string, payload: Uint8Array, nextHeader = 17): Uint8Array {
  const p = new Uint8Array(40 + payload.length);
  p[0] = 0x60;
  p[4] = payload.length >> 8;
  p[5] = payload.length & 0xff;
  p[6] = nextHeader;
  p[7] = 64;
  p.set(parsePrefix6(src).addr, 8);
  p.set(parsePrefix6(src === ADDR_A ? ADDR_B : ADDR_A).addr, 24);
  p.set(payload, 40);
  return p;
}

export interface Side {
  dev: Device;
  peer: WgPeer;
  delivered: Uint8Array[];
  sent: Uint8Array[];
  events: PeerEvent[];
}

export interface Pair {
  clock: ManualClock;
  a: Side;
  b: Side;
  /** Return false to drop a datagram in flight. */
  filter: (from: 'a' | 'b', d: Uint8Array) => boolean;
  /** When true, datagrams queue until flush(). */
  hold: boolean;
  flush(): void;
}

export function makePair(opts: { randomA?: DeviceRandom; randomB?: DeviceRandom; clock?: ManualClock; privA?: Uint8Array; privB?: Uint8Array } = {}): Pair {
  const clock = opts.clock ?? new ManualClock();
  const queue: { to: 'a' | 'b'; d: Uint8Array }[] = [];
  let busy = false;
  const zeroJitter: DeviceRandom = { ephemeral: randomPrivateKey, index: () => (Math.random() * 2 ** 32) >>> 0, jitterMs: () => 0 };
  const pair = {} as Pair;
  pair.clock = clock;
  pair.filter = () => true;
  pair.hold = false;
  const pump = (): void => {
    if (busy || pair.hold) return;
    busy = true;
    try {
      while (queue.length) {
        const { to, d } = queue.shift()!;
        const side = to === 'a' ? pair.a : pair.b;
        side.dev.receive(d, (to === 'a' ? pair.b : pair.a).dev.publicKey);
      }
    } finally {
      busy = false;
    }
  };
  pair.flush = () => {
    pair.hold = false;
    pump();
  };
  const mk = (name: 'a' | 'b', priv: Uint8Array, random: DeviceRandom): Side => {
    const side = { delivered: [], sent: [], events: [] } as unknown as Side;
    side.dev = new Device({
      privateKey: priv,
      clock,
      random,
      send: (_p, d) => {
        side.sent.push(d);
        if (!pair.filter(name, d)) return;
        queue.push({ to: name === 'a' ? 'b' : 'a', d });
        pump();
      },
      deliver: (_p, pkt) => side.delivered.push(pkt),
      onEvent: (_p, e) => side.events.push(e),
    });
    return side;
  };
  pair.a = mk('a', opts.privA ?? randomPrivateKey(), opts.randomA ?? zeroJitter);
  pair.b = mk('b', opts.privB ?? randomPrivateKey(), opts.randomB ?? zeroJitter);
  pair.a.peer = pair.a.dev.addPeer({ publicKey: pair.b.dev.publicKey, allowedIps: [parsePrefix6(`${ADDR_B}/128`)] });
  pair.b.peer = pair.b.dev.addPeer({ publicKey: pair.a.dev.publicKey, allowedIps: [parsePrefix6(`${ADDR_A}/128`)] });
  return pair;
}

export const typeOf = (d: Uint8Array): number => d[0]!;
export const count = (list: Uint8Array[], type: number): number => list.filter((d) => d[0] === type).length;
