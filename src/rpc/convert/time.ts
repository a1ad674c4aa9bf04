/**
 * RFC 3339 text (v1 JSON `as_of`) ⇄ google.protobuf.Timestamp, exact to the
 * nanosecond and valid for years 0001–9999 (Go's zero time included).
 */
import type { Timestamp } from '../proto/google.js';
import { convertError } from './errors.js';

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Go's zero time.Time (0001-01-01T00:00:00Z) in Unix seconds. */
export const GO_ZERO_TIME_SECONDS = -62135596800;

function utcSeconds(y: number, mo: number, d: number, h: number, mi: number, s: number): number {
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d); // setUTCFullYear keeps years < 100 as written (Date.UTC would add 1900)
  date.setUTCHours(h, mi, s, 0);
  return Math.floor(date.getTime() / 1000);
}

export function rfc3339ToTimestamp(text: string): Timestamp {
  const m = RFC3339.exec(text);
  if (!m) throw convertError('bad_time', `invalid RFC 3339 time ${JSON.stringify(text)}`);
  let seconds = utcSeconds(+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  if (m[9]) {
    const off = (+m[10]! * 60 + +m[11]!) * 60;
    seconds += m[9] === '+' ? -off : off;
  }
  const nanos = m[7] ? Number(m[7].padEnd(9, '0')) : 0;
  return { seconds, nanos };
}

/** Go's time.RFC3339Nano in UTC: trailing fractional zeros trimmed, "Z" suffix. */
export function timestampToRfc3339(ts: Timestamp | undefined): string {
  // A missing proto Timestamp becomes the Unix epoch in Go (AsTime of nil).
  const t = ts ?? { seconds: 0, nanos: 0 };
  const d = new Date(t.seconds * 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  let out = `${p(d.getUTCFullYear(), 4)}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}T${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
  if (t.nanos > 0) out += `.${p(t.nanos, 9).replace(/0+$/, '')}`;
  return `${out}Z`;
}
