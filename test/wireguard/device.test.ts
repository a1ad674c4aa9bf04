import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/util/clock.js';
import { CookieChecker, constants, decodeInitiation } from '../../src/wireguard/index.js';
import { ADDR_A, ADDR_B, count, ipv6Packet, makePair } from './harness.js';
import { V, toHex } from './vectors.js';

const payload = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('Device: handshake and transport', () => {
  it('reproduces the wireguard-go vector end to end (initiator A, responder B)', () => {
    const secs = 0x6b0b15db - 10;
    const clock = new ManualClock(secs * 1000 + 580);
    const p = makePair({
      clock,
      privA: V.staticPrivI,
      privB: V.staticPrivR,
      randomA: { ephemeral: () => new Uint8Array(V.ephPrivI), index: () => V.senderI, jitterMs: () => 0 },
      randomB: { ephemeral: () => new Uint8Array(V.ephPrivR), index: () => V.senderR, jitterMs: () => 0 },
    });
    p.a.peer.connect();
    expect(toHex(p.a.sent[0]!)).toBe(toHex(V.initiation));
    expect(toHex(p.b.sent[0]!)).toBe(toHex(V.response));
    expect(toHex(p.a.sent[1]!)).toBe(toHex(V.keepaliveIR));
    expect(p.b.peer.current).not.toBeNull();
    expect(p.b.peer.next).toBeNull();
    expect(p.a.events.some((e) => e.type === 'handshake-complete')).toBe(true);
    expect(p.b.events.some((e) => e.type === 'handshake-complete')).toBe(true);
  });

  it('stages data during the handshake and delivers it; data flows both ways', () => {
    const p = makePair();
    const pkt = ipv6Packet(ADDR_A, payload('hello'));
    p.a.peer.send(pkt);
    expect(p.b.delivered).toEqual([pkt]);
    const back = ipv6Packet(ADDR_B, payload('world!'));
    p.b.peer.send(back);
    expect(p.a.delivered).toEqual([back]);
    // Padding: 46-byte packet goes out as 48 bytes of plaintext: 16 + 48 + 16.
    expect(p.b.sent.at(-1)!.length).toBe(80);
  });

  it('responder stages data until the initiator confirms, then flushes', () => {
    const p = makePair();
    p.filter = (from, d) => !(from === 'a' && d[0] === 4); // lose A's confirmation keepalive
    p.a.peer.connect();
    expect(p.b.peer.next).not.toBeNull();
    const pkt = ipv6Packet(ADDR_B, payload('staged'));
    p.b.peer.send(pkt);
    expect(p.b.peer.stagedCount).toBe(1);
    expect(p.a.delivered).toHaveLength(0);
    p.filter = () => true;
    p.a.peer.send(ipv6Packet(ADDR_A, payload('confirm')));
    expect(p.b.peer.current).not.toBeNull();
    expect(p.b.peer.stagedCount).toBe(0);
    expect(p.a.delivered).toEqual([pkt]);
  });

  it('stages at most 128 packets while the handshake runs, dropping the oldest', () => {
    const p = makePair();
    p.filter = (from) => from !== 'a' || p.a.sent.length < 0;
    for (let i = 0; i < 130; i++) p.a.peer.send(ipv6Packet(ADDR_A, payload(`p${i}`)));
    expect(p.a.peer.stagedCount).toBe(128);
    expect(p.a.events.filter((e) => e.type === 'drop' && e.reason === 'queue_full')).toHaveLength(2);
    p.filter = () => true;
    p.clock.advance(5_000);
    expect(p.b.delivered).toHaveLength(128);
    expect(Buffer.from(p.b.delivered[0]!.subarray(40)).toString()).toBe('p2');
  });

  it('drops replayed transport datagrams', () => {
    const p = makePair();
    p.a.peer.send(ipv6Packet(ADDR_A, payload('x')));
    const data = p.a.sent.filter((d) => d[0] === 4).at(-1)!;
    expect(p.b.dev.receive(data, p.a.dev.publicKey)).toBe('replayed_counter');
    expect(p.b.delivered).toHaveLength(1);
  });

  it('drops packets whose source is outside the allowed IPs, and IPv4', () => {
    const p = makePair();
    p.a.peer.send(ipv6Packet(ADDR_A, payload('ok')));
    p.hold = true;
    p.a.peer.send(ipv6Packet(ADDR_B, payload('spoof'))); // A claims B's address
    expect(p.b.dev.receive(p.a.sent.at(-1)!, p.a.dev.publicKey)).toBe('bad_source');
    const v4 = new Uint8Array(40);
    v4[0] = 0x45;
    p.a.peer.send(v4);
    expect(p.b.dev.receive(p.a.sent.at(-1)!, p.a.dev.publicKey)).toBe('bad_packet');
    const lying = ipv6Packet(ADDR_A, payload('abc'));
    lying[5] = 100; // payload length beyond the padded plaintext
    p.a.peer.send(lying);
    expect(p.b.dev.receive(p.a.sent.at(-1)!, p.a.dev.publicKey)).toBe('bad_packet');
    expect(p.b.delivered).toHaveLength(1);
  });

  it('rejects datagrams whose DERP source key is not the authenticated peer', () => {
    const p = makePair();
    p.a.peer.send(ipv6Packet(ADDR_A, payload('x')));
    const data = p.a.sent.filter((d) => d[0] === 4).at(-1)!;
    expect(p.b.dev.receive(data, new Uint8Array(32).fill(1))).toBe('unknown_peer');
  });

  it('drops an initiation from an unknown static key, a replayed initiation and a flood', () => {
    const p = makePair();
    p.hold = true;
    p.a.peer.connect();
    const init1 = p.a.sent[0]!;
    p.b.dev.removePeer(p.a.dev.publicKey);
    expect(p.b.dev.receive(init1)).toBe('unknown_peer');
    p.b.peer = p.b.dev.addPeer({ publicKey: p.a.dev.publicKey, allowedIps: [] });
    expect(p.b.dev.receive(init1)).toBeNull();
    expect(p.b.dev.receive(init1)).toBe('replayed_timestamp');
    // A second, fresh initiation within 20 ms is a flood.
    p.clock.advance(10);
    p.a.peer.zeroAndFlushAll();
    (p.a.peer as unknown as { lastSentHandshake: number }).lastSentHandshake = -Infinity;
    p.a.peer.connect();
    const init2 = p.a.sent.at(-1)!;
    expect(decodeInitiation(init2).sender).not.toBe(decodeInitiation(init1).sender);
    expect(p.b.dev.receive(init2)).toBe('flood');
    p.clock.advance(20);
    expect(p.b.dev.receive(init2)).toBeNull();
  });

  it('simultaneous initiations converge to one working session', () => {
    const p = makePair();
    p.hold = true;
    p.a.peer.connect();
    p.b.peer.connect();
    p.flush();
    p.clock.advance(6000);
    const x = ipv6Packet(ADDR_A, payload('a->b'));
    const y = ipv6Packet(ADDR_B, payload('b->a'));
    p.a.peer.send(x);
    p.b.peer.send(y);
    expect(p.b.delivered).toContainEqual(x);
    expect(p.a.delivered).toContainEqual(y);
  });

  it('frees indices when keypairs rotate (no leak over many rekeys)', () => {
    const p = makePair();
    for (let i = 0; i < 10; i++) {
      p.a.peer.send(ipv6Packet(ADDR_A, payload(`m${i}`)));
      p.b.peer.send(ipv6Packet(ADDR_B, payload(`r${i}`)));
      p.clock.advance(121_000);
    }
    expect(p.a.dev.indexCount).toBeLessThanOrEqual(3);
    expect(p.b.dev.indexCount).toBeLessThanOrEqual(3);
  });
});

describe('Device: timers on a ManualClock', () => {
  it('retransmits every 5 s and gives up after the 20th initiation; keys zeroed 540 s later', () => {
    const p = makePair();
    p.filter = (from) => from !== 'a';
    p.a.peer.send(ipv6Packet(ADDR_A, payload('lost')));
    expect(count(p.a.sent, 1)).toBe(1);
    p.clock.advance(4_999);
    expect(count(p.a.sent, 1)).toBe(1);
    p.clock.advance(1);
    expect(count(p.a.sent, 1)).toBe(2);
    p.clock.advance(94_999);
    expect(count(p.a.sent, 1)).toBe(20);
    expect(p.a.events.some((e) => e.type === 'handshake-failed')).toBe(false);
    p.clock.advance(1);
    expect(p.a.events.some((e) => e.type === 'handshake-failed')).toBe(true);
    expect(p.a.peer.stagedCount).toBe(0);
    p.clock.advance(100_000);
    expect(count(p.a.sent, 1)).toBe(20);
    expect(p.a.events.some((e) => e.type === 'keys-zeroed')).toBe(false);
    p.clock.advance(440_000);
    expect(p.a.events.some((e) => e.type === 'keys-zeroed')).toBe(true);
  });

  it('adds REKEY_TIMEOUT jitter to the retransmit timer', () => {
    const p = makePair({ randomA: { ephemeral: () => new Uint8Array(V.ephPrivI), index: () => 7, jitterMs: () => 333 } });
    p.filter = (from) => from !== 'a';
    p.a.peer.connect();
    p.clock.advance(5_332);
    expect(count(p.a.sent, 1)).toBe(1);
    p.clock.advance(1);
    expect(count(p.a.sent, 1)).toBe(2);
  });

  it('first-contact fast retries at 0.25, 0.5, 1, 2 s then 5 s', () => {
    const p = makePair();
    p.a.dev.removePeer(p.b.dev.publicKey);
    p.a.peer = p.a.dev.addPeer({ publicKey: p.b.dev.publicKey, allowedIps: [], firstContactRetriesMs: [250, 500, 1000, 2000] });
    p.filter = (from) => from !== 'a';
    p.a.peer.connect();
    const at: number[] = [];
    const t0 = p.clock.now();
    for (let t = 0; t < 9000; t += 50) {
      const before = count(p.a.sent, 1);
      p.clock.advance(50);
      if (count(p.a.sent, 1) > before) at.push(p.clock.now() - t0);
    }
    expect(at).toEqual([250, 750, 1750, 3750, 8750]);
  });

  it('initiator rekeys on send after REKEY_AFTER_TIME', () => {
    const p = makePair();
    p.a.peer.send(ipv6Packet(ADDR_A, payload('1')));
    const first = p.a.peer.current;
    p.clock.advance(119_000);
    p.a.peer.send(ipv6Packet(ADDR_A, payload('2')));
    expect(count(p.a.sent, 1)).toBe(1);
    p.clock.advance(2_000);
    p.a.peer.send(ipv6Packet(ADDR_A, payload('3')));
    expect(count(p.a.sent, 1)).toBe(2);
    expect(p.a.peer.current).not.toBe(first);
    expect(p.b.delivered).toHaveLength(3);
  });

  it('never sends with a keypair older than REJECT_AFTER_TIME', () => {
    const p = makePair();
    p.a.peer.send(ipv6Packet(ADDR_A, payload('1')));
    p.filter = () => false;
    p.clock.advance(180_000);
    const before = p.a.sent.length;
    p.a.peer.send(ipv6Packet(ADDR_A, payload('late')));
    const after = p.a.sent.slice(before);
    expect(after.map((d) => d[0])).toEqual([1]);
    expect(p.a.peer.stagedCount).toBe(1);
  });

  it('receiving at 165 s on an initiator keypair triggers the last-minute handshake once', () => {
    const p = makePair();
    p.a.peer.send(ipv6Packet(ADDR_A, payload('1')));
    p.clock.advance(166_000);
    const before = count(p.a.sent, 1);
    p.filter = (from) => from !== 'a' || p.a.sent.length < 0; // A's answers are lost
    p.b.peer.send(ipv6Packet(ADDR_B, payload('late data')));
    expect(count(p.a.sent, 1)).toBe(before + 1);
    p.b.peer.send(ipv6Packet(ADDR_B, payload('more')));
    expect(count(p.a.sent, 1)).toBe(before + 1);
  });

  it('passive keepalive 10 s after receiving data', () => {
    const p = makePair();
    p.a.peer.send(ipv6Packet(ADDR_A, payload('ping')));
    const n = p.b.sent.length;
    p.clock.advance(9_999);
    expect(p.b.sent.length).toBe(n);
    p.clock.advance(1);
    expect(p.b.sent.length).toBe(n + 1);
    expect(p.b.sent.at(-1)!.length).toBe(constants.SIZE_KEEPALIVE);
  });

  it('new handshake 15 s after data sent without any answer', () => {
    const p = makePair();
    p.a.peer.send(ipv6Packet(ADDR_A, payload('1')));
    p.clock.advance(10_000); // B's passive keepalive answers and cancels A's new-handshake timer
    p.filter = (from) => from !== 'b';
    p.a.peer.send(ipv6Packet(ADDR_A, payload('2')));
    const inits = count(p.a.sent, 1);
    p.clock.advance(14_999);
    expect(count(p.a.sent, 1)).toBe(inits);
    p.clock.advance(1);
    expect(count(p.a.sent, 1)).toBe(inits + 1);
  });

  it('persistent keepalive every interval while configured', () => {
    const p = makePair();
    p.a.peer.setPersistentKeepalive(25_000);
    p.a.peer.connect();
    const n = count(p.a.sent, 4);
    p.clock.advance(25_000);
    expect(count(p.a.sent, 4)).toBe(n + 1);
    p.clock.advance(25_000);
    expect(count(p.a.sent, 4)).toBe(n + 2);
    p.a.peer.setPersistentKeepalive(0);
    p.clock.advance(100_000);
    expect(count(p.a.sent, 4)).toBe(n + 2);
  });

  it('a cookie reply makes the next initiation carry a valid mac2', () => {
    const p = makePair();
    p.filter = (from) => from !== 'a';
    p.a.peer.connect();
    const init = p.a.sent[0]!;
    const checker = new CookieChecker(p.b.dev.publicKey);
    const src = Uint8Array.of(1, 2, 3, 4);
    const reply = checker.createReply(init, decodeInitiation(init).sender, src, p.clock.now());
    expect(p.a.dev.receive(reply, p.b.dev.publicKey)).toBeNull();
    expect(count(p.a.sent, 1)).toBe(1); // nothing resent immediately
    p.clock.advance(5_000);
    const next = p.a.sent.at(-1)!;
    expect(next[0]).toBe(1);
    expect(checker.checkMac2(next, src, p.clock.now())).toBe(true);
    expect(checker.checkMac2(init, src, p.clock.now())).toBe(false);
  });
});
