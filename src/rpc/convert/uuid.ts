/** UUIDs travel as 16 raw bytes in every Coder v2 message. */
import { convertError } from './errors.js';

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function uuidToBytes(id: string): Uint8Array {
  if (!UUID_RE.test(id)) throw convertError('bad_uuid', `invalid UUID ${JSON.stringify(id)}`);
  return Uint8Array.from(Buffer.from(id.replaceAll('-', ''), 'hex'));
}

/** Lower-case canonical text; anything but 16 bytes is an error (Go's uuid.FromBytes). */
export function uuidFromBytes(b: Uint8Array): string {
  if (b.length !== 16) throw convertError('bad_uuid', `invalid UUID (got ${b.length} bytes)`);
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
