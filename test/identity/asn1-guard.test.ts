import * as asn1js from 'asn1js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkAsn1Shape } from '../../src/identity/asn1-guard.js';
import { IdentityError } from '../../src/identity/errors.js';
import { nestedSequences } from './pki.js';

function result(bytes: Uint8Array, depth = 40): string {
  try {
    checkAsn1Shape(bytes, depth);
    return 'ok';
  } catch (err) {
    if (err instanceof IdentityError) return err.code;
    throw err;
  }
}

describe('ASN.1 shape guard', () => {
  it('accepts nesting up to the limit and refuses deeper', () => {
    expect(result(nestedSequences(40))).toBe('ok');
    expect(result(nestedSequences(41))).toBe('asn1_too_deep');
    expect(result(nestedSequences(3_000))).toBe('asn1_too_deep');
  });

  it('follows BER indefinite lengths, including unterminated ones', () => {
    // SEQUENCE (indefinite) { NULL } EOC
    expect(result(new Uint8Array([0x30, 0x80, 0x05, 0x00, 0x00, 0x00]))).toBe('ok');
    expect(result(new Uint8Array([0x30, 0x80, 0x05, 0x00]))).toBe('asn1_invalid');
    const deep = new Uint8Array(2 * 100).map((_, i) => (i % 2 === 0 ? 0x30 : 0x80));
    expect(result(deep)).toBe('asn1_too_deep');
  });

  it('refuses lengths beyond the data or the parent', () => {
    expect(result(new Uint8Array([0x04, 0x05, 0x01]))).toBe('asn1_invalid');
    expect(result(new Uint8Array([0x30, 0x02, 0x04, 0x05, 0x01, 0x02, 0x03, 0x04, 0x05]))).toBe('asn1_invalid');
    expect(result(new Uint8Array([0x04, 0x85, 1, 0, 0, 0, 0]))).toBe('asn1_invalid');
  });

  it('agrees with asn1js on well-formed DER and never throws anything else on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const r = result(bytes);
        expect(['ok', 'asn1_invalid', 'asn1_too_deep']).toContain(r);
      }),
      { numRuns: 500 },
    );
    const der = new Uint8Array(new asn1js.Sequence({ value: [new asn1js.Integer({ value: 5 }), new asn1js.Set({ value: [new asn1js.Utf8String({ value: 'x' })] })] }).toBER(false));
    expect(result(der)).toBe('ok');
  });
});
