import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Random alphanumeric string without modulo bias. */
export function randomAlnum(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 248) out += ALNUM[b % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

export const newId = (): string => randomUUID();

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function equalHex(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}

export const nowIso = (ms: number = Date.now()): string => new Date(ms).toISOString();

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: string): boolean => UUID_RE.test(s);

const HEX32_RE = /^[0-9a-f]{32}$/i;

/**
 * Go's uuid.Parse: the canonical form, `urn:uuid:<canonical>`, `{<canonical>}` or 32 bare hex
 * digits, any case. Returns the canonical lower-case text, or null. coderd looks agent tokens up
 * by UUID value, so every spelling of the same UUID authenticates.
 */
export function parseGoUuid(s: string): string | null {
  let c: string;
  if (s.length === 36) c = s;
  else if (s.length === 45 && s.slice(0, 9).toLowerCase() === 'urn:uuid:') c = s.slice(9);
  else if (s.length === 38 && s[0] === '{' && s[37] === '}') c = s.slice(1, 37);
  else if (s.length === 32 && HEX32_RE.test(s)) c = `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
  else return null;
  return UUID_RE.test(c) ? c.toLowerCase() : null;
}
