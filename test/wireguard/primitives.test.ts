import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { blake2s } from '@noble/hashes/blake2.js';
import { C0, H0, WgError, dh, hash, kdf, mac16, publicKey, xaeadOpen, xaeadSeal } from '../../src/wireguard/index.js';
import { hex, toHex } from './vectors.js';

describe('wireguard primitives', () => {
  it('X25519 matches RFC 7748 §6.1', () => {
    const alice = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const bobPub = hex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    expect(toHex(publicKey(alice))).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(toHex(dh(alice, bobPub))).toBe('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
  });

  it('DH with a low-order (all-zero) public key raises invalid_key', () => {
    const alice = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    let err: unknown;
    try {
      dh(alice, new Uint8Array(32));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WgError);
    expect((err as WgError).code).toBe('invalid_key');
  });

  it('ChaCha20-Poly1305 in node matches RFC 8439 §2.8.2', () => {
    const key = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
    const c = createCipheriv('chacha20-poly1305', key, hex('070000004041424344454647'), { authTagLength: 16 });
    const pt = Buffer.from("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");
    c.setAAD(hex('50515253c0c1c2c3c4c5c6c7'), { plaintextLength: pt.length });
    const ct = c.update(pt);
    c.final();
    expect(ct.subarray(0, 16).toString('hex')).toBe('d31a8d34648e60db7b86afbc53ef7ec2');
    expect(c.getAuthTag().toString('hex')).toBe('1ae10b594f09e26a7e902ecbd0600691');
  });

  it('BLAKE2s matches RFC 7693 and the keyed reference KAT', () => {
    expect(toHex(hash(new TextEncoder().encode('abc')))).toBe('508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982');
    const key = new Uint8Array(32).map((_, i) => i);
    // blake2s-kat.txt, keyed, empty input.
    expect(toHex(blake2s(new Uint8Array(0), { key }))).toBe('48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49');
    expect(mac16(key, new Uint8Array(0))).toHaveLength(16);
  });

  it('C0 and H0 are the WireGuard initial chain key and hash', () => {
    expect(toHex(C0)).toBe('60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36');
    expect(toHex(H0)).toBe('2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3');
  });

  it.each([
    ['746573742d6b6579', '746573742d696e707574', '6f0e5ad38daba1bea8a0d213688736f19763239305e0f58aba697f9ffc41c633', 'df1194df20802a4fe594cde27e92991c8cae66c366e8106aaa937a55fa371e8a', 'fac6e2745a325f5dc5d11a5b165aad08b0ada28e7b4e666b7c077934a4d76c24'],
    ['776972656775617264', '776972656775617264', '491d43bbfdaa8750aaf535e334ecbfe5129967cd64635101c566d4caefda96e8', '1e71a379baefd8a79aa4662212fcafe19a23e2b609a3db7d6bcba8f560e3d25f', '31e1ae48bddfbe5de38f295e5452b1909a1b4e38e183926af3780b0c1e1f0160'],
    ['', '', '8387b46bf43eccfcf349552a095d8315c4055beb90208fb1be23b894bc2ed5d0', '58a0e5f6faefccf4807bff1f05fa8a9217945762040bcec2f4b4a62bdfe0e86e', '0ce6ea98ec548f8e281e93e32db65621c45eb18dc6f0a7ad94178610a2f7338e'],
  ])('KDF3(%s, %s) matches wireguard-go kdf_test', (k, i, t0, t1, t2) => {
    const out = kdf(3, hex(k), hex(i)).map(toHex);
    expect(out).toEqual([t0, t1, t2]);
    expect(kdf(2, hex(k), hex(i)).map(toHex)).toEqual([t0, t1]);
    expect(kdf(1, hex(k), hex(i)).map(toHex)).toEqual([t0]);
  });

  it('XChaCha20-Poly1305 round-trips and rejects a wrong AD', () => {
    const key = new Uint8Array(32).fill(7);
    const nonce = new Uint8Array(24).fill(9);
    const sealed = xaeadSeal(key, nonce, Uint8Array.of(1, 2, 3), Uint8Array.of(4));
    expect(xaeadOpen(key, nonce, sealed, Uint8Array.of(4))).toEqual(Uint8Array.of(1, 2, 3));
    expect(xaeadOpen(key, nonce, sealed, Uint8Array.of(5))).toBeNull();
  });
});
