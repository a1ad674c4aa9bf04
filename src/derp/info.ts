/**
 * ClientInfo / ServerInfo JSON as Go encodes/decodes it: field names match
 * case-insensitively, unknown fields are ignored, the mesh key is an opaque
 * string (Coder's keys are 32-char strings, upstream's 64 hex digits).
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { derpError } from './errors.js';
import { PROTOCOL_VERSION } from './frame.js';

export interface ClientInfo {
  meshKey: string;
  version: number;
  canAckPings: boolean;
  isProber: boolean;
  appName: string;
}

export interface ServerInfo {
  version: number;
  tokenBucketBytesPerSecond: number;
  tokenBucketBytesBurst: number;
}

function fields(json: Uint8Array, what: 'bad_client_info' | 'bad_server_info'): Map<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(json.buffer, json.byteOffset, json.length).toString('utf8'));
  } catch {
    throw derpError(what, 'invalid JSON');
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw derpError(what, 'JSON is not an object');
  const m = new Map<string, unknown>();
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) m.set(k.toLowerCase(), val);
  return m;
}

function pick<T>(m: Map<string, unknown>, k: string, type: 'string' | 'number' | 'boolean', zero: T, what: 'bad_client_info' | 'bad_server_info'): T {
  const v = m.get(k);
  if (v === undefined || v === null) return zero;
  if (typeof v !== type) throw derpError(what, `field ${k}: expected ${type}`);
  if (type === 'number' && !Number.isInteger(v)) throw derpError(what, `field ${k}: expected integer`);
  return v as T;
}

export function parseClientInfo(json: Uint8Array): ClientInfo {
  const m = fields(json, 'bad_client_info');
  const w = 'bad_client_info' as const;
  return {
    meshKey: pick(m, 'meshkey', 'string', '', w),
    version: pick(m, 'version', 'number', 0, w),
    canAckPings: pick(m, 'canackpings', 'boolean', false, w),
    isProber: pick(m, 'isprober', 'boolean', false, w),
    appName: pick(m, 'appname', 'string', '', w),
  };
}

/** Field order and omissions as Go's derp client writes them. */
export function encodeClientInfo(i: Partial<ClientInfo>): Buffer {
  const o: Record<string, unknown> = {};
  if (i.meshKey) o['meshKey'] = i.meshKey;
  o['version'] = i.version ?? PROTOCOL_VERSION;
  o['CanAckPings'] = i.canAckPings ?? true;
  if (i.isProber) o['IsProber'] = true;
  if (i.appName) o['AppName'] = i.appName;
  return Buffer.from(JSON.stringify(o));
}

export function parseServerInfo(json: Uint8Array): ServerInfo {
  const m = fields(json, 'bad_server_info');
  const w = 'bad_server_info' as const;
  return {
    version: pick(m, 'version', 'number', 0, w),
    tokenBucketBytesPerSecond: pick(m, 'tokenbucketbytespersecond', 'number', 0, w),
    tokenBucketBytesBurst: pick(m, 'tokenbucketbytesburst', 'number', 0, w),
  };
}

export function encodeServerInfo(i: Partial<ServerInfo> = {}): Buffer {
  const o: Record<string, unknown> = { version: i.version ?? PROTOCOL_VERSION };
  if (i.tokenBucketBytesPerSecond) o['TokenBucketBytesPerSecond'] = i.tokenBucketBytesPerSecond;
  if (i.tokenBucketBytesBurst) o['TokenBucketBytesBurst'] = i.tokenBucketBytesBurst;
  return Buffer.from(JSON.stringify(o));
}

/**
 * Constant-time mesh-key check: both sides are hashed first so the compare
 * never depends on the length or content of the presented key.
 */
export function meshKeyMatches(configured: string | undefined, presented: string): boolean {
  if (!configured || !presented) return false;
  const a = createHash('sha256').update(configured).digest();
  const b = createHash('sha256').update(presented).digest();
  return timingSafeEqual(a, b);
}
