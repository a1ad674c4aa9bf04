import { identityError } from './errors.js';
import { isJsonObject, readStringField } from './fields.js';

/**
 * Optional freshness check of an Azure attested document's `timeStamp`
 * ({"createdOn": "11/30/20 21:19:19 -0000", "expiresOn": "..."}; MM/DD/YY HH:MM:SS ±hhmm).
 * The Go agent fetches a new document for every exchange, so an operator can bound
 * replay of a leaked document by its age. Off unless a maximum age is configured.
 */

const STAMP = /^(\d{2})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/;
const SKEW_MS = 60_000;

export function parseAzureTimestamp(text: string): number | null {
  const m = STAMP.exec(text.trim());
  if (!m) return null;
  const [, mo, d, y, h, mi, s, sign, oh, om] = m;
  const utc = Date.UTC(2000 + Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const offset = (Number(oh) * 60 + Number(om)) * 60_000 * (sign === '-' ? -1 : 1);
  return Number.isNaN(utc) ? null : utc - offset;
}

export function checkAzureFreshness(content: Record<string, unknown>, nowMs: number, maxAgeMs: number): void {
  let stamp: Record<string, unknown> | null = null;
  for (const key of Object.keys(content)) if (key.toLowerCase() === 'timestamp' && isJsonObject(content[key])) stamp = content[key] as Record<string, unknown>;
  const field = (name: string): number | null => {
    const r = stamp ? readStringField(stamp, name) : { kind: 'missing' as const };
    return r.kind === 'string' ? parseAzureTimestamp(r.value) : null;
  };
  const created = field('createdOn');
  const expires = field('expiresOn');
  if (created === null) throw identityError('document_stale', 'attested document has no valid timeStamp.createdOn');
  if (created > nowMs + SKEW_MS) throw identityError('document_stale', 'attested document is from the future');
  if (nowMs - created > maxAgeMs) throw identityError('document_stale', 'attested document is too old');
  if (expires !== null && expires + SKEW_MS < nowMs) throw identityError('document_stale', 'attested document has expired');
}
