import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityConfigSchema, identityEnvValues, IDENTITY_ENV } from '../../src/identity/config.js';
import { createIdentityVerifiers, identityRateLimit, splitPemBundle } from '../../src/identity/setup.js';
import { ManualClock } from '../../src/util/clock.js';
import { awsStyleCert, makeCert } from './pki.js';

describe('identity config', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tailnetd-identity-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('has safe defaults: all clouds, no fetch, Google JWKS URL, any audience', () => {
    const c = identityConfigSchema.parse({});
    expect(c).toMatchObject({
      clouds: ['aws', 'azure', 'gcp'],
      azureFetchIssuers: false,
      azureIssuerHosts: ['www.microsoft.com', 'cacerts.digicert.com'],
      gcpJwksUrl: 'https://www.googleapis.com/oauth2/v3/certs',
      gcpAudience: [],
      rateLimitPerMinute: 60,
      rateLimitBurst: 60,
    });
    expect(identityRateLimit(c)).toEqual({ ratePerSecond: 1, burst: 60 });
  });

  it('parses the environment forms of every option', () => {
    const env = {
      [IDENTITY_ENV.clouds]: 'aws,gcp',
      [IDENTITY_ENV.awsCertificateFiles]: 'other=/a.pem, govcloud=/b.pem',
      [IDENTITY_ENV.azureFetchIssuers]: 'true',
      [IDENTITY_ENV.gcpAudience]: 'coder',
      [IDENTITY_ENV.rateLimitPerMinute]: '30',
      UNRELATED: 'x',
    };
    const c = identityConfigSchema.parse(identityEnvValues(env));
    expect(c.clouds).toEqual(['aws', 'gcp']);
    expect(c.awsCertificateFiles).toEqual({ other: '/a.pem', govcloud: '/b.pem' });
    expect(c.azureFetchIssuers).toBe(true);
    expect(c.gcpAudience).toEqual(['coder']);
    expect(c.rateLimitPerMinute).toBe(30);
    expect(identityConfigSchema.safeParse({ clouds: 'aws,ibm' }).success).toBe(false);
    expect(identityConfigSchema.safeParse({ awsCertificateFiles: 'nonsense' }).success).toBe(false);
    expect(identityConfigSchema.safeParse({ azureFetchIssuers: 'maybe' }).success).toBe(false);
    expect(identityConfigSchema.safeParse({ gcpJwksUrl: 'file:///etc/passwd' }).success).toBe(false);
  });

  it('builds verifiers from files', async () => {
    const aws = await awsStyleCert();
    const root = await makeCert({ cn: 'R', ca: true });
    const inter = await makeCert({ cn: 'I', ca: true, issuer: root });
    const kp = await generateKeyPair('RS256', { extractable: true });
    await writeFile(join(dir, 'aws.pem'), aws.pem);
    await writeFile(join(dir, 'roots.pem'), root.pem);
    await writeFile(join(dir, 'inter.pem'), inter.pem + root.pem);
    await writeFile(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(kp.publicKey)), kid: 'a' }] }));
    expect(splitPemBundle(inter.pem + root.pem)).toHaveLength(2);
    const config = identityConfigSchema.parse({
      awsCertificateFiles: { mine: join(dir, 'aws.pem') },
      awsReplaceDefaultCertificates: true,
      azureRootsFile: join(dir, 'roots.pem'),
      azureIntermediatesFile: join(dir, 'inter.pem'),
      gcpJwksFile: join(dir, 'jwks.json'),
    });
    const v = await createIdentityVerifiers(config, { clock: new ManualClock(), registry: new Registry() });
    expect(v.aws?.regions()).toEqual(['mine']);
    expect(v.azure).toBeDefined();
    expect(v.gcp).toBeDefined();
    const doc = '{"instanceId":"i-1"}';
    expect(v.aws?.verify(doc, aws.sign(doc)).instanceId).toBe('i-1');

    const only = await createIdentityVerifiers(identityConfigSchema.parse({ clouds: ['gcp'] }), {
      clock: new ManualClock(),
      registry: new Registry(),
    });
    expect(Object.keys(only)).toEqual(['gcp']);
    await writeFile(join(dir, 'empty.pem'), 'nothing');
    await expect(
      createIdentityVerifiers(identityConfigSchema.parse({ azureRootsFile: join(dir, 'empty.pem') }), {
        clock: new ManualClock(),
        registry: new Registry(),
      }),
    ).rejects.toThrow(/no PEM certificates/);
  });
});
