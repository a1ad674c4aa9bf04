/**
 * Server-to-client WebSocket framing (RFC 6455 §5.2): one unmasked, final,
 * binary frame. Server frames are never masked, so one frame's bytes can be
 * written unchanged to every socket of a fan-out. Pure.
 */
const FIN_BINARY = 0x82;

/** Builds header + UTF-8 payload in a single buffer (payloads up to 64 KiB − 1). */
export function binaryFrameFromText(text: string): Buffer {
  const len = Buffer.byteLength(text);
  if (len > 0xffff) throw new RangeError('frame payload too large');
  const hdr = len < 126 ? 2 : 4;
  const buf = Buffer.allocUnsafe(hdr + len);
  buf[0] = FIN_BINARY;
  if (hdr === 2) {
    buf[1] = len;
  } else {
    buf[1] = 126;
    buf.writeUInt16BE(len, 2);
  }
  buf.write(text, hdr, 'utf8');
  return buf;
}

/**
 * Same bytes as binaryFrameFromText('[' + text + ']') for a text of
 * `textBytes` UTF-8 bytes, written straight into the frame: the joined string
 * would be garbage at once (one per fan-out).
 */
export function binaryFrameFromBracketed(text: string, textBytes: number): Buffer {
  const len = textBytes + 2;
  if (len > 0xffff) throw new RangeError('frame payload too large');
  const hdr = len < 126 ? 2 : 4;
  const buf = Buffer.allocUnsafe(hdr + len);
  buf[0] = FIN_BINARY;
  if (hdr === 2) {
    buf[1] = len;
  } else {
    buf[1] = 126;
    buf.writeUInt16BE(len, 2);
  }
  buf[hdr] = 0x5b; // '['
  buf.write(text, hdr + 1, textBytes, 'utf8');
  buf[hdr + 1 + textBytes] = 0x5d; // ']'
  return buf;
}

/** Payload length of a frame built by binaryFrameFromText. */
export function framePayloadLength(frame: Buffer): number {
  return frame[1] === 126 ? frame.readUInt16BE(2) : (frame[1] as number);
}
