/**
 * Long fuzz run for the DERP frame parser and the server's handshake/frame
 * handling (not part of npm test):
 *
 *   node --import tsx bench/fuzz/derp-frame.ts [runs=100000]
 */
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { FrameParser, FrameType, encodeFrame } from '../../src/derp/frame.js';
import { isDerpError } from '../../src/derp/errors.js';
import { DerpServer } from '../../src/derp/server.js';
import { seal } from '../../src/derp/box.js';
import { keyPair } from '../../src/derp/key.js';
import { ManualClock } from '../../src/util/clock.js';
import { MemStream } from '../../test/derp/memstream.js';
import { chunked, frameStream, fuzzFrames } from '../../test/derp/fuzzgen.js';

const runs = Number(process.argv[2] ?? 100_000);

function check(name: string, prop: fc.IProperty<unknown[]> | fc.IAsyncProperty<unknown[]>, n: number): void {
  const t0 = performance.now();
  fc.assert(prop as fc.IProperty<unknown[]>, { numRuns: n });
  console.log(`${name}: ${n} cases ok in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

const cuts = fc.array(fc.integer({ min: 1, max: 90 }), { minLength: 1, maxLength: 16 });

check(
  'parser: chunking invariance',
  fc.property(fuzzFrames, cuts, (frames, cs) => {
    const got: string[] = [];
    const p = new FrameParser(
      () => 1 << 20,
      (t, b) => {
        got.push(t + ':' + b.toString('hex'));
        return true;
      },
    );
    for (const c of chunked(frameStream(frames), cs)) p.push(c);
    const want = frames.map((f) => f.type + ':' + f.payload.toString('hex'));
    if (got.join() !== want.join() || p.buffered !== 0) throw new Error('mismatch');
  }),
  runs,
);

check(
  'parser: arbitrary bytes, bounded buffering, typed errors only',
  fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 30 }), fc.integer({ min: 0, max: 4096 }), (chunks, limit) => {
    const p = new FrameParser(
      (t) => (t === 0x0b ? -1 : limit),
      () => true,
    );
    try {
      for (const c of chunks) {
        p.push(Buffer.from(c));
        if (p.buffered > limit + 5) throw new Error('unbounded buffering');
      }
    } catch (e) {
      if (!isDerpError(e)) throw e;
    }
  }),
  runs,
);

const srv = new DerpServer({ privateKey: keyPair().privateKey, logger: pino({ level: 'silent' }), registry: new Registry(), clock: new ManualClock() });
check(
  'server: arbitrary pre-handshake input never activates',
  fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), (chunks) => {
    const s = new MemStream();
    srv.accept(s);
    for (const c of chunks) s.feed(Buffer.from(c));
    if (s.out.length !== 1 || srv.connectionCount !== 0) throw new Error('activated on garbage');
    s.destroy();
  }),
  runs,
);

const kp = keyPair();
const clientInfo = encodeFrame(FrameType.ClientInfo, kp.publicKey, seal(Buffer.from('{"version":2}'), kp.privateKey, srv.publicKey));
check(
  'server: arbitrary frames after the handshake',
  fc.property(fuzzFrames, cuts, (frames, cs) => {
    const s = new MemStream();
    srv.accept(s);
    s.feed(clientInfo);
    for (const c of chunked(frameStream(frames), cs)) s.feed(c);
    s.destroy();
    if (srv.connectionCount !== 0) throw new Error('leaked connection');
  }),
  Math.max(1000, Math.floor(runs / 10)), // each case does an X25519 handshake
);
