/**
 * Byte layouts of the four WireGuard messages (spec §1.3) and classification
 * of a received datagram (§1.3 size rules, §2.2 disco magic). Pure codec.
 */
import {
  MSG_COOKIE_REPLY,
  MSG_INITIATION,
  MSG_RESPONSE,
  MSG_TRANSPORT,
  SIZE_COOKIE_REPLY,
  SIZE_INITIATION,
  SIZE_MIN_MESSAGE,
  SIZE_RESPONSE,
  SIZE_TRANSPORT_HEADER,
} from './constants.js';

export interface Initiation {
  sender: number;
  ephemeral: Uint8Array;
  encStatic: Uint8Array;
  encTimestamp: Uint8Array;
  mac1: Uint8Array;
  mac2: Uint8Array;
}

export interface Response {
  sender: number;
  receiver: number;
  ephemeral: Uint8Array;
  encEmpty: Uint8Array;
  mac1: Uint8Array;
  mac2: Uint8Array;
}

export interface CookieReply {
  receiver: number;
  nonce: Uint8Array;
  encCookie: Uint8Array;
}

export interface TransportHeader {
  receiver: number;
  counter: bigint;
}

export type MessageKind = 'initiation' | 'response' | 'cookie' | 'transport' | 'disco' | 'junk';

const DISCO_MAGIC = Uint8Array.of(0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac);
const DISCO_MIN_LEN = DISCO_MAGIC.length + 32;

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

export function isDisco(b: Uint8Array): boolean {
  if (b.length < DISCO_MIN_LEN) return false;
  for (let i = 0; i < DISCO_MAGIC.length; i++) if (b[i] !== DISCO_MAGIC[i]) return false;
  return true;
}

/** Classifies a datagram as received over DERP (disco first, then WireGuard size rules). */
export function classify(b: Uint8Array): MessageKind {
  if (isDisco(b)) return 'disco';
  if (b.length < SIZE_MIN_MESSAGE) return 'junk';
  if (b[1] !== 0 || b[2] !== 0 || b[3] !== 0) return 'junk';
  switch (b[0]) {
    case MSG_INITIATION:
      return b.length === SIZE_INITIATION ? 'initiation' : 'junk';
    case MSG_RESPONSE:
      return b.length === SIZE_RESPONSE ? 'response' : 'junk';
    case MSG_COOKIE_REPLY:
      return b.length === SIZE_COOKIE_REPLY ? 'cookie' : 'junk';
    case MSG_TRANSPORT:
      return 'transport';
    default:
      return 'junk';
  }
}

/** Encodes an initiation; mac1/mac2 are written as given (usually zero, then filled by cookie.ts). */
export function encodeInitiation(m: Initiation): Uint8Array {
  const out = new Uint8Array(SIZE_INITIATION);
  const v = view(out);
  v.setUint32(0, MSG_INITIATION, true);
  v.setUint32(4, m.sender, true);
  out.set(m.ephemeral, 8);
  out.set(m.encStatic, 40);
  out.set(m.encTimestamp, 88);
  out.set(m.mac1, 116);
  out.set(m.mac2, 132);
  return out;
}

export function decodeInitiation(b: Uint8Array): Initiation {
  const v = view(b);
  return {
    sender: v.getUint32(4, true),
    ephemeral: b.subarray(8, 40),
    encStatic: b.subarray(40, 88),
    encTimestamp: b.subarray(88, 116),
    mac1: b.subarray(116, 132),
    mac2: b.subarray(132, 148),
  };
}

export function encodeResponse(m: Response): Uint8Array {
  const out = new Uint8Array(SIZE_RESPONSE);
  const v = view(out);
  v.setUint32(0, MSG_RESPONSE, true);
  v.setUint32(4, m.sender, true);
  v.setUint32(8, m.receiver, true);
  out.set(m.ephemeral, 12);
  out.set(m.encEmpty, 44);
  out.set(m.mac1, 60);
  out.set(m.mac2, 76);
  return out;
}

export function decodeResponse(b: Uint8Array): Response {
  const v = view(b);
  return {
    sender: v.getUint32(4, true),
    receiver: v.getUint32(8, true),
    ephemeral: b.subarray(12, 44),
    encEmpty: b.subarray(44, 60),
    mac1: b.subarray(60, 76),
    mac2: b.subarray(76, 92),
  };
}

export function encodeCookieReply(m: CookieReply): Uint8Array {
  const out = new Uint8Array(SIZE_COOKIE_REPLY);
  view(out).setUint32(0, MSG_COOKIE_REPLY, true);
  view(out).setUint32(4, m.receiver, true);
  out.set(m.nonce, 8);
  out.set(m.encCookie, 32);
  return out;
}

export function decodeCookieReply(b: Uint8Array): CookieReply {
  return { receiver: view(b).getUint32(4, true), nonce: b.subarray(8, 32), encCookie: b.subarray(32, 64) };
}

export function encodeTransportHeader(out: Uint8Array, receiver: number, counter: bigint): void {
  const v = view(out);
  v.setUint32(0, MSG_TRANSPORT, true);
  v.setUint32(4, receiver, true);
  v.setBigUint64(8, counter, true);
}

export function decodeTransportHeader(b: Uint8Array): TransportHeader {
  const v = view(b);
  return { receiver: v.getUint32(4, true), counter: v.getBigUint64(8, true) };
}

export { SIZE_TRANSPORT_HEADER };
