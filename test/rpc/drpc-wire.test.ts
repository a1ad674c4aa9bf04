import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DrpcProtocolError } from '../../src/rpc/drpc/errors.js';
import { PacketReassembler } from '../../src/rpc/drpc/reassembler.js';
import { Kind, decodeErrorBody, encodeErrorBody, encodeFrameInto, encodePacket, frameSize, parseFrame, readUvarint, type Frame } from '../../src/rpc/drpc/wire.js';
import { hex, toHex } from './helpers.js';

const te = new TextEncoder();
const frameBytes = (f: Frame): Uint8Array => {
  const out = new Uint8Array(frameSize(f));
  encodeFrameInto(out, 0, f);
  return out;
};

describe('drpcwire codec', () => {
  it('encodes the §1.5 GetManifest request exactly', () => {
    const name = '/coder.agent.v2.Agent/GetManifest';
    const bytes = Buffer.concat([
      encodePacket({ kind: Kind.Invoke, streamId: 1, messageId: 1, control: false, data: te.encode(name) }),
      encodePacket({ kind: Kind.Message, streamId: 1, messageId: 2, control: false, data: new Uint8Array(0) }),
      encodePacket({ kind: Kind.CloseSend, streamId: 1, messageId: 3, control: false, data: new Uint8Array(0) }),
    ]);
    expect(bytes.length).toBe(45);
    expect(toHex(bytes)).toBe('03010121' + Buffer.from(name).toString('hex') + '05010200' + '0d010300');
  });

  it('encodes the Unimplemented error vector', () => {
    const p = encodePacket({ kind: Kind.Error, streamId: 1, messageId: 1, control: false, data: encodeErrorBody(12, 'Unimplemented') });
    expect(toHex(p)).toBe('07010115' + '000000000000000c' + Buffer.from('Unimplemented').toString('hex'));
    expect(decodeErrorBody(p.subarray(4))).toEqual({ code: 12, message: 'Unimplemented' });
  });

  it('encodes invoke names of the Tailnet service with the spec lengths', () => {
    const inv = (n: string) => toHex(encodePacket({ kind: Kind.Invoke, streamId: 1, messageId: 1, control: false, data: te.encode(n) })).slice(0, 8);
    expect(inv('/coder.tailnet.v2.Tailnet/Coordinate')).toBe('03010124');
    expect(inv('/coder.tailnet.v2.Tailnet/StreamDERPMaps')).toBe('03010128');
  });

  it('short error bodies decode like drpcwire (code 0 + note)', () => {
    expect(decodeErrorBody(te.encode('abc'))).toEqual({ code: 0, message: 'abc (drpcwire note: invalid error data)' });
  });

  it('needs at least 4 bytes and whole varints/data before yielding a frame', () => {
    expect(parseFrame(hex('05 01 02'), 0)).toBeNull();
    expect(parseFrame(hex('05 01 02 03 aa bb'), 0)).toBeNull();
    expect(parseFrame(hex('05 81'), 0)).toBeNull();
    const r = parseFrame(hex('05 01 02 03 aa bb cc ff'), 0)!;
    expect(r.next).toBe(7);
    expect(r.frame).toMatchObject({ kind: Kind.Message, streamId: 1, messageId: 2, done: true, control: false });
  });

  it('reads the control bit and kind from the control byte', () => {
    const f = parseFrame(hex('89 01 02 00'), 0)!.frame;
    expect(f).toMatchObject({ kind: Kind.Cancel, control: true, done: true });
  });

  it('fails on a varint longer than 10 bytes', () => {
    expect(() => readUvarint(hex('ff ff ff ff ff ff ff ff ff ff 01'), 0)).toThrow(expect.objectContaining({ code: 'varint_too_long' }));
    expect(() => parseFrame(hex('05 ff ff ff ff ff ff ff ff ff ff 01 01 00'), 0)).toThrow(DrpcProtocolError);
  });

  it('fails fast on a frame declaring more than 4 MiB', () => {
    expect(() => parseFrame(hex('05 01 01 81 80 80 02'), 0)).toThrow(expect.objectContaining({ code: 'data_overflow' }));
  });

  it('splits large packets into 64 KiB frames and reassembles them', () => {
    const data = Uint8Array.from({ length: 200_000 }, (_, i) => i & 0xff);
    const bytes = encodePacket({ kind: Kind.Message, streamId: 1, messageId: 5, control: false, data });
    const r = new PacketReassembler();
    for (let o = 0; o < bytes.length; o += 1000) r.push(bytes.subarray(o, o + 1000));
    const p = r.next()!;
    expect(p.data.length).toBe(200_000);
    expect(Buffer.from(p.data).equals(Buffer.from(data))).toBe(true);
    expect(r.next()).toBeNull();
  });

  it('enforces id monotonicity and forbids repeating a finished id', () => {
    const r = new PacketReassembler();
    r.push(frameBytes({ kind: Kind.Message, streamId: 1, messageId: 2, done: true, control: false, data: hex('01') }));
    expect(r.next()?.messageId).toBe(2);
    r.push(frameBytes({ kind: Kind.Message, streamId: 1, messageId: 2, done: true, control: false, data: hex('01') }));
    expect(() => r.next()).toThrow(expect.objectContaining({ code: 'id_monotonicity' }));
  });

  it('a higher id discards a partial packet; a kind change inside a packet fails', () => {
    const r = new PacketReassembler();
    r.push(frameBytes({ kind: Kind.Message, streamId: 1, messageId: 1, done: false, control: false, data: hex('aa') }));
    r.push(frameBytes({ kind: Kind.Message, streamId: 1, messageId: 2, done: true, control: false, data: hex('bb') }));
    expect(toHex(r.next()!.data)).toBe('bb');
    const r2 = new PacketReassembler();
    r2.push(frameBytes({ kind: Kind.Message, streamId: 1, messageId: 1, done: false, control: false, data: hex('aa') }));
    r2.push(frameBytes({ kind: Kind.Invoke, streamId: 1, messageId: 1, done: true, control: false, data: hex('bb') }));
    expect(() => r2.next()).toThrow(expect.objectContaining({ code: 'packet_kind_change' }));
  });

  it('caps reassembled packets at the configured size', () => {
    const r = new PacketReassembler(10);
    r.push(frameBytes({ kind: Kind.Message, streamId: 1, messageId: 1, done: false, control: false, data: new Uint8Array(6) }));
    r.push(frameBytes({ kind: Kind.Message, streamId: 1, messageId: 1, done: true, control: false, data: new Uint8Array(6) }));
    expect(() => r.next()).toThrow(expect.objectContaining({ code: 'data_overflow' }));
  });

  it('round-trips packets through arbitrary chunking (fuzz)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ kind: fc.integer({ min: 1, max: 7 }), data: fc.uint8Array({ maxLength: 300 }), control: fc.boolean() }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 128 }),
        (pkts, chunk, split) => {
          const bytes = Buffer.concat(pkts.map((p, i) => encodePacket({ ...p, streamId: 1, messageId: i + 1 }, split)));
          const r = new PacketReassembler();
          const out = [];
          for (let o = 0; o < bytes.length; o += chunk) {
            r.push(bytes.subarray(o, o + chunk));
            for (let p = r.next(); p; p = r.next()) out.push(p);
          }
          expect(out.map((p) => [p.kind, toHex(p.data), p.control])).toEqual(pkts.map((p) => [p.kind, toHex(p.data), p.control]));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('throws only DrpcProtocolError on random input (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const r = new PacketReassembler(1024);
        r.push(b);
        try {
          while (r.next());
        } catch (e) {
          expect(e).toBeInstanceOf(DrpcProtocolError);
        }
      }),
      { numRuns: 300 },
    );
  });
});
