import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK, type JWTPayload, type CryptoKey } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IdentityError } from '../../src/identity/errors.js';
import { GcpVerifier, type GcpVerifierOptions } from '../../src/identity/gcp.js';
import { RemoteJwks, staticJwks } from '../../src/identity/jwks.js';
import { ManualClock } from '../../src/util/clock.js';

const NOW_S = Math.floor(Date.UTC(2026, 0, 1) / 1000);

/** Claims of a "full" format Compute Engine identity token, as Google's documentation shows them. */
function claims(over: Record<string, unknown> = {}): JWTPayload {
  return {
    aud: 'coder',
    azp: '118252451812543245219',
    email: '1234567890-compute@developer.gserviceaccount.com',
    email_verified: true,
    exp: NOW_S + 3600,
    google: {
      compute_engine: {
        instance_creation_timestamp: 1700000000,
        instance_id: '5983420156219372817',
        instance_name: 'coder-workspace',
        project_id: 'my-project',
        project_number: 1234567890,
        zone: 'us-central1-a',
      },
    },
    iat: NOW_S,
    iss: 'https://accounts.google.com',
    sub: '118252451812543245219',
    ...over,
  };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof IdentityError) return `${err.code}: ${err.detail}`;
    throw err;
  }
}

const b64url = (s: string | Buffer): string => Buffer.from(s).toString('base64url');

describe('Google identity verifier', () => {
  let key: CryptoKey;
  let jwk: JWK;
  let key2: CryptoKey;
  let jwk2: JWK;
  let server: Server;
  let url = '';
  let served: JWK[] = [];
  let hits = 0;
  let failing = false;
  let clock: ManualClock;

  beforeAll(async () => {
    const p1 = await generateKeyPair('RS256', { extractable: true });
    key = p1.privateKey;
    jwk = { ...(await exportJWK(p1.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    const p2 = await generateKeyPair('RS256', { extractable: true });
    key2 = p2.privateKey;
    jwk2 = { ...(await exportJWK(p2.publicKey)), kid: 'k2', alg: 'RS256', use: 'sig' };
    server = createServer((_req, res) => {
      hits++;
      if (failing) {
        res.statusCode = 503;
        res.end();
        return;
      }
      res.setHeader('cache-control', 'public, max-age=600');
      res.end(JSON.stringify({ keys: served }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth2/v3/certs`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    served = [jwk];
    hits = 0;
    failing = false;
    clock = new ManualClock(NOW_S * 1000 + 5000);
  });

  const sign = (payload: JWTPayload, k: CryptoKey = key, kid = 'k1'): Promise<string> =>
    new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(k);
  const verifier = (o: Partial<GcpVerifierOptions> = {}): GcpVerifier =>
    new GcpVerifier({ jwks: new RemoteJwks({ url, clock }), clock, ...o });

  it('accepts a Google-signed token with any audience by default and reads the documented claims', async () => {
    const v = verifier();
    await expect(v.verify(await sign(claims()))).resolves.toEqual({ instanceId: '5983420156219372817', projectId: 'my-project' });
    await expect(v.verify(await sign(claims({ aud: 'somebody-else' })))).resolves.toMatchObject({ instanceId: '5983420156219372817' });
    await expect(v.verify(await sign(claims({ iss: 'accounts.google.com' })))).resolves.toBeDefined();
  });

  it('checks the audience in strict mode', async () => {
    const v = verifier({ audience: ['coder'] });
    expect(await code(v.verify(await sign(claims())))).toBe('ok');
    expect(await code(v.verify(await sign(claims({ aud: 'other' }))))).toMatch(/^jwt_claims_rejected: idtoken: aud/);
  });

  it('rejects expired tokens (10 s skew), foreign issuers and tokens without exp', async () => {
    const v = verifier();
    expect(await code(v.verify(await sign(claims({ exp: NOW_S - 20 }))))).toBe('jwt_expired: idtoken: token expired');
    expect(await code(v.verify(await sign(claims({ exp: NOW_S + 1 }))))).toBe('ok');
    expect(await code(v.verify(await sign(claims({ iss: 'https://evil.example' }))))).toMatch(/^jwt_claims_rejected: idtoken: iss/);
    const { exp: _exp, ...noExp } = claims();
    expect(await code(v.verify(await sign(noExp)))).toMatch(/^jwt_claims_rejected/);
  });

  it('rejects a token signed by another key under a known kid', async () => {
    expect(await code(verifier().verify(await sign(claims(), key2, 'k1')))).toBe('bad_signature: idtoken: invalid token signature');
  });

  it('rejects alg none and HS256 keyed with the public key', async () => {
    const payload = b64url(JSON.stringify(claims()));
    const none = `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${payload}.`;
    expect(await code(verifier().verify(none))).toMatch(/^jwt_invalid/);
    const pubPem = await exportSPKI((await import('node:crypto')).createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' }));
    for (const secret of [pubPem, JSON.stringify(jwk)]) {
      const head = b64url(JSON.stringify({ alg: 'HS256', kid: 'k1', typ: 'JWT' }));
      const mac = createHmac('sha256', secret).update(`${head}.${payload}`).digest('base64url');
      expect(await code(verifier().verify(`${head}.${payload}.${mac}`))).toBe('jwt_invalid: idtoken: algorithm not allowed');
    }
  });

  it('rejects garbage and oversized tokens', async () => {
    expect(await code(verifier().verify('a.b.c'))).toMatch(/^jwt_invalid/);
    expect(await code(verifier().verify('x'.repeat(20_000)))).toMatch(/^input_too_large/);
  });

  it('reports undecodable claims as claims_invalid (400 upstream) and restricts projects', async () => {
    const bad = claims({ google: { compute_engine: { instance_id: 5 } } });
    expect(await code(verifier().verify(await sign(bad)))).toMatch(/^claims_invalid/);
    expect(await code(verifier().verify(await sign(claims({ google: 'x' }))))).toMatch(/^claims_invalid/);
    expect(await code(verifier({ allowedProjectIds: ['other'] }).verify(await sign(claims())))).toMatch(/^tenant_not_allowed/);
    await expect(verifier().verify(await sign(claims({ google: undefined })))).resolves.toEqual({ instanceId: '', projectId: '' });
  });

  it('caches the JWKS for its max-age, then refreshes; unknown kids refresh at most once per cooldown', async () => {
    const results: string[] = [];
    const jwks = new RemoteJwks({ url, clock, onRefresh: (r) => void results.push(r) });
    const v = new GcpVerifier({ jwks, clock });
    const t = await sign(claims());
    await v.verify(t);
    await v.verify(t);
    expect(hits).toBe(1);
    clock.advance(601_000);
    await v.verify(await sign(claims({ exp: NOW_S + 7200 })));
    expect(hits).toBe(2);
    // Google rotates: a token with a new kid triggers one refresh.
    served = [jwk, jwk2];
    clock.advance(31_000);
    expect(await code(v.verify(await sign(claims({ exp: NOW_S + 7200 }), key2, 'k2')))).toBe('ok');
    expect(hits).toBe(3);
    // Unknown kid within the cooldown: no new fetch.
    expect(await code(v.verify(await sign(claims({ exp: NOW_S + 7200 }), key2, 'k9')))).toMatch(/^jwt_invalid/);
    expect(hits).toBe(3);
    expect(results).toEqual(['ok', 'ok', 'ok']);
  });

  it('keeps the last keys when a refresh fails, and reports unavailability when it never had any', async () => {
    const jwks = new RemoteJwks({ url, clock });
    const v = new GcpVerifier({ jwks, clock });
    await v.verify(await sign(claims()));
    failing = true;
    clock.advance(700_000);
    expect(await code(v.verify(await sign(claims({ exp: NOW_S + 7200 }))))).toBe('ok');
    const before = hits;
    await v.verify(await sign(claims({ exp: NOW_S + 7200 })));
    expect(hits).toBe(before); // no refetch within the cooldown
    const cold = new GcpVerifier({ jwks: new RemoteJwks({ url, clock }), clock });
    expect(await code(cold.verify(await sign(claims({ exp: NOW_S + 7200 }))))).toBe('jwks_unavailable: Google signing keys are unavailable');
    expect(await code(cold.verify(await sign(claims({ exp: NOW_S + 7200 }))))).toBe('jwks_unavailable: Google signing keys are unavailable');
    expect(hits).toBe(before + 1);
    failing = false;
    clock.advance(31_000);
    expect(await code(cold.verify(await sign(claims({ exp: NOW_S + 7200 }))))).toBe('ok');
  });

  it('works offline from a JWKS file', async () => {
    const v = new GcpVerifier({ jwks: staticJwks({ keys: [jwk] }), clock });
    expect(await code(v.verify(await sign(claims())))).toBe('ok');
    expect(hits).toBe(0);
  });
});
