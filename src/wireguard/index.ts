/**
 * WireGuard (Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s) as wireguard-go speaks it,
 * without I/O. See Device for the entry point; noise/cookie/messages/replay
 * are the pure layers beneath it.
 */
export { Device, systemRandom, type DeviceOptions, type DeviceRandom } from './device.js';
export { WgPeer, type PeerConfig, type PeerEvent } from './peer.js';
export { WgError, wgError, type WgErrorCode } from './errors.js';
export * as constants from './constants.js';
export {
  type StaticKeys,
  type SessionKeys,
  type InitiatorState,
  type ConsumedInitiation,
  C0,
  H0,
  createInitiation,
  consumeInitiation,
  createResponse,
  consumeResponse,
  staticKeys,
} from './noise.js';
export { CookieGenerator, CookieChecker, type CookieCheckerOptions } from './cookie.js';
export {
  classify,
  isDisco,
  type MessageKind,
  encodeInitiation,
  decodeInitiation,
  encodeResponse,
  decodeResponse,
  encodeCookieReply,
  decodeCookieReply,
  decodeTransportHeader,
} from './messages.js';
export { ReplayFilter, REPLAY_WINDOW } from './replay.js';
export { Keypair, paddingSize } from './keypair.js';
export { tai64nFromMs, tai64nFromParts, compareTai64n, bumpTai64n, monotonicTai64n } from './tai64n.js';
export {
  type KeyPair,
  generateKeyPair,
  keyPairFromPrivate,
  formatPrivateKey,
  formatNodeKey,
  formatDiscoKey,
  parsePrivateKey,
  parseNodeKey,
  parseDiscoKey,
  isZeroKey,
} from './keys.js';
export { type Prefix6, parsePrefix6, parseIpv6, formatIpv6, prefixContains } from './allowed-ips.js';
export { hash, hmac, mac16, kdf, aeadSeal, aeadOpen, xaeadSeal, xaeadOpen, dh, publicKey, clamp, randomPrivateKey } from './primitives.js';
