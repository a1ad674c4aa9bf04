/**
 * The only file that touches node:crypto / @noble/*: the Noise primitives of
 * WireGuard (spec tailnet-peer.md §1.1). Everything else in src/wireguard is
 * built from these, so known-answer tests can pin each one.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { blake2s } from '@noble/hashes/blake2.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { wgError } from './errors.js';

const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
export const KEY_LEN = 32;
export const TAG_LEN = 16;
const ZERO32 = new Uint8Array(32);
const EMPTY = new Uint8Array(0);

/** HASH(x1 ‖ x2 ‖ …): unkeyed BLAKE2s-256. */
export function hash(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('blake2s256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** HMAC-BLAKE2s-256 (RFC 2104, block 64). */
export function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac('blake2s256', key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** MAC(k, x): keyed BLAKE2s (RFC 7693 keyed mode) with 16-byte output. */
export function mac16(key: Uint8Array, data: Uint8Array): Uint8Array {
  return blake2s(data, { key, dkLen: 16 });
}

const ONE = Uint8Array.of(1);
const TWO = Uint8Array.of(2);
const THREE = Uint8Array.of(3);

/** KDF1/2/3 of the Noise spec: HKDF over HMAC-BLAKE2s, returning n outputs. */
export function kdf(n: 1, chain: Uint8Array, input: Uint8Array): [Uint8Array];
export function kdf(n: 2, chain: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array];
export function kdf(n: 3, chain: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array, Uint8Array];
export function kdf(n: 1 | 2 | 3, chain: Uint8Array, input: Uint8Array): Uint8Array[] {
  const prk = hmac(chain, input);
  const t1 = hmac(prk, ONE);
  if (n === 1) return [t1];
  const t2 = hmac(prk, t1, TWO);
  if (n === 2) return [t1, t2];
  return [t1, t2, hmac(prk, t2, THREE)];
}

/** 96-bit ChaCha20-Poly1305 nonce: 4 zero bytes then the counter as u64 LE. */
function nonce12(counter: bigint): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64LE(counter, 4);
  return n;
}

/** AEAD seal: ciphertext ‖ 16-byte tag. */
export function aeadSeal(key: Uint8Array, counter: bigint, plain: Uint8Array, ad: Uint8Array): Uint8Array {
  const c = createCipheriv('chacha20-poly1305', key, nonce12(counter), { authTagLength: TAG_LEN });
  c.setAAD(ad, { plaintextLength: plain.length });
  const body = c.update(plain);
  c.final();
  const out = new Uint8Array(body.length + TAG_LEN);
  out.set(body, 0);
  out.set(c.getAuthTag(), body.length);
  return out;
}

/**
 * Transport seal straight into a datagram: `header` bytes, then
 * AEAD(packet ‖ pad zero bytes) and the tag — one allocation, no padded copy.
 */
export function aeadSealInto(header: Uint8Array, key: Uint8Array, counter: bigint, packet: Uint8Array, pad: number): Uint8Array {
  const len = packet.length + pad;
  const out = new Uint8Array(header.length + len + TAG_LEN);
  out.set(header, 0);
  const c = createCipheriv('chacha20-poly1305', key, nonce12(counter), { authTagLength: TAG_LEN });
  c.setAAD(EMPTY, { plaintextLength: len });
  out.set(c.update(packet), header.length);
  if (pad > 0) out.set(c.update(new Uint8Array(pad)), header.length + packet.length);
  c.final();
  out.set(c.getAuthTag(), header.length + len);
  return out;
}

/** AEAD open; null when authentication fails. */
export function aeadOpen(key: Uint8Array, counter: bigint, sealed: Uint8Array, ad: Uint8Array): Uint8Array | null {
  if (sealed.length < TAG_LEN) return null;
  const bodyLen = sealed.length - TAG_LEN;
  const d = createDecipheriv('chacha20-poly1305', key, nonce12(counter), { authTagLength: TAG_LEN });
  d.setAAD(ad, { plaintextLength: bodyLen });
  d.setAuthTag(sealed.subarray(bodyLen));
  const body = d.update(sealed.subarray(0, bodyLen));
  try {
    d.final();
  } catch {
    return null;
  }
  return new Uint8Array(body.buffer, body.byteOffset, body.length);
}

/** XChaCha20-Poly1305 seal (cookie replies). */
export function xaeadSeal(key: Uint8Array, nonce24: Uint8Array, plain: Uint8Array, ad: Uint8Array): Uint8Array {
  return xchacha20poly1305(key, nonce24, ad).encrypt(plain);
}

/** XChaCha20-Poly1305 open; null when authentication fails. */
export function xaeadOpen(key: Uint8Array, nonce24: Uint8Array, sealed: Uint8Array, ad: Uint8Array): Uint8Array | null {
  try {
    return xchacha20poly1305(key, nonce24, ad).decrypt(sealed);
  } catch {
    return null;
  }
}

/** Clamps a Curve25519 private key in place (RFC 7748 §5) and returns it. */
export function clamp(k: Uint8Array): Uint8Array {
  k[0] = k[0]! & 248;
  k[31] = (k[31]! & 127) | 64;
  return k;
}

export function randomPrivateKey(): Uint8Array {
  return clamp(new Uint8Array(randomBytes(KEY_LEN)));
}

/**
 * Imported private keys by value: a DER import costs ~0.4 ms (OpenSSL's decoder search) and the
 * static key and each ephemeral are used in several DH operations per handshake.
 */
const privateKeys = new Map<string, KeyObject>();
const MAX_PRIVATE_KEYS = 256;

function privateKeyObject(priv: Uint8Array): KeyObject {
  if (priv.length !== KEY_LEN) throw wgError('invalid_key', 'private key must be 32 bytes');
  const id = Buffer.from(priv.buffer, priv.byteOffset, priv.byteLength).toString('base64');
  let key = privateKeys.get(id);
  if (key === undefined) {
    key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, priv]), format: 'der', type: 'pkcs8' });
    if (privateKeys.size >= MAX_PRIVATE_KEYS) privateKeys.delete(privateKeys.keys().next().value!);
    privateKeys.set(id, key);
  }
  return key;
}

function publicKeyObject(pub: Uint8Array): KeyObject {
  if (pub.length !== KEY_LEN) throw wgError('invalid_key', 'public key must be 32 bytes');
  // JWK import builds the key directly; DER goes through OpenSSL's decoder search (~10x slower).
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(pub.buffer, pub.byteOffset, pub.byteLength).toString('base64url') }, format: 'jwk' });
}

/** X25519 public key of a private key. */
export function publicKey(priv: Uint8Array): Uint8Array {
  const der = createPublicKey(privateKeyObject(priv)).export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - KEY_LEN));
}

/** X25519; throws wgError('invalid_key') for low-order points / zero output. */
export function dh(priv: Uint8Array, pub: Uint8Array): Uint8Array {
  let out: Buffer;
  try {
    out = diffieHellman({ privateKey: privateKeyObject(priv), publicKey: publicKeyObject(pub) });
  } catch {
    throw wgError('invalid_key', 'X25519 derivation failed');
  }
  if (constantTimeEqual(out, ZERO32)) throw wgError('invalid_key', 'X25519 result is zero');
  return new Uint8Array(out);
}

export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

export function randomU32(): number {
  return randomBytes(4).readUInt32LE(0);
}

export function randomNonce24(): Uint8Array {
  return new Uint8Array(randomBytes(24));
}

export function randomBytes32(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}
