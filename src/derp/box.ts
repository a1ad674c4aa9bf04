/**
 * NaCl crypto_box (curve25519-xsalsa20-poly1305) as used by the DERP
 * handshake: X25519 from node:crypto, HSalsa20 key derivation and
 * XSalsa20-Poly1305 from @noble/ciphers. Wire form: nonce(24) ‖ tag(16) ‖ ct.
 */
import { diffieHellman, randomBytes, type KeyObject } from 'node:crypto';
import { hsalsa, xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import { derpError } from './errors.js';
import { NONCE_LEN, isZeroKey } from './frame.js';
import { privateKeyObject, publicKeyObject } from './key.js';

const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);

/** crypto_box_beforenm: HSalsa20(X25519(my, their), 0^16). Throws on zero/low-order keys. */
export function boxKey(myPriv: KeyObject | Uint8Array, theirPub: KeyObject | Uint8Array): Buffer {
  if (theirPub instanceof Uint8Array && isZeroKey(theirPub)) throw derpError('bad_key', 'zero public key');
  let shared: Buffer;
  try {
    shared = diffieHellman({
      privateKey: myPriv instanceof Uint8Array ? privateKeyObject(myPriv) : myPriv,
      publicKey: theirPub instanceof Uint8Array ? publicKeyObject(theirPub) : theirPub,
    });
  } catch {
    throw derpError('bad_key', 'X25519 failed (low-order key?)');
  }
  if (isZeroKey(shared)) throw derpError('bad_key', 'low-order public key');
  const k = new Uint32Array(8);
  for (let i = 0; i < 8; i++) k[i] = shared.readUInt32LE(i * 4);
  const out = new Uint32Array(8);
  hsalsa(SIGMA, k, new Uint32Array(4), out);
  const res = Buffer.allocUnsafe(32);
  for (let i = 0; i < 8; i++) res.writeUInt32LE(out[i]!, i * 4);
  return res;
}

/** Random nonces are cut from a pool: one CSPRNG call per 256 seals instead of one each (~15 µs). */
const NONCES_PER_POOL = 256;
let noncePool = Buffer.alloc(0);
let nonceOff = 0;

function freshNonce(): Buffer {
  if (nonceOff === noncePool.length) {
    // A new pool each time, never refilled: earlier nonces may still be referenced.
    noncePool = randomBytes(NONCE_LEN * NONCES_PER_POOL);
    nonceOff = 0;
  }
  const n = noncePool.subarray(nonceOff, nonceOff + NONCE_LEN);
  nonceOff += NONCE_LEN;
  return n;
}

export function sealWithKey(key: Uint8Array, msg: Uint8Array, nonce: Uint8Array = freshNonce()): Buffer {
  const ct = xsalsa20poly1305(key, nonce).encrypt(msg);
  const out = Buffer.allocUnsafe(NONCE_LEN + ct.length);
  out.set(nonce, 0);
  out.set(ct, NONCE_LEN);
  return out;
}

export function openWithKey(key: Uint8Array, sealed: Uint8Array): Buffer {
  if (sealed.length < NONCE_LEN + 16) throw derpError('box_open_failed', 'box too short');
  try {
    const pt = xsalsa20poly1305(key, sealed.subarray(0, NONCE_LEN)).decrypt(sealed.subarray(NONCE_LEN));
    return Buffer.from(pt.buffer, pt.byteOffset, pt.length);
  } catch {
    throw derpError('box_open_failed', 'box authentication failed');
  }
}

export function seal(
  msg: Uint8Array,
  myPriv: KeyObject | Uint8Array,
  theirPub: KeyObject | Uint8Array,
  nonce?: Uint8Array,
): Buffer {
  return sealWithKey(boxKey(myPriv, theirPub), msg, nonce);
}

export function open(sealed: Uint8Array, myPriv: KeyObject | Uint8Array, theirPub: KeyObject | Uint8Array): Buffer {
  return openWithKey(boxKey(myPriv, theirPub), sealed);
}
