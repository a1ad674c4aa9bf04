/**
 * Noise_IKpsk2 handshake steps exactly as wireguard-go performs them
 * (spec §1.4–§1.7). Pure: ephemeral keys, indices and timestamps are inputs,
 * so wireguard-go's captured vectors replay byte for byte. mac1/mac2 are
 * added afterwards by cookie.ts.
 *
 *   initiator                                   responder
 *   createInitiation ──── 148 B initiation ───► consumeInitiation
 *   consumeResponse  ◄─── 92 B response ─────── createResponse
 *   keys: send=T1 recv=T2                        keys: send=T2 recv=T1
 */
import { CONSTRUCTION, IDENTIFIER } from './constants.js';
import { type Initiation, type Response, decodeInitiation, decodeResponse, encodeInitiation, encodeResponse } from './messages.js';
import { aeadOpen, aeadSeal, dh, hash, kdf, publicKey } from './primitives.js';

export const C0 = hash(CONSTRUCTION);
export const H0 = hash(C0, IDENTIFIER);
const EMPTY = new Uint8Array(0);
const ZERO_PSK = new Uint8Array(32);
const ZERO_MAC = new Uint8Array(16);

export interface StaticKeys {
  priv: Uint8Array;
  pub: Uint8Array;
}

export interface SessionKeys {
  send: Uint8Array;
  recv: Uint8Array;
}

/** Initiator state kept between createInitiation and consumeResponse. */
export interface InitiatorState {
  chain: Uint8Array;
  hash: Uint8Array;
  ephemeralPriv: Uint8Array;
  localIndex: number;
}

export interface CreateInitiationInput {
  local: StaticKeys;
  remotePub: Uint8Array;
  /** DH(local.priv, remotePub), precomputed per peer. */
  staticShared: Uint8Array;
  ephemeralPriv: Uint8Array;
  localIndex: number;
  timestamp: Uint8Array;
}

/** Builds an initiation (mac fields zero) and the state needed to consume the response. */
export function createInitiation(i: CreateInitiationInput): { message: Uint8Array; state: InitiatorState } {
  let h = hash(H0, i.remotePub);
  const ephPub = publicKey(i.ephemeralPriv);
  let [c] = kdf(1, C0, ephPub);
  h = hash(h, ephPub);
  let k: Uint8Array;
  [c, k] = kdf(2, c, dh(i.ephemeralPriv, i.remotePub));
  const encStatic = aeadSeal(k, 0n, i.local.pub, h);
  h = hash(h, encStatic);
  [c, k] = kdf(2, c, i.staticShared);
  const encTimestamp = aeadSeal(k, 0n, i.timestamp, h);
  h = hash(h, encTimestamp);
  const m: Initiation = {
    sender: i.localIndex,
    ephemeral: ephPub,
    encStatic,
    encTimestamp,
    mac1: ZERO_MAC,
    mac2: ZERO_MAC,
  };
  return {
    message: encodeInitiation(m),
    state: { chain: c, hash: h, ephemeralPriv: i.ephemeralPriv, localIndex: i.localIndex },
  };
}

/** What the responder learns from a valid initiation. */
export interface ConsumedInitiation {
  remotePub: Uint8Array;
  remoteIndex: number;
  remoteEphemeral: Uint8Array;
  timestamp: Uint8Array;
  chain: Uint8Array;
  hash: Uint8Array;
}

/**
 * Decrypts an initiation addressed to `local`. `staticSharedFor` returns the
 * precomputed DH with a known peer, or null for an unknown peer. Returns null
 * on any authentication failure or unknown peer (the caller only drops).
 * Replay/flood checks are the caller's (they need per-peer state).
 */
export function consumeInitiation(
  local: StaticKeys,
  message: Uint8Array,
  staticSharedFor: (remotePub: Uint8Array) => Uint8Array | null,
): ConsumedInitiation | null {
  const m = decodeInitiation(message);
  let h = hash(H0, local.pub);
  h = hash(h, m.ephemeral);
  let [c] = kdf(1, C0, m.ephemeral);
  let k: Uint8Array;
  let ee: Uint8Array;
  try {
    ee = dh(local.priv, m.ephemeral);
  } catch {
    return null;
  }
  [c, k] = kdf(2, c, ee);
  const remotePub = aeadOpen(k, 0n, m.encStatic, h);
  if (!remotePub) return null;
  h = hash(h, m.encStatic);
  const ss = staticSharedFor(remotePub);
  if (!ss) return null;
  [c, k] = kdf(2, c, ss);
  const timestamp = aeadOpen(k, 0n, m.encTimestamp, h);
  if (!timestamp) return null;
  h = hash(h, m.encTimestamp);
  return {
    remotePub: new Uint8Array(remotePub),
    remoteIndex: m.sender,
    remoteEphemeral: new Uint8Array(m.ephemeral),
    timestamp: new Uint8Array(timestamp),
    chain: c,
    hash: h,
  };
}

export interface CreateResponseInput {
  consumed: ConsumedInitiation;
  ephemeralPriv: Uint8Array;
  localIndex: number;
}

/** Builds the response (mac fields zero) and derives the responder's keys (send = T2, recv = T1). */
export function createResponse(i: CreateResponseInput): { message: Uint8Array; keys: SessionKeys; hash: Uint8Array; chain: Uint8Array } {
  const { consumed } = i;
  const ephPub = publicKey(i.ephemeralPriv);
  let h = hash(consumed.hash, ephPub);
  let [c] = kdf(1, consumed.chain, ephPub);
  [c] = kdf(1, c, dh(i.ephemeralPriv, consumed.remoteEphemeral));
  [c] = kdf(1, c, dh(i.ephemeralPriv, consumed.remotePub));
  const [c2, tau, k] = kdf(3, c, ZERO_PSK);
  c = c2;
  h = hash(h, tau);
  const encEmpty = aeadSeal(k, 0n, EMPTY, h);
  h = hash(h, encEmpty);
  const m: Response = {
    sender: i.localIndex,
    receiver: consumed.remoteIndex,
    ephemeral: ephPub,
    encEmpty,
    mac1: ZERO_MAC,
    mac2: ZERO_MAC,
  };
  const [t1, t2] = kdf(2, c, EMPTY);
  return { message: encodeResponse(m), keys: { send: t2, recv: t1 }, hash: h, chain: c };
}

/**
 * Consumes a response to our initiation; null on authentication failure.
 * Initiator keys: send = T1, recv = T2.
 */
export function consumeResponse(
  local: StaticKeys,
  state: InitiatorState,
  message: Uint8Array,
): { keys: SessionKeys; remoteIndex: number; hash: Uint8Array; chain: Uint8Array } | null {
  const m = decodeResponse(message);
  if (m.receiver !== state.localIndex) return null;
  let h = hash(state.hash, m.ephemeral);
  let [c] = kdf(1, state.chain, m.ephemeral);
  try {
    [c] = kdf(1, c, dh(state.ephemeralPriv, m.ephemeral));
    [c] = kdf(1, c, dh(local.priv, m.ephemeral));
  } catch {
    return null;
  }
  const [c2, tau, k] = kdf(3, c, ZERO_PSK);
  c = c2;
  h = hash(h, tau);
  if (!aeadOpen(k, 0n, m.encEmpty, h)) return null;
  h = hash(h, m.encEmpty);
  const [t1, t2] = kdf(2, c, EMPTY);
  return { keys: { send: t1, recv: t2 }, remoteIndex: m.sender, hash: h, chain: c };
}

export function staticKeys(priv: Uint8Array): StaticKeys {
  return { priv, pub: publicKey(priv) };
}
