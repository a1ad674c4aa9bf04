import { describe, expect, it } from 'vitest';
import { ACK, FIN, PSH, RST, SYN, encodeIpv6, encodeTcp, parseIpv6 } from '../../src/tailnet/index.js';
import { ISS, LOCAL, LPORT, REMOTE, RISS, bytes, established, setup, tick } from './script.js';

describe('TCP active open (RFC 9293 §3.10.7.3)', () => {
  it('sends a plain SYN with MSS 1220 and completes on SYN-ACK', async () => {
    const h = setup();
    const s = h.stack.connect(2);
    let connected = false;
    s.on('connect', () => (connected = true));
    expect(h.out).toHaveLength(1);
    expect(h.out[0]).toMatchObject({ srcPort: LPORT, dstPort: 2, seq: ISS, ack: 0, flags: SYN, window: 65535, mss: 1220 });
    h.inject({ seq: RISS, ack: ISS + 1, flags: SYN | ACK, mss: 1220 });
    expect(connected).toBe(true);
    expect(h.last()).toMatchObject({ seq: ISS + 1, ack: RISS + 1, flags: ACK, mss: null });
  });

  it('uses 1220 without an MSS option and the peer MSS when smaller', async () => {
    const a = await established({}, { mss: null });
    a.socket.write(bytes(3000));
    await tick();
    expect(a.out.slice(2).map((s) => s.payload.length)).toEqual([1220, 1220, 560]);
    const b = await established({}, { mss: 536 });
    b.socket.write(bytes(1100));
    await tick();
    expect(b.out.slice(2).map((s) => s.payload.length)).toEqual([536, 536, 28]);
  });

  it('answers an unacceptable ACK in SYN-SENT with RST seq=SEG.ACK', () => {
    const h = setup();
    h.stack.connect(2);
    h.inject({ seq: RISS, ack: ISS + 7, flags: SYN | ACK });
    expect(h.last()).toMatchObject({ seq: ISS + 7, flags: RST });
  });

  it('RST with an acceptable ACK in SYN-SENT fails the connect; without ACK it is ignored', async () => {
    const h = setup();
    const s = h.stack.connect(2);
    const errs: Error[] = [];
    s.on('error', (e) => errs.push(e));
    h.inject({ seq: 0, ack: 0, flags: RST });
    await tick();
    expect(errs).toHaveLength(0);
    h.inject({ seq: 0, ack: ISS + 1, flags: RST | ACK });
    await tick();
    expect(errs.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['ECONNRESET']);
    expect(h.stack.connectionCount).toBe(0);
  });

  it('retransmits the SYN with back-off and raises RTO to 3 s afterwards (RFC 6298 §5.7)', () => {
    const h = setup();
    h.stack.connect(2);
    h.clock.advance(999);
    expect(h.out).toHaveLength(1);
    h.clock.advance(1);
    expect(h.out).toHaveLength(2);
    expect(h.out[1]).toMatchObject({ seq: ISS, flags: SYN, mss: 1220 });
    h.clock.advance(1999);
    expect(h.out).toHaveLength(2);
    h.clock.advance(1);
    expect(h.out).toHaveLength(3);
    h.inject({ seq: RISS, ack: ISS + 1, flags: SYN | ACK });
    const conn = [...(h.stack as unknown as { conns: Map<number, { conn: { rto: number } }> }).conns.values()][0]!.conn;
    expect(conn.rto).toBeGreaterThanOrEqual(3000);
  });

  it('connect timeout destroys the socket with ETIMEDOUT', async () => {
    const h = setup();
    const p = h.stack.dial(2, { timeoutMs: 5000 });
    h.clock.advance(5000);
    await expect(p).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    await tick();
    expect(h.out.at(-1)!.flags & RST ? 'rst' : 'none').toBe('none'); // not synchronized: no RST
  });
});

describe('TCP data transfer', () => {
  it('sends data in MSS segments with PSH on the last and releases it on ACK', async () => {
    const h = await established();
    h.socket.write(bytes(3000));
    await tick();
    const segs = h.out.slice(2);
    expect(segs.map((s) => [s.seq, s.payload.length, s.flags])).toEqual([
      [ISS + 1, 1220, ACK],
      [ISS + 1221, 1220, ACK],
      [ISS + 2441, 560, ACK | PSH],
    ]);
    h.inject({ seq: RISS + 1, ack: ISS + 3001 });
    h.clock.advance(10_000);
    expect(h.out).toHaveLength(5); // nothing retransmitted
  });

  it('retransmits the earliest unacknowledged segment on RTO with exponential back-off', async () => {
    const h = await established();
    h.socket.write(bytes(100));
    await tick();
    expect(h.out).toHaveLength(3);
    h.clock.advance(1000);
    expect(h.out).toHaveLength(4);
    expect(h.out[3]).toMatchObject({ seq: ISS + 1 });
    expect(h.out[3]!.payload.length).toBe(100);
    h.clock.advance(1999);
    expect(h.out).toHaveLength(4);
    h.clock.advance(1);
    expect(h.out).toHaveLength(5);
    h.inject({ seq: RISS + 1, ack: ISS + 101 });
    h.clock.advance(60_000);
    expect(h.out).toHaveLength(5);
  });

  it('gives up with ECONNABORTED and a RST after the user timeout', async () => {
    const h = await established({ userTimeoutMs: 20_000 });
    h.socket.write(bytes(10));
    await tick();
    h.clock.advance(70_000);
    await tick();
    expect(h.errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['ECONNABORTED']);
    expect(h.out.at(-1)!.flags).toBe(RST);
  });

  it('fast-retransmits after three duplicate ACKs', async () => {
    const h = await established();
    h.socket.write(bytes(3000));
    await tick();
    const n = h.out.length;
    for (let i = 0; i < 3; i++) h.inject({ seq: RISS + 1, ack: ISS + 1 });
    expect(h.out.length).toBe(n + 1);
    expect(h.out.at(-1)).toMatchObject({ seq: ISS + 1 });
  });

  it('receives in-order data and ACKs it immediately', async () => {
    const h = await established();
    h.inject({ seq: RISS + 1, ack: ISS + 1, flags: ACK | PSH, payload: bytes(5, 0x41) });
    await tick();
    expect(Buffer.concat(h.received).toString()).toBe('AAAAA');
    expect(h.last()).toMatchObject({ flags: ACK, ack: RISS + 6 });
  });

  it('buffers out-of-order data, sends a duplicate ACK, and delivers in order', async () => {
    const h = await established();
    h.inject({ seq: RISS + 4, ack: ISS + 1, payload: Buffer.from('def') });
    expect(h.last()).toMatchObject({ flags: ACK, ack: RISS + 1 });
    h.inject({ seq: RISS + 10, ack: ISS + 1, payload: Buffer.from('jk') });
    h.inject({ seq: RISS + 6, ack: ISS + 1, payload: Buffer.from('fghi') }); // overlaps 'f'
    h.inject({ seq: RISS + 1, ack: ISS + 1, payload: Buffer.from('abc') });
    await tick();
    expect(Buffer.concat(h.received).toString()).toBe('abcdefghijk');
    expect(h.last()).toMatchObject({ ack: RISS + 12 });
  });

  it('bounds the out-of-order buffer by segment count', async () => {
    const h = await established({ maxOutOfOrderSegments: 2 });
    for (let i = 0; i < 5; i++) h.inject({ seq: RISS + 10 + i * 2, ack: ISS + 1, payload: Buffer.from('x') });
    const conn = [...(h.stack as unknown as { conns: Map<number, { conn: { ooo: unknown[] } }> }).conns.values()][0]!.conn;
    expect(conn.ooo).toHaveLength(2);
  });

  it('drops segments outside the receive window and answers with an ACK', async () => {
    const h = await established();
    h.inject({ seq: RISS + 1 + 70_000, ack: ISS + 1, payload: bytes(10) });
    h.inject({ seq: RISS - 100, ack: ISS + 1, payload: bytes(10) });
    await tick();
    expect(h.received).toHaveLength(0);
    expect(h.out.slice(-2).map((s) => [s.flags, s.ack])).toEqual([
      [ACK, RISS + 1],
      [ACK, RISS + 1],
    ]);
  });

  it('answers a keepalive probe (SEQ = RCV.NXT − 1) with an ACK', async () => {
    const h = await established();
    h.inject({ seq: RISS, ack: ISS + 1 });
    expect(h.last()).toMatchObject({ flags: ACK, seq: ISS + 1, ack: RISS + 1 });
  });

  it('shrinks the window while data is unread and sends a window update after reading', async () => {
    const h = await established();
    h.socket.removeAllListeners('data');
    h.socket.pause();
    for (let i = 0; i < 40; i++) h.inject({ seq: RISS + 1 + i * 1220, ack: ISS + 1, payload: bytes(1220) });
    expect(h.last().window).toBe(65535 - 40 * 1220);
    // Beyond the window: 20 more segments fill it to zero and the rest is refused.
    for (let i = 40; i < 60; i++) h.inject({ seq: RISS + 1 + i * 1220, ack: ISS + 1, payload: bytes(1220) });
    expect(h.last().window).toBe(0);
    expect(h.last().ack).toBe(RISS + 1 + 65535);
    const n = h.out.length;
    let total = 0;
    while (h.socket.read() !== null) total++;
    await tick();
    expect(total).toBeGreaterThan(0);
    expect(h.out.length).toBeGreaterThan(n);
    expect(h.last().window).toBe(65535);
  });

  it('probes a zero window and never times out while probes are answered', async () => {
    const h = await established({ userTimeoutMs: 10_000 }, { window: 0 });
    h.socket.write(bytes(100));
    await tick();
    expect(h.out).toHaveLength(2);
    h.clock.advance(1000);
    expect(h.out).toHaveLength(3);
    expect(h.out[2]!.payload.length).toBe(1);
    for (let i = 0; i < 10; i++) {
      h.inject({ seq: RISS + 1, ack: ISS + 1, window: 0 });
      h.clock.advance(5000);
    }
    expect(h.errors).toHaveLength(0);
    h.inject({ seq: RISS + 1, ack: ISS + 1, window: 65535 });
    const sent = h.out.filter((s) => s.payload.length > 1);
    expect(sent.at(-1)).toMatchObject({ seq: ISS + 1 });
    expect(sent.at(-1)!.payload.length).toBe(100);
  });
});

describe('TCP close and reset', () => {
  it('peer FIN ends the readable side; our end() then sends FIN and LAST-ACK closes', async () => {
    const h = await established({}, {});
    h.socket.on('end', () => {});
    let ended = false;
    h.socket.on('end', () => (ended = true));
    h.inject({ seq: RISS + 1, ack: ISS + 1, flags: ACK | FIN, payload: Buffer.from('bye') });
    await tick();
    await tick();
    expect(ended).toBe(true);
    expect(Buffer.concat(h.received).toString()).toBe('bye');
    // allowHalfOpen=false: the writable side ends automatically ⇒ FIN.
    const fin = h.out.find((s) => s.flags & FIN)!;
    expect(fin).toMatchObject({ seq: ISS + 1, ack: RISS + 5 });
    h.inject({ seq: RISS + 5, ack: ISS + 2 });
    expect(h.stack.connectionCount).toBe(0);
  });

  it('our FIN first: FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT (60 s) → closed', async () => {
    const h = await established();
    h.socket.end();
    await tick();
    expect(h.last()).toMatchObject({ flags: ACK | FIN, seq: ISS + 1 });
    h.inject({ seq: RISS + 1, ack: ISS + 2 });
    h.inject({ seq: RISS + 1, ack: ISS + 2, flags: ACK | FIN });
    expect(h.last()).toMatchObject({ flags: ACK, ack: RISS + 2 });
    expect(h.stack.connectionCount).toBe(1);
    // A retransmitted FIN in TIME-WAIT is re-acknowledged.
    h.inject({ seq: RISS + 1, ack: ISS + 2, flags: ACK | FIN });
    expect(h.last()).toMatchObject({ flags: ACK, ack: RISS + 2 });
    // RST in TIME-WAIT is ignored (RFC 1337).
    h.inject({ seq: RISS + 2, flags: RST });
    expect(h.stack.connectionCount).toBe(1);
    h.clock.advance(60_000);
    expect(h.stack.connectionCount).toBe(0);
  });

  it('retransmits an unacknowledged FIN', async () => {
    const h = await established();
    h.socket.end();
    await tick();
    const n = h.out.length;
    h.clock.advance(1000);
    expect(h.out.length).toBe(n + 1);
    expect(h.last()).toMatchObject({ flags: ACK | FIN, seq: ISS + 1 });
  });

  it('simultaneous close: FIN-WAIT-1 + FIN → CLOSING → TIME-WAIT', async () => {
    const h = await established();
    h.socket.end();
    await tick();
    h.inject({ seq: RISS + 1, ack: ISS + 1, flags: ACK | FIN });
    expect(h.last()).toMatchObject({ flags: ACK, ack: RISS + 2 });
    h.inject({ seq: RISS + 2, ack: ISS + 2 });
    h.clock.advance(60_000);
    expect(h.stack.connectionCount).toBe(0);
  });

  it('RST with the exact sequence resets; in-window wrong sequence earns a challenge ACK; outside is ignored', async () => {
    const h = await established();
    let n = h.out.length;
    h.inject({ seq: RISS + 100, flags: RST });
    expect(h.out.length).toBe(n + 1);
    expect(h.last()).toMatchObject({ flags: ACK, seq: ISS + 1, ack: RISS + 1 });
    n = h.out.length;
    h.inject({ seq: RISS + 1 + 100_000, flags: RST });
    expect(h.out.length).toBe(n);
    expect(h.stack.connectionCount).toBe(1);
    h.inject({ seq: RISS + 1, flags: RST });
    await tick();
    expect(h.errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['ECONNRESET']);
    expect(h.stack.connectionCount).toBe(0);
  });

  it('a SYN on an established connection earns a challenge ACK (RFC 5961 §4)', async () => {
    const h = await established();
    h.inject({ seq: RISS + 1, flags: SYN });
    expect(h.last()).toMatchObject({ flags: ACK, ack: RISS + 1 });
    expect(h.stack.connectionCount).toBe(1);
  });

  it('destroy() sends RST with SEQ = SND.NXT', async () => {
    const h = await established();
    h.socket.write(bytes(10));
    await tick();
    h.socket.destroy();
    await tick();
    expect(h.last()).toMatchObject({ flags: RST, seq: ISS + 11 });
    expect(h.stack.connectionCount).toBe(0);
  });

  it('answers segments for unknown connections per the CLOSED rules, never a RST with a RST', () => {
    const h = setup();
    h.inject({ seq: 77, ack: 99, flags: ACK }, 40000);
    expect(h.last()).toMatchObject({ flags: RST, seq: 99, dstPort: 2, srcPort: 40000 });
    h.inject({ seq: 77, flags: SYN, payload: bytes(3) }, 40000);
    expect(h.last()).toMatchObject({ flags: RST | ACK, seq: 0, ack: 81 });
    const n = h.out.length;
    h.inject({ seq: 77, flags: RST }, 40000);
    expect(h.out.length).toBe(n);
  });

  it('session loss fails every connection with EHOSTUNREACH and sends nothing', async () => {
    const h = await established();
    const n = h.out.length;
    h.stack.fail();
    await tick();
    expect(h.errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['EHOSTUNREACH']);
    expect(h.out.length).toBe(n);
    expect(() => h.stack.connect(2)).toThrow(/session lost/);
  });

  it('drops packets with a bad checksum or from the wrong address', async () => {
    const h = await established();
    const before = h.stack.stats.badPackets;
    h.stack.input(new Uint8Array(60));
    const seg = { srcPort: 2, dstPort: LPORT, seq: RISS + 1, ack: ISS + 1, flags: ACK, window: 65535, urgent: 0, mss: null, payload: bytes(3) };
    const stranger = parseIpv6('fd7a:115c:a1e0::99');
    h.stack.input(encodeIpv6(stranger, LOCAL, 6, encodeTcp(seg, stranger, LOCAL)));
    const corrupt = encodeIpv6(REMOTE, LOCAL, 6, encodeTcp(seg, REMOTE, LOCAL));
    corrupt[corrupt.length - 1]! ^= 0xff;
    h.stack.input(corrupt);
    expect(h.stack.stats.badPackets).toBe(before + 3);
    expect(h.received).toHaveLength(0);
  });
});

describe('PTY init header (spec §5.1)', () => {
  it('a header written before the handshake completes is the head of the first data segment', async () => {
    const h = setup();
    const s = h.stack.connect(2);
    const json = Buffer.from(JSON.stringify({ ID: '00000000-0000-4000-8000-000000000001', Height: 24, Width: 80, Command: 'x'.repeat(1100) }));
    const header = Buffer.alloc(2 + json.length);
    header.writeUInt16LE(json.length, 0);
    json.copy(header, 2);
    expect(header.length).toBeLessThanOrEqual(1220);
    s.write(header);
    s.write(Buffer.from('{"data":"ls\\r"}'));
    await tick();
    h.inject({ seq: RISS, ack: ISS + 1, flags: SYN | ACK, mss: 1220 });
    const first = h.out.find((x) => x.payload.length > 0)!;
    expect(first.seq).toBe(ISS + 1);
    expect(Buffer.from(first.payload.subarray(0, header.length)).equals(header)).toBe(true);
  });
});

describe('TCP timers (RFC 6298)', () => {
  const rtoOf = (h: ReturnType<typeof setup>): number =>
    [...(h.stack as unknown as { conns: Map<number, { conn: { rto: number } }> }).conns.values()][0]!.conn.rto;

  it('computes RTO from samples, backs off, and never samples a retransmission (Karn)', async () => {
    const h = setup({ minRtoMs: 200 });
    const s = h.stack.connect(2);
    s.on('error', () => {});
    h.clock.advance(100);
    h.inject({ seq: RISS, ack: ISS + 1, flags: SYN | ACK, mss: 1220 });
    expect(rtoOf(h)).toBe(300); // SRTT 100, RTTVAR 50
    s.write(bytes(10));
    await tick();
    h.clock.advance(300);
    expect(h.out.filter((x) => x.payload.length === 10)).toHaveLength(2);
    expect(rtoOf(h)).toBe(600);
    h.clock.advance(50);
    h.inject({ seq: RISS + 1, ack: ISS + 11 });
    expect(rtoOf(h)).toBe(600); // ACK of a retransmitted segment: no sample
    s.write(bytes(10));
    await tick();
    h.clock.advance(100);
    h.inject({ seq: RISS + 1, ack: ISS + 21 });
    expect(rtoOf(h)).toBe(250); // RTTVAR 37.5, SRTT 100
  });

  it('FIN-WAIT-1 receiving FIN together with the ACK of our FIN goes straight to TIME-WAIT', async () => {
    const h = await established();
    h.socket.end();
    await tick();
    h.inject({ seq: RISS + 1, ack: ISS + 2, flags: ACK | FIN });
    expect(h.last()).toMatchObject({ flags: ACK, ack: RISS + 2 });
    h.clock.advance(59_999);
    expect(h.stack.connectionCount).toBe(1);
    h.clock.advance(1);
    expect(h.stack.connectionCount).toBe(0);
  });
});
