import { describe, expect, it } from 'vitest';
import {
  CookieChecker,
  CookieGenerator,
  Keypair,
  constants,
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  decodeCookieReply,
  hash,
  staticKeys,
} from '../../src/wireguard/index.js';
import { V, toHex } from './vectors.js';

const I = staticKeys(V.staticPrivI);
const R = staticKeys(V.staticPrivR);

function buildInitiation() {
  const r = createInitiation({
    local: I,
    remotePub: R.pub,
    staticShared: V.staticShared,
    ephemeralPriv: V.ephPrivI,
    localIndex: V.senderI,
    timestamp: V.timestamp,
  });
  new CookieGenerator(R.pub).addMacs(r.message, 0);
  return r;
}

describe('Noise IKpsk2 known answers (wireguard-go vectors)', () => {
  it('derives the static public keys', () => {
    expect(toHex(I.pub)).toBe(toHex(V.staticPubI));
    expect(toHex(R.pub)).toBe(toHex(V.staticPubR));
  });

  it('initiator builds the initiation byte for byte', () => {
    const { message, state } = buildInitiation();
    expect(toHex(message)).toBe(toHex(V.initiation));
    expect(toHex(state.hash)).toBe(toHex(V.hashAfterInit));
    expect(toHex(state.chain)).toBe(toHex(V.chainAfterInit));
  });

  it('responder consumes the initiation and builds the response byte for byte', () => {
    const checker = new CookieChecker(R.pub);
    expect(checker.checkMac1(V.initiation)).toBe(true);
    const c = consumeInitiation(R, V.initiation, (pub) => (toHex(pub) === toHex(I.pub) ? V.staticShared : null));
    expect(c).not.toBeNull();
    expect(toHex(c!.timestamp)).toBe(toHex(V.timestamp));
    expect(c!.remoteIndex).toBe(V.senderI);
    expect(toHex(c!.hash)).toBe(toHex(V.hashAfterInit));
    expect(toHex(c!.chain)).toBe(toHex(V.chainAfterInit));
    const r = createResponse({ consumed: c!, ephemeralPriv: V.ephPrivR, localIndex: V.senderR });
    new CookieGenerator(I.pub).addMacs(r.message, 0);
    expect(toHex(r.message)).toBe(toHex(V.response));
    expect(toHex(r.hash)).toBe(toHex(V.hashAfterResp));
    expect(toHex(r.chain)).toBe(toHex(V.chainAfterResp));
    expect(toHex(r.keys.recv)).toBe(toHex(V.t1));
    expect(toHex(r.keys.send)).toBe(toHex(V.t2));
  });

  it('initiator consumes the response and derives T1/T2; transport vectors match', () => {
    const { state } = buildInitiation();
    expect(new CookieChecker(I.pub).checkMac1(V.response)).toBe(true);
    const r = consumeResponse(I, state, V.response);
    expect(r).not.toBeNull();
    expect(r!.remoteIndex).toBe(V.senderR);
    expect(toHex(r!.keys.send)).toBe(toHex(V.t1));
    expect(toHex(r!.keys.recv)).toBe(toHex(V.t2));
    const kpI = new Keypair(r!.keys.send, r!.keys.recv, true, 0, V.senderI, V.senderR);
    expect(toHex(kpI.seal(0n, new Uint8Array(0)))).toBe(toHex(V.keepaliveIR));
    expect(toHex(kpI.seal(1n, V.plaintext))).toBe(toHex(V.dataIR1));
    expect(toHex(kpI.open(0n, V.dataRI0)!)).toBe(toHex(V.plaintext));
    const kpR = new Keypair(V.t2, V.t1, false, 0, V.senderR, V.senderI);
    expect(toHex(kpR.seal(0n, V.plaintext))).toBe(toHex(V.dataRI0));
    expect(kpR.open(1n, V.dataIR1)).toEqual(V.plaintext);
  });

  it('cookie reply: responder under load produces it, initiator decrypts it and adds mac2', () => {
    expect(toHex(hash(constants.LABEL_COOKIE, R.pub))).toBe(toHex(V.cookieKeyR));
    const checker = new CookieChecker(R.pub, { randomSecret: () => V.cookieSecretR, randomNonce: () => V.cookieReply.subarray(8, 32) });
    const reply = checker.createReply(V.initiation, V.senderI, V.cookieSource, 0);
    expect(toHex(reply)).toBe(toHex(V.cookieReply));
    const gen = new CookieGenerator(R.pub);
    const { message } = createInitiation({
      local: I, remotePub: R.pub, staticShared: V.staticShared, ephemeralPriv: V.ephPrivI, localIndex: V.senderI, timestamp: V.timestamp,
    });
    gen.addMacs(message, 0);
    expect(toHex(message.subarray(116, 132))).toBe(toHex(V.lastMac1));
    expect(gen.consumeReply(decodeCookieReply(V.cookieReply), 1000)).toBe(true);
    gen.addMacs(message, 2000);
    expect(toHex(message.subarray(0, 132))).toBe(toHex(V.initiation.subarray(0, 132)));
    expect(toHex(message.subarray(132))).toBe(toHex(V.initiationMac2));
    expect(checker.checkMac2(message, V.cookieSource, 2000)).toBe(true);
    // Cookies expire after COOKIE_REFRESH_TIME (120 s): mac2 goes back to zeros.
    gen.addMacs(message, 1000 + 120_001);
    expect(toHex(message.subarray(132))).toBe('0'.repeat(32));
  });

  it('a cookie reply that does not match our last mac1 is rejected', () => {
    const gen = new CookieGenerator(R.pub);
    expect(gen.consumeReply(decodeCookieReply(V.cookieReply), 0)).toBe(false); // no mac1 sent yet
    const msg = new Uint8Array(V.initiation);
    msg[20]! ^= 1;
    gen.addMacs(msg, 0);
    expect(gen.consumeReply(decodeCookieReply(V.cookieReply), 0)).toBe(false);
  });

  it('every flipped field of the initiation is rejected (mac1 first, then AEAD)', () => {
    const checker = new CookieChecker(R.pub);
    for (const off of [4, 8, 40, 88, 116]) {
      const m = new Uint8Array(V.initiation);
      m[off]! ^= 0x01;
      expect(checker.checkMac1(m), `offset ${off}`).toBe(false);
    }
    // Valid mac1 but tampered ciphertext ⇒ AEAD failure.
    for (const off of [8, 40, 88]) {
      const m = new Uint8Array(V.initiation);
      m[off]! ^= 0x01;
      new CookieGenerator(R.pub).addMacs(m, 0);
      expect(checker.checkMac1(m)).toBe(true);
      expect(consumeInitiation(R, m, () => V.staticShared), `offset ${off}`).toBeNull();
    }
  });

  it('an initiation from an unknown static key yields null', () => {
    expect(consumeInitiation(R, V.initiation, () => null)).toBeNull();
  });

  it('a response for another index or tampered is rejected', () => {
    const { state } = buildInitiation();
    expect(consumeResponse(I, { ...state, localIndex: 1 }, V.response)).toBeNull();
    const m = new Uint8Array(V.response);
    m[50]! ^= 1;
    expect(consumeResponse(I, state, m)).toBeNull();
  });
});
