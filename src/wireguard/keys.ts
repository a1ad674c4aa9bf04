/**
 * Node and disco key pairs and their Tailscale text forms (spec §2.1):
 * privkey:<hex>, nodekey:<hex>, discokey:<hex>.
 */
import { wgError } from './errors.js';
import { publicKey, randomPrivateKey } from './primitives.js';

export interface KeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

export function generateKeyPair(): KeyPair {
  const privateKey = randomPrivateKey();
  return { privateKey, publicKey: publicKey(privateKey) };
}

export function keyPairFromPrivate(privateKey: Uint8Array): KeyPair {
  return { privateKey, publicKey: publicKey(privateKey) };
}

type Prefix = 'privkey:' | 'nodekey:' | 'discokey:';

function format(prefix: Prefix, key: Uint8Array): string {
  if (key.length !== 32) throw wgError('invalid_key', 'key must be 32 bytes');
  return prefix + Buffer.from(key).toString('hex');
}

function parse(prefix: Prefix, text: string): Uint8Array {
  if (!text.startsWith(prefix)) throw wgError('invalid_key', `key must start with ${prefix}`);
  const hex = text.slice(prefix.length);
  if (!/^[0-9a-f]{64}$/.test(hex)) throw wgError('invalid_key', `malformed ${prefix} key`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export const formatPrivateKey = (k: Uint8Array): string => format('privkey:', k);
export const formatNodeKey = (k: Uint8Array): string => format('nodekey:', k);
export const formatDiscoKey = (k: Uint8Array): string => format('discokey:', k);
export const parsePrivateKey = (t: string): Uint8Array => parse('privkey:', t);
export const parseNodeKey = (t: string): Uint8Array => parse('nodekey:', t);
export const parseDiscoKey = (t: string): Uint8Array => parse('discokey:', t);

export function isZeroKey(k: Uint8Array): boolean {
  return k.every((b) => b === 0);
}
