import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, decodeMeta, decodeRec, encodeEnvelope, encodeMeta, encodeRec, MAX_ENVELOPE_BYTES, type Envelope } from '../../../src/coordinator/shard/codec.js';

const rec = { id: 'a', kind: 'agent' as const, name: 'n', node: '{"id":1}', tunnels: ['b'], ver: 3, at: 1 };

describe('shard envelope codec', () => {
  it('round-trips every envelope type', () => {
    const envs: Envelope[] = [
      { v: 1, type: 'hb', epoch: 'e', seq: 1, from: 's' },
      { v: 1, type: 'bye', epoch: 'e', seq: 2, from: 's' },
      { v: 1, type: 'upd', epoch: 'e', seq: 3, from: 's', rec },
      { v: 1, type: 'del', epoch: 'e', seq: 4, from: 's', peer: 'a', ver: 4, graceful: true },
    ];
    for (const e of envs) expect(decodeEnvelope(encodeEnvelope(e))).toEqual({ ok: true, env: e });
    expect(decodeRec(encodeRec(rec))).toEqual(rec);
  });

  it('rejects oversized, corrupt, foreign-version and ill-typed envelopes', () => {
    expect(decodeEnvelope(Buffer.alloc(MAX_ENVELOPE_BYTES + 1))).toEqual({ ok: false, error: 'oversized' });
    expect(decodeEnvelope(Buffer.from([0xdb, 0xff, 0xff]))).toEqual({ ok: false, error: 'corrupt' });
    const p = new Packr({ useRecords: false });
    expect(decodeEnvelope(p.pack({ v: 2, type: 'hb', epoch: 'e', seq: 1, from: 's' }))).toEqual({ ok: false, error: 'schema' });
    expect(decodeEnvelope(p.pack({ v: 1, type: 'upd', epoch: 'e', seq: 1, from: 's', rec: { ...rec, ver: -1 } }))).toEqual({ ok: false, error: 'schema' });
  });

  it('never throws on random bytes (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (b) => {
        const r = decodeEnvelope(Buffer.from(b));
        expect(typeof r.ok).toBe('boolean');
        decodeRec(Buffer.from(b));
      }),
      { numRuns: 2000 },
    );
  });

  it('meta round-trips and rejects junk', () => {
    expect(decodeMeta(encodeMeta({ epoch: 'ab', seq: 7 }))).toEqual({ epoch: 'ab', seq: 7 });
    expect(decodeMeta('x')).toBeNull();
    expect(decodeMeta(':3')).toBeNull();
    expect(decodeMeta(null)).toBeNull();
  });
});
