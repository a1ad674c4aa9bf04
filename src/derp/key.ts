/**
 * Curve25519 node keys: raw 32-byte values plus the Go text forms
 * (`nodekey:<hex>`, `privkey:<hex>`), node:crypto KeyObjects, and the
 * derper-style key file (`{"PrivateKey":"privkey:<hex>"}`).
 */
import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { derpError } from './errors.js';
import { KEY_LEN, isZeroKey } from './frame.js';

const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const HEX64 = /^[0-9a-fA-F]{64}$/;

export function privateKeyObject(priv: Uint8Array): KeyObject {
  if (priv.length !== KEY_LEN) throw derpError('bad_key', 'private key must be 32 bytes');
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, priv]), format: 'der', type: 'pkcs8' });
}

export function publicKeyObject(pub: Uint8Array): KeyObject {
  if (pub.length !== KEY_LEN) throw derpError('bad_key', 'public key must be 32 bytes');
  // JWK import builds the key directly; DER goes through OpenSSL's decoder search (~10x slower,
  // and it is on every DERP handshake).
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(pub.buffer, pub.byteOffset, pub.byteLength).toString('base64url') }, format: 'jwk' });
}

export function publicFromPrivate(priv: Uint8Array): Buffer {
  const der = createPublicKey(privateKeyObject(priv)).export({ format: 'der', type: 'spki' });
  return Buffer.from(der.subarray(der.length - KEY_LEN));
}

/** 32 random bytes, clamped like Go's key.NewNode. */
export function generatePrivateKey(): Buffer {
  const b = randomBytes(KEY_LEN);
  b[0]! &= 248;
  b[31] = (b[31]! & 127) | 64;
  return b;
}

function parseTyped(prefix: string, s: string): Buffer {
  const t = s.trim();
  if (!t.startsWith(prefix) || !HEX64.test(t.slice(prefix.length))) {
    throw derpError('bad_key', `expected ${prefix}<64 hex digits>`);
  }
  return Buffer.from(t.slice(prefix.length), 'hex');
}

export const formatNodePublic = (k: Uint8Array): string => 'nodekey:' + Buffer.from(k).toString('hex');
export const formatPrivate = (k: Uint8Array): string => 'privkey:' + Buffer.from(k).toString('hex');
export const parseNodePublic = (s: string): Buffer => parseTyped('nodekey:', s);
export const parsePrivate = (s: string): Buffer => parseTyped('privkey:', s);
/** `[` + first 5 base64 chars + `]`, Go's ShortString for logs. */
export const shortKey = (k: Uint8Array): string => '[' + Buffer.from(k).toString('base64').slice(0, 5) + ']';

export interface NodeKeyPair {
  readonly privateKey: Buffer;
  readonly publicKey: Buffer;
}

export function keyPair(priv?: Uint8Array): NodeKeyPair {
  const privateKey = priv ? Buffer.from(priv) : generatePrivateKey();
  return { privateKey, publicKey: publicFromPrivate(privateKey) };
}

/**
 * Reads the server key file or creates it (mode 0600, atomic rename). Format
 * is derper's JSON, so a derper key file can be reused and vice versa.
 */
export function loadOrCreateServerKey(path: string): NodeKeyPair {
  let text: string | null = null;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (text !== null) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw derpError('bad_key', `${path}: not JSON`);
    }
    const pk = parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>)['PrivateKey'] : undefined;
    if (typeof pk !== 'string') throw derpError('bad_key', `${path}: missing PrivateKey`);
    const priv = parsePrivate(pk);
    if (isZeroKey(priv)) throw derpError('bad_key', `${path}: zero private key`);
    return keyPair(priv);
  }
  const kp = keyPair();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify({ PrivateKey: formatPrivate(kp.privateKey) }) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
  return kp;
}
