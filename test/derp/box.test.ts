import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { boxKey, open, seal } from '../../src/derp/box.js';
import {
  formatNodePublic,
  loadOrCreateServerKey,
  parseNodePublic,
  parsePrivate,
  publicFromPrivate,
  shortKey,
  keyPair,
} from '../../src/derp/key.js';
import { encodeFrame, FrameType } from '../../src/derp/frame.js';
import { encodeClientInfo, encodeServerInfo, meshKeyMatches, parseClientInfo } from '../../src/derp/info.js';
import { isDerpError } from '../../src/derp/errors.js';
import { V, hex } from './vectors.js';

describe('keys', () => {
  it('derives the spec public keys', () => {
    expect(publicFromPrivate(hex(V.serverPriv)).toString('hex')).toBe(V.serverPub);
    expect(publicFromPrivate(hex(V.clientPriv)).toString('hex')).toBe(V.clientPub);
    expect(publicFromPrivate(hex(V.client2Priv)).toString('hex')).toBe(V.client2Pub);
  });
  it('round-trips text forms and rejects malformed ones', () => {
    const k = hex(V.clientPub);
    expect(formatNodePublic(k)).toBe('nodekey:' + V.clientPub);
    expect(parseNodePublic('nodekey:' + V.clientPub.toUpperCase()).equals(k)).toBe(true);
    expect(() => parseNodePublic('nodekey:abc')).toThrow();
    expect(() => parsePrivate('nodekey:' + V.clientPub)).toThrow();
    expect(shortKey(k)).toMatch(/^\[.{5}\]$/);
  });
  it('creates the key file once and reloads it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'derpkey-'));
    const path = join(dir, 'sub', 'derper.key');
    const a = loadOrCreateServerKey(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ PrivateKey: 'privkey:' + a.privateKey.toString('hex') });
    const b = loadOrCreateServerKey(path);
    expect(b.publicKey.equals(a.publicKey)).toBe(true);
    writeFileSync(path, '{"PrivateKey":"privkey:' + V.serverPriv + '"}');
    expect(loadOrCreateServerKey(path).publicKey.toString('hex')).toBe(V.serverPub);
    writeFileSync(path, 'garbage');
    expect(() => loadOrCreateServerKey(path)).toThrow();
    rmSync(dir, { recursive: true, force: true });
  });
  it('clamps generated keys', () => {
    const { privateKey } = keyPair();
    expect(privateKey[0]! & 7).toBe(0);
    expect(privateKey[31]! & 0xc0).toBe(0x40);
  });
});

describe('crypto_box', () => {
  it('derives the spec box key from both sides', () => {
    expect(boxKey(hex(V.clientPriv), hex(V.serverPub)).toString('hex')).toBe(V.boxKey);
    expect(boxKey(hex(V.serverPriv), hex(V.clientPub)).toString('hex')).toBe(V.boxKey);
  });
  it('reproduces the ClientInfo and ServerInfo frames', () => {
    const ci = seal(Buffer.from('{"version":2,"CanAckPings":true}'), hex(V.clientPriv), hex(V.serverPub), hex(V.clientInfoNonce));
    expect(encodeFrame(FrameType.ClientInfo, hex(V.clientPub), ci).toString('hex')).toBe(V.clientInfoFrame);
    const si = seal(encodeServerInfo(), hex(V.serverPriv), hex(V.clientPub), hex(V.serverInfoNonce));
    expect(encodeFrame(FrameType.ServerInfo, si).toString('hex')).toBe(V.serverInfoFrame);
  });
  it('opens the spec ClientInfo on the server side', () => {
    const f = hex(V.clientInfoFrame);
    const json = open(f.subarray(5 + 32), hex(V.serverPriv), f.subarray(5, 37));
    expect(parseClientInfo(json)).toEqual({ meshKey: '', version: 2, canAckPings: true, isProber: false, appName: '' });
  });
  it('refuses tampered boxes, zero and low-order keys', () => {
    const f = hex(V.clientInfoFrame);
    f[f.length - 1]! ^= 1;
    expect(() => open(f.subarray(37), hex(V.serverPriv), hex(V.clientPub))).toThrow(/authentication/);
    const code = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (e) {
        return isDerpError(e) ? e.code : 'other';
      }
      return undefined;
    };
    expect(code(() => boxKey(hex(V.serverPriv), Buffer.alloc(32)))).toBe('bad_key');
    const lowOrder = Buffer.alloc(32);
    lowOrder[0] = 1;
    expect(code(() => boxKey(hex(V.serverPriv), lowOrder))).toBe('bad_key');
  });
});

describe('ClientInfo JSON', () => {
  it('matches field names case-insensitively and ignores unknown fields', () => {
    expect(parseClientInfo(Buffer.from('{}'))).toMatchObject({ version: 0, meshKey: '' });
    expect(parseClientInfo(Buffer.from('{"Version":5,"MeshKey":"abc","Extra":[1]}'))).toMatchObject({ version: 5, meshKey: 'abc' });
    expect(parseClientInfo(Buffer.from('{"version":5,"meshKey":"abc","isprober":true}'))).toMatchObject({
      version: 5,
      meshKey: 'abc',
      isProber: true,
    });
  });
  it('rejects non-objects and wrong types', () => {
    expect(() => parseClientInfo(Buffer.from('[]'))).toThrow();
    expect(() => parseClientInfo(Buffer.from('{"version":"2"}'))).toThrow();
    expect(() => parseClientInfo(Buffer.from('{'))).toThrow();
  });
  it('encodes like a Go client', () => {
    expect(encodeClientInfo({}).toString()).toBe('{"version":2,"CanAckPings":true}');
    expect(encodeServerInfo().toString()).toBe('{"version":2}');
  });
  it('compares mesh keys of any shape', () => {
    expect(meshKeyMatches('a'.repeat(32), 'a'.repeat(32))).toBe(true);
    expect(meshKeyMatches('a'.repeat(32), 'a'.repeat(31))).toBe(false);
    expect(meshKeyMatches(undefined, 'x')).toBe(false);
    expect(meshKeyMatches('x', '')).toBe(false);
  });
});
