import { identityError } from './errors.js';

/**
 * Walks BER/DER TLV headers iteratively before any recursive parser sees the bytes,
 * refusing nesting deeper than `maxDepth`, bad lengths and trailing garbage. asn1js
 * recurses per constructed element, so an attacker-built "SEQUENCE of SEQUENCE of ..."
 * would otherwise cost stack and time. Indefinite lengths (BER) are followed too.
 */
export function checkAsn1Shape(bytes: Uint8Array, maxDepth: number): void {
  // Each frame: end offset of the enclosing constructed value, or -1 for indefinite length.
  const ends: number[] = [bytes.length];
  let pos = 0;
  for (;;) {
    const end = ends[ends.length - 1]!;
    if (end >= 0 && pos === end) {
      if (ends.length === 1) return;
      ends.pop();
      continue;
    }
    if (pos >= bytes.length) throw identityError('asn1_invalid', 'asn1: truncated data');
    if (end >= 0 && pos > end) throw identityError('asn1_invalid', 'asn1: element overruns its parent');
    const tagByte = bytes[pos++]!;
    if (end < 0 && tagByte === 0 && bytes[pos] === 0) {
      // End-of-contents of an indefinite-length value.
      pos++;
      ends.pop();
      if (ends.length === 0) throw identityError('asn1_invalid', 'asn1: unexpected end-of-contents');
      continue;
    }
    if ((tagByte & 0x1f) === 0x1f) {
      // High tag number: base-128 continuation bytes, bounded.
      let n = 0;
      while (pos < bytes.length && (bytes[pos]! & 0x80) !== 0) {
        if (++n > 4) throw identityError('asn1_invalid', 'asn1: tag number too large');
        pos++;
      }
      pos++;
    }
    if (pos >= bytes.length) throw identityError('asn1_invalid', 'asn1: truncated header');
    const first = bytes[pos++]!;
    let length: number;
    if (first < 0x80) length = first;
    else if (first === 0x80) length = -1;
    else {
      const count = first & 0x7f;
      if (count > 4 || pos + count > bytes.length) throw identityError('asn1_invalid', 'asn1: bad length');
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + bytes[pos++]!;
    }
    const constructed = (tagByte & 0x20) !== 0;
    if (length < 0 && !constructed) throw identityError('asn1_invalid', 'asn1: indefinite length on primitive');
    if (length >= 0) {
      const valueEnd = pos + length;
      if (valueEnd > bytes.length || (end >= 0 && valueEnd > end)) {
        throw identityError('asn1_invalid', 'asn1: length exceeds data');
      }
      if (!constructed) {
        pos = valueEnd;
        continue;
      }
      if (ends.length > maxDepth) throw identityError('asn1_too_deep', `asn1: nesting deeper than ${maxDepth}`);
      ends.push(valueEnd);
    } else {
      if (ends.length > maxDepth) throw identityError('asn1_too_deep', `asn1: nesting deeper than ${maxDepth}`);
      ends.push(-1);
    }
  }
}
