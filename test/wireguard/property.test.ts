import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/util/clock.js';
import { Device, decodeTransportHeader, parsePrefix6, randomPrivateKey } from '../../src/wireguard/index.js';
import { ADDR_A, ADDR_B, ipv6Packet } from './harness.js';

type Action =
  | { k: 'send'; from: 'a' | 'b' }
  | { k: 'spoof' }
  | { k: 'deliver' }
  | { k: 'drop' }
  | { k: 'dup' }
  | { k: 'swap' }
  | { k: 'advance'; ms: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ k: fc.constant('send' as const), from: fc.constantFrom('a' as const, 'b' as const) }),
  fc.constant({ k: 'spoof' as const }),
  fc.constant({ k: 'deliver' as const }),
  fc.constant({ k: 'deliver' as const }),
  fc.constant({ k: 'drop' as const }),
  fc.constant({ k: 'dup' as const }),
  fc.constant({ k: 'swap' as const }),
  fc.record({ k: fc.constant('advance' as const), ms: fc.constantFrom(1, 30, 5_000, 10_000, 121_000, 181_000) }),
);

describe('Device properties under random schedules', () => {
  it('never reuses (keypair, counter), never delivers twice, never accepts a wrong source', () => {
    fc.assert(
      fc.property(fc.array(action, { maxLength: 80 }), (actions) => {
        const clock = new ManualClock();
        const queue: { to: 'a' | 'b'; d: Uint8Array }[] = [];
        const delivered = { a: new Set<number>(), b: new Set<number>() };
        const seenCounters = new Set<string>();
        let nextId = 1;
        const mk = (name: 'a' | 'b', priv: Uint8Array): Device =>
          new Device({
            privateKey: priv,
            clock,
            send: (_p, d) => {
              if (d[0] === 4) {
                const h = decodeTransportHeader(d);
                const key = `${name}:${h.receiver}:${h.counter}`;
                expect(seenCounters.has(key)).toBe(false);
                seenCounters.add(key);
              }
              queue.push({ to: name === 'a' ? 'b' : 'a', d });
            },
            deliver: (_p, pkt) => {
              const srcOk = Buffer.from(pkt.subarray(8, 24)).equals(Buffer.from(parsePrefix6(name === 'a' ? ADDR_B : ADDR_A).addr));
              expect(srcOk).toBe(true);
              const id = new DataView(pkt.buffer, pkt.byteOffset + 40).getUint32(0);
              expect(delivered[name].has(id)).toBe(false);
              delivered[name].add(id);
            },
          });
        const privA = randomPrivateKey();
        const privB = randomPrivateKey();
        const a = mk('a', privA);
        const b = mk('b', privB);
        const pa = a.addPeer({ publicKey: b.publicKey, allowedIps: [parsePrefix6(`${ADDR_B}/128`)] });
        const pb = b.addPeer({ publicKey: a.publicKey, allowedIps: [parsePrefix6(`${ADDR_A}/128`)] });
        const payload = (id: number): Uint8Array => {
          const p = new Uint8Array(8);
          new DataView(p.buffer).setUint32(0, id);
          return p;
        };
        for (const act of actions) {
          switch (act.k) {
            case 'send':
              (act.from === 'a' ? pa : pb).send(ipv6Packet(act.from === 'a' ? ADDR_A : ADDR_B, payload(nextId++)));
              break;
            case 'spoof':
              pa.send(ipv6Packet(ADDR_B, payload(0xffffffff)));
              break;
            case 'deliver': {
              const m = queue.shift();
              if (m) (m.to === 'a' ? a : b).receive(m.d);
              break;
            }
            case 'drop':
              queue.shift();
              break;
            case 'dup':
              if (queue[0]) queue.push(queue[0]);
              break;
            case 'swap':
              if (queue.length >= 2) [queue[0], queue[1]] = [queue[1]!, queue[0]!];
              break;
            case 'advance':
              clock.advance(act.ms);
              break;
          }
        }
        while (queue.length) {
          const m = queue.shift()!;
          (m.to === 'a' ? a : b).receive(m.d);
        }
        expect(delivered.b.has(0xffffffff)).toBe(false);
        a.close();
        b.close();
      }),
      { numRuns: 40 },
    );
  });
});
