/**
 * mac1/mac2 and cookies (spec §1.8, wireguard-go cookie.go).
 * CookieGenerator: per remote peer — stamps outgoing handshake messages and
 * consumes cookie replies. CookieChecker: our side — verifies mac1 of
 * incoming handshakes and, when a responder chooses to be "under load",
 * checks mac2 and builds cookie replies.
 */
import { COOKIE_REFRESH_TIME_MS, LABEL_COOKIE, LABEL_MAC1 } from './constants.js';
import { type CookieReply, encodeCookieReply } from './messages.js';
import { constantTimeEqual, hash, mac16, randomBytes32, randomNonce24, xaeadOpen, xaeadSeal } from './primitives.js';

const MAC_LEN = 16;
const ZERO_MAC = new Uint8Array(MAC_LEN);

export class CookieGenerator {
  private readonly mac1Key: Uint8Array;
  private readonly cookieKey: Uint8Array;
  private lastMac1: Uint8Array | null = null;
  private cookie: Uint8Array | null = null;
  private cookieSetAt = 0;

  constructor(remoteStaticPub: Uint8Array) {
    this.mac1Key = hash(LABEL_MAC1, remoteStaticPub);
    this.cookieKey = hash(LABEL_COOKIE, remoteStaticPub);
  }

  /** Writes mac1 and mac2 into the last 32 bytes of a handshake message, in place. */
  addMacs(msg: Uint8Array, nowMs: number): void {
    const l = msg.length;
    const m1 = mac16(this.mac1Key, msg.subarray(0, l - 2 * MAC_LEN));
    msg.set(m1, l - 2 * MAC_LEN);
    this.lastMac1 = m1;
    if (this.cookie && nowMs - this.cookieSetAt <= COOKIE_REFRESH_TIME_MS) {
      msg.set(mac16(this.cookie, msg.subarray(0, l - MAC_LEN)), l - MAC_LEN);
    } else {
      msg.set(ZERO_MAC, l - MAC_LEN);
    }
  }

  /** Decrypts a cookie reply to our last handshake message; false if it does not authenticate. */
  consumeReply(reply: CookieReply, nowMs: number): boolean {
    if (!this.lastMac1) return false;
    const cookie = xaeadOpen(this.cookieKey, reply.nonce, reply.encCookie, this.lastMac1);
    if (!cookie || cookie.length !== MAC_LEN) return false;
    this.cookie = cookie;
    this.cookieSetAt = nowMs;
    return true;
  }

  hasFreshCookie(nowMs: number): boolean {
    return this.cookie !== null && nowMs - this.cookieSetAt <= COOKIE_REFRESH_TIME_MS;
  }
}

export interface CookieCheckerOptions {
  /** 32-byte secret source; injectable for known-answer tests. */
  randomSecret?: () => Uint8Array;
  randomNonce?: () => Uint8Array;
}

export class CookieChecker {
  private readonly mac1Key: Uint8Array;
  private readonly encKey: Uint8Array;
  private secret: Uint8Array | null = null;
  private secretSetAt = 0;
  private readonly randomSecret: () => Uint8Array;
  private readonly randomNonce: () => Uint8Array;

  constructor(ownStaticPub: Uint8Array, opts: CookieCheckerOptions = {}) {
    this.mac1Key = hash(LABEL_MAC1, ownStaticPub);
    this.encKey = hash(LABEL_COOKIE, ownStaticPub);
    this.randomSecret = opts.randomSecret ?? randomBytes32;
    this.randomNonce = opts.randomNonce ?? randomNonce24;
  }

  checkMac1(msg: Uint8Array): boolean {
    const l = msg.length;
    const want = mac16(this.mac1Key, msg.subarray(0, l - 2 * MAC_LEN));
    return constantTimeEqual(want, msg.subarray(l - 2 * MAC_LEN, l - MAC_LEN));
  }

  checkMac2(msg: Uint8Array, source: Uint8Array, nowMs: number): boolean {
    if (!this.secret || nowMs - this.secretSetAt > COOKIE_REFRESH_TIME_MS) return false;
    const cookie = mac16(this.secret, source);
    const l = msg.length;
    return constantTimeEqual(mac16(cookie, msg.subarray(0, l - MAC_LEN)), msg.subarray(l - MAC_LEN));
  }

  /** Builds the cookie reply for a handshake message from `source` (opaque address bytes). */
  createReply(msg: Uint8Array, receiver: number, source: Uint8Array, nowMs: number): Uint8Array {
    if (!this.secret || nowMs - this.secretSetAt > COOKIE_REFRESH_TIME_MS) {
      this.secret = this.randomSecret();
      this.secretSetAt = nowMs;
    }
    const cookie = mac16(this.secret, source);
    const l = msg.length;
    const mac1 = msg.subarray(l - 2 * MAC_LEN, l - MAC_LEN);
    const nonce = this.randomNonce();
    return encodeCookieReply({ receiver, nonce, encCookie: xaeadSeal(this.encKey, nonce, cookie, mac1) });
  }
}
