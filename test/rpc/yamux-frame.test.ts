import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { YamuxError } from '../../src/rpc/yamux/errors.js';
import { Flag, FrameType, decodeHeader, encodeHeader } from '../../src/rpc/yamux/frame.js';
import { hex, toHex } from './helpers.js';

describe('yamux header codec', () => {
  it('encodes the spec §1.5 vectors', () => {
    expect(toHex(encodeHeader({ type: FrameType.WindowUpdate, flags: Flag.SYN, streamId: 1, length: 0 }))).toBe('000100010000000100000000');
    expect(toHex(encodeHeader({ type: FrameType.WindowUpdate, flags: Flag.ACK, streamId: 1, length: 0 }))).toBe('000100020000000100000000');
    expect(toHex(encodeHeader({ type: FrameType.Data, flags: 0, streamId: 1, length: 45 }))).toBe('00000000000000010000002d');
    expect(toHex(encodeHeader({ type: FrameType.WindowUpdate, flags: Flag.FIN, streamId: 1, length: 0 }))).toBe('000100040000000100000000');
    expect(toHex(encodeHeader({ type: FrameType.Ping, flags: Flag.ACK, streamId: 0, length: 7 }))).toBe('000200020000000000000007');
    expect(toHex(encodeHeader({ type: FrameType.GoAway, flags: 0, streamId: 0, length: 0 }))).toBe('000300000000000000000000');
  });

  it('decodes the keepalive ping vector', () => {
    expect(decodeHeader(hex('00 02 00 01 00 00 00 00 00 00 00 07'))).toEqual({ type: FrameType.Ping, flags: Flag.SYN, streamId: 0, length: 7 });
  });

  it('decodes full 32-bit stream ids and lengths', () => {
    expect(decodeHeader(hex('00 00 00 00 ff ff ff ff ff ff ff fe'))).toEqual({ type: 0, flags: 0, streamId: 0xffffffff, length: 0xfffffffe });
  });

  it('rejects an unknown version and type', () => {
    expect(() => decodeHeader(hex('01 00 00 00 00 00 00 01 00 00 00 00'))).toThrow(expect.objectContaining({ code: 'bad_version', goAway: 1 }));
    expect(() => decodeHeader(hex('00 04 00 00 00 00 00 01 00 00 00 00'))).toThrow(YamuxError);
  });

  it('masks unknown flag bits like hashicorp/yamux', () => {
    expect(decodeHeader(hex('00 01 ff f1 00 00 00 03 00 00 00 00')).flags).toBe(Flag.SYN);
  });

  it('round-trips any valid header (fuzz)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 15 }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), (type, flags, streamId, length) => {
        const h = { type: type as FrameType, flags, streamId, length };
        expect(decodeHeader(encodeHeader(h))).toEqual(h);
      }),
      { numRuns: 200 },
    );
  });

  it('never throws anything but YamuxError on random bytes (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 12, maxLength: 12 }), (b) => {
        try {
          decodeHeader(b);
        } catch (e) {
          expect(e).toBeInstanceOf(YamuxError);
        }
      }),
      { numRuns: 200 },
    );
  });
});
