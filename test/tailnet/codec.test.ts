import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ACK, PSH, SYN, decodeIpv6, decodeTcp, encodeIpv6, encodeTcp, parseIpv6 } from '../../src/tailnet/index.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const SRC = parseIpv6('fd7a:115c:a1e0:4a2b:1c3d:4e5f:6a7b:8c9d');
const DST = parseIpv6('fd7a:115c:a1e0:49d6:b259:b7ac:b1b2:48f4');

const SYN_PACKET = hex(`6000000000180640fd7a115ca1e04a2b1c3d4e5f6a7b8c9dfd7a115ca1e049d6b259b7acb1b248f4
c000000201020304000000006002ffff193b0000020404c4`);
const PTY_PACKET = hex(`6000000000670640fd7a115ca1e04a2b1c3d4e5f6a7b8c9dfd7a115ca1e049d6b259b7acb1b248f4
c0000002010203050a0b0c0e5018ffffd533000051007b224944223a2230303030303030302d3030
30302d343030302d383030302d303030303030303030303031222c22486569676874223a32342c22
5769647468223a38302c22436f6d6d616e64223a22227d`);

function ptyHeader(): Uint8Array {
  const json = Buffer.from('{"ID":"00000000-0000-4000-8000-000000000001","Height":24,"Width":80,"Command":""}');
  const out = Buffer.alloc(2 + json.length);
  out.writeUInt16LE(json.length, 0);
  json.copy(out, 2);
  return out;
}

describe('IPv6 + TCP codecs (spec §4.1–4.3 vectors)', () => {
  it('encodes the SYN vector byte for byte (checksum 0x193b)', () => {
    const tcp = encodeTcp(
      { srcPort: 49152, dstPort: 2, seq: 0x01020304, ack: 0, flags: SYN, window: 65535, urgent: 0, mss: 1220, payload: new Uint8Array(0) },
      SRC,
      DST,
    );
    expect(toHex(encodeIpv6(SRC, DST, 6, tcp))).toBe(toHex(SYN_PACKET));
  });

  it('encodes the PTY-header PSH|ACK vector byte for byte (checksum 0xd533)', () => {
    const tcp = encodeTcp(
      { srcPort: 49152, dstPort: 2, seq: 0x01020305, ack: 0x0a0b0c0e, flags: PSH | ACK, window: 65535, urgent: 0, mss: null, payload: ptyHeader() },
      SRC,
      DST,
    );
    expect(toHex(encodeIpv6(SRC, DST, 6, tcp))).toBe(toHex(PTY_PACKET));
  });

  it('decodes and verifies both vectors', () => {
    const ip = decodeIpv6(SYN_PACKET)!;
    expect(ip.nextHeader).toBe(6);
    const seg = decodeTcp(ip.payload, ip.src, ip.dst)!;
    expect(seg).toMatchObject({ srcPort: 49152, dstPort: 2, seq: 0x01020304, flags: SYN, window: 65535, mss: 1220 });
    const ip2 = decodeIpv6(PTY_PACKET)!;
    const seg2 = decodeTcp(ip2.payload, ip2.src, ip2.dst)!;
    expect(toHex(seg2.payload)).toBe(toHex(ptyHeader()));
    expect(seg2.ack).toBe(0x0a0b0c0e);
  });

  it('rejects a bad checksum and a wrong pseudo-header address', () => {
    const ip = decodeIpv6(SYN_PACKET)!;
    const bad = new Uint8Array(ip.payload);
    bad[4]! ^= 1;
    expect(decodeTcp(bad, ip.src, ip.dst)).toBeNull();
    expect(decodeTcp(ip.payload, ip.dst, ip.src)).not.toBeNull(); // the sum is symmetric in src/dst
    expect(decodeTcp(ip.payload, ip.src, SRC)).toBeNull();
  });

  it('trims trailing bytes beyond the payload length and rejects truncation', () => {
    const padded = new Uint8Array(SYN_PACKET.length + 8);
    padded.set(SYN_PACKET);
    expect(decodeIpv6(padded)!.payload.length).toBe(24);
    expect(decodeIpv6(SYN_PACKET.subarray(0, SYN_PACKET.length - 1))).toBeNull();
    expect(decodeIpv6(new Uint8Array(40).fill(0x45))).toBeNull();
  });

  it('walks options: NOP, unknown kinds, and drops malformed lengths', () => {
    const mk = (opts: number[]): Uint8Array => {
      const hl = 20 + opts.length;
      const b = new Uint8Array(hl);
      b[12] = (hl / 4) << 4;
      b[13] = SYN;
      b.set(opts, 20);
      return b;
    };
    const withChecksum = (b: Uint8Array): Uint8Array => {
      // Checksum over the pseudo-header + segment, as the codec computes it.
      let s = 0;
      const words = (x: Uint8Array): void => {
        for (let i = 0; i < x.length; i += 2) s += (x[i]! << 8) | (x[i + 1] ?? 0);
      };
      words(SRC);
      words(DST);
      s += b.length + 6;
      words(b);
      while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
      const c = ~s & 0xffff;
      b[16] = c >> 8;
      b[17] = c & 0xff;
      return b;
    };
    expect(decodeTcp(withChecksum(mk([1, 1, 2, 4, 0x04, 0xc4])) , SRC, DST)).toBeNull(); // 26-byte header is not a multiple of 4: offset 6 = 24 bytes
    expect(decodeTcp(withChecksum(mk([1, 2, 4, 0x05, 0x00, 1, 1, 1])), SRC, DST)!.mss).toBe(1280);
    expect(decodeTcp(withChecksum(mk([8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1])), SRC, DST)!.mss).toBeNull();
    expect(decodeTcp(withChecksum(mk([30, 0, 1, 1])), SRC, DST)).toBeNull(); // length 0
    expect(decodeTcp(withChecksum(mk([30, 1, 1, 1])), SRC, DST)).toBeNull(); // length 1
    expect(decodeTcp(withChecksum(mk([1, 1, 30, 8])), SRC, DST)).toBeNull(); // runs past the header
    expect(decodeTcp(withChecksum(mk([0, 30, 1, 1])), SRC, DST)!.mss).toBeNull(); // end of list stops parsing
  });

  it('never throws on arbitrary bytes (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (b) => {
        const ip = decodeIpv6(b);
        if (ip) decodeTcp(ip.payload, ip.src, ip.dst);
        decodeTcp(b, SRC, DST);
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips random segments', () => {
    fc.assert(
      fc.property(
        fc.record({
          srcPort: fc.integer({ min: 0, max: 65535 }),
          dstPort: fc.integer({ min: 0, max: 65535 }),
          seq: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
          ack: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
          flags: fc.integer({ min: 0, max: 255 }),
          window: fc.integer({ min: 0, max: 65535 }),
          urgent: fc.constant(0),
          mss: fc.option(fc.integer({ min: 0, max: 65535 })),
          payload: fc.uint8Array({ maxLength: 64 }),
        }),
        (seg) => {
          const out = decodeTcp(encodeTcp(seg, SRC, DST), SRC, DST);
          expect(out).toEqual(seg);
        },
      ),
      { numRuns: 200 },
    );
  });
});
