import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { FrameParser, FrameType, MAX_CLIENT_INFO, encodeFrame } from '../../src/derp/frame.js';
import { isDerpError } from '../../src/derp/errors.js';
import { DerpServer } from '../../src/derp/server.js';
import { seal } from '../../src/derp/box.js';
import { keyPair } from '../../src/derp/key.js';
import { ManualClock } from '../../src/util/clock.js';
import { MemStream } from './memstream.js';
import { frameStream, chunked, fuzzFrames } from './fuzzgen.js';

const RUNS = 200;

describe('FrameParser fuzz', () => {
  it('yields the same frames for any chunking of a valid stream', () => {
    fc.assert(
      fc.property(fuzzFrames, fc.array(fc.integer({ min: 1, max: 70 }), { minLength: 1, maxLength: 20 }), (frames, cuts) => {
        const bytes = frameStream(frames);
        const got: string[] = [];
        const p = new FrameParser(
          () => 1 << 20,
          (t, b) => {
            got.push(t + ':' + b.toString('hex'));
            return true;
          },
        );
        for (const c of chunked(bytes, cuts)) p.push(c);
        expect(got).toEqual(frames.map((f) => f.type + ':' + Buffer.from(f.payload).toString('hex')));
        expect(p.buffered).toBe(0);
      }),
      { numRuns: RUNS },
    );
  });

  it('never throws anything but DerpError and never buffers beyond the limit', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 30 }), fc.integer({ min: 0, max: 4096 }), (chunks, limit) => {
        const p = new FrameParser(
          (t) => (t === 0x0b ? -1 : limit),
          () => true,
        );
        try {
          for (const c of chunks) {
            p.push(Buffer.from(c));
            expect(p.buffered).toBeLessThanOrEqual(limit + 5);
          }
        } catch (e) {
          expect(isDerpError(e)).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

function newServer(clock = new ManualClock()) {
  return new DerpServer({ privateKey: keyPair().privateKey, logger: pino({ level: 'silent' }), registry: new Registry(), clock });
}

describe('server handshake fuzz', () => {
  it('arbitrary bytes before/instead of ClientInfo never crash, activate, or buffer unboundedly', () => {
    const srv = newServer();
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
          fc.tuple(fc.integer({ min: 0, max: 0x20 }), fc.integer({ min: 0, max: 0xffffffff }), fc.uint8Array({ maxLength: 200 })).map(
            ([t, len, rest]) => {
              const h = Buffer.alloc(5);
              h[0] = t;
              h.writeUInt32BE(len, 1);
              return [h, Buffer.from(rest)];
            },
          ),
        ),
        (chunks) => {
          const s = new MemStream();
          srv.accept(s);
          for (const c of chunks) s.feed(Buffer.from(c));
          // Nothing but ServerKey was written: not activated.
          expect(s.out.length).toBe(1);
          expect(srv.connectionCount).toBe(0);
          s.destroy();
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('mutated valid ClientInfo frames are refused or accepted, never crash', () => {
    const srv = newServer();
    const kp = keyPair();
    const good = encodeFrame(FrameType.ClientInfo, kp.publicKey, seal(Buffer.from('{"version":2}'), kp.privateKey, srv.publicKey));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }), (muts) => {
        const f = Buffer.from(good);
        for (const [i, x] of muts) f[i]! ^= x;
        const s = new MemStream();
        srv.accept(s);
        s.feed(f);
        const lenOk = f.readUInt32BE(1) <= MAX_CLIENT_INFO;
        if (muts.length === 0) expect(s.open).toBe(true);
        else if (!lenOk) expect(s.open).toBe(false);
        s.destroy();
      }),
      { numRuns: RUNS },
    );
    expect(srv.connectionCount).toBe(0);
  });

  it('arbitrary frames after the handshake never crash the server', () => {
    const srv = newServer();
    const peerKp = keyPair();
    const peer = new MemStream();
    srv.accept(peer);
    peer.feed(encodeFrame(FrameType.ClientInfo, peerKp.publicKey, seal(Buffer.from('{}'), peerKp.privateKey, srv.publicKey)));
    fc.assert(
      fc.property(fuzzFrames, fc.array(fc.integer({ min: 1, max: 90 }), { minLength: 1, maxLength: 10 }), (frames, cuts) => {
        const kp = keyPair();
        const s = new MemStream();
        srv.accept(s);
        s.feed(encodeFrame(FrameType.ClientInfo, kp.publicKey, seal(Buffer.from('{}'), kp.privateKey, srv.publicKey)));
        expect(srv.connectionCount).toBe(2);
        // Steer some packets at the real peer.
        const fs = frames.map((f) => (f.type === FrameType.SendPacket && f.payload.length >= 32 ? { ...f, payload: Buffer.concat([peerKp.publicKey, f.payload.subarray(32)]) } : f));
        for (const c of chunked(frameStream(fs), cuts)) s.feed(c);
        s.destroy();
        expect(srv.connectionCount).toBe(1);
      }),
      { numRuns: RUNS },
    );
  });
});
