import pino from 'pino';
import { Registry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { AwsVerifier } from '../../src/identity/aws.js';
import { exchangeInstanceId, type InstanceIdentityStore } from '../../src/identity/exchange.js';
import { createInstanceIdentityHandlers, type InstanceIdentityHandlerOptions } from '../../src/identity/handlers.js';
import { ManualClock } from '../../src/util/clock.js';
import { awsStyleCert } from './pki.js';

/** In-memory store for the exchange logic only; end-to-end tests use the real store. */
class FakeStore implements InstanceIdentityStore {
  agents = new Map<string, { agentId: string; buildIsLatest: boolean }>();
  issued: string[] = [];
  lookups: string[] = [];
  fail = false;
  async findNewestAgentByInstanceId(id: string) {
    this.lookups.push(id);
    if (this.fail) throw new Error('db down');
    return this.agents.get(id) ?? null;
  }
  async issueAgentToken(agentId: string) {
    const token = `00000000-0000-4000-8000-${String(this.issued.length).padStart(12, '0')}`;
    this.issued.push(agentId);
    return token;
  }
}

describe('instance-id exchange', () => {
  it('issues a token for the newest agent of the latest build', async () => {
    const store = new FakeStore();
    store.agents.set('i-1', { agentId: 'a1', buildIsLatest: true });
    const r = await exchangeInstanceId(store, 'i-1');
    expect(r).toMatchObject({ status: 200, body: { session_token: '00000000-0000-4000-8000-000000000000' }, reason: 'ok' });
    expect(store.issued).toEqual(['a1']);
  });

  it('answers 404 for an unknown instance and never looks up an empty id', async () => {
    const store = new FakeStore();
    expect(await exchangeInstanceId(store, 'i-x')).toMatchObject({ status: 404, body: { message: 'Instance with id "i-x" not found.' } });
    expect(await exchangeInstanceId(store, '')).toMatchObject({ status: 404, body: { message: 'Instance with id "" not found.' } });
    expect(store.lookups).toEqual(['i-x']);
  });

  it('answers 400 when the agent is not on the latest build, issuing nothing', async () => {
    const store = new FakeStore();
    store.agents.set('i-old', { agentId: 'a0', buildIsLatest: false });
    expect(await exchangeInstanceId(store, 'i-old')).toMatchObject({
      status: 400,
      body: { message: 'Resource found for id "i-old", but isn\'t registered on the latest history.' },
      reason: 'not_latest_build',
    });
    expect(store.issued).toEqual([]);
  });

  it('answers 500 without leaking the store error', async () => {
    const store = new FakeStore();
    store.fail = true;
    const r = await exchangeInstanceId(store, 'i-1');
    expect(r).toMatchObject({ status: 500, body: { message: 'Internal error fetching provisioner job agent.' }, error: 'db down' });
    expect(JSON.stringify(r.body)).not.toContain('db down');
  });
});

describe('instance identity handlers', () => {
  let signer: { pem: string; sign: (doc: string) => string };
  const doc = '{"instanceId":"i-abc","accountId":"123456789012","region":"us-east-1"}';
  beforeAll(async () => {
    signer = await awsStyleCert();
  });

  function setup(over: Partial<InstanceIdentityHandlerOptions> = {}) {
    const store = new FakeStore();
    store.agents.set('i-abc', { agentId: 'agent-1', buildIsLatest: true });
    const registry = new Registry();
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const clock = new ManualClock();
    const handlers = createInstanceIdentityHandlers({
      store,
      aws: new AwsVerifier({ certificates: { test: signer.pem }, replaceDefaults: true }),
      logger,
      registry,
      clock,
      ...over,
    });
    return { store, registry, lines, clock, handlers };
  }

  it('exchanges a valid AWS document for a token (fields read case-insensitively)', async () => {
    const { handlers, registry } = setup();
    const r = await handlers.aws({ Document: doc, SIGNATURE: signer.sign(doc) }, '203.0.113.7');
    expect(r).toEqual({ status: 200, body: { session_token: '00000000-0000-4000-8000-000000000000' } });
    expect(await registry.getSingleMetricAsString('tailnetd_identity_attempts_total')).toContain('cloud="aws",reason="ok"} 1');
  });

  it('validates required fields and types like the Go decoder', async () => {
    const { handlers } = setup();
    expect(await handlers.aws({ document: doc }, '1.1.1.1')).toEqual({
      status: 400,
      body: { message: 'Validation failed.', validations: [{ field: 'signature', detail: 'Validation failed for tag "required" with value: ""' }] },
    });
    expect(await handlers.aws({ document: 1, signature: 'x' }, '1.1.1.1')).toMatchObject({
      status: 400,
      body: { message: 'Request body must be valid JSON.' },
    });
    expect(await handlers.aws([], '1.1.1.1')).toMatchObject({ status: 400, body: { message: 'Request body must be valid JSON.' } });
    expect(await handlers.aws(null, '1.1.1.1')).toMatchObject({ status: 400, body: { message: 'Validation failed.' } });
    expect(await handlers.azure({ encoding: 'pkcs7' }, '1.1.1.1')).toMatchObject({ status: 400 });
    expect(await handlers.google({}, '1.1.1.1')).toMatchObject({
      status: 400,
      body: { validations: [{ field: 'json_web_token' }] },
    });
  });

  it('answers 401 with the spec message and detail on a bad identity and logs the reason, not the document', async () => {
    const { handlers, lines, registry } = setup();
    const r = await handlers.aws({ document: doc, signature: signer.sign(doc + 'x') }, '198.51.100.1');
    expect(r).toEqual({ status: 401, body: { message: 'Invalid AWS identity.', detail: 'crypto/rsa: verification error' } });
    const logged = lines.join('');
    expect(logged).toContain('"reason":"bad_signature"');
    expect(logged).not.toContain('i-abc');
    expect(logged).not.toContain(signer.sign(doc + 'x').slice(0, 20));
    expect(await registry.getSingleMetricAsString('tailnetd_identity_attempts_total')).toContain('reason="bad_signature"} 1');
  });

  it('maps the exchange results: unknown instance 404, old build 400', async () => {
    const { handlers, store } = setup();
    const other = '{"instanceId":"i-zzz"}';
    expect(await handlers.aws({ document: other, signature: signer.sign(other) }, '1.1.1.1')).toEqual({
      status: 404,
      body: { message: 'Instance with id "i-zzz" not found.' },
    });
    store.agents.set('i-abc', { agentId: 'agent-1', buildIsLatest: false });
    expect((await handlers.aws({ document: doc, signature: signer.sign(doc) }, '1.1.1.1')).status).toBe(400);
  });

  it('answers 401 "not enabled" for a cloud without a verifier', async () => {
    const { handlers } = setup();
    expect(await handlers.azure({ encoding: 'pkcs7', signature: 'AAAA' }, '1.1.1.1')).toEqual({
      status: 401,
      body: { message: 'Invalid Azure identity.', detail: 'azure instance identity is not enabled on this server' },
    });
    expect((await handlers.google({ json_web_token: 'a.b.c' }, '1.1.1.1')).body).toMatchObject({ message: 'Invalid GCP identity.' });
  });

  it('rate-limits per source IP with 429, the error envelope and Retry-After, refilling with the clock', async () => {
    const { handlers, clock, registry } = setup({ rateLimit: { ratePerSecond: 0.5, burst: 2 } });
    const body = { document: doc, signature: signer.sign(doc) };
    expect((await handlers.aws(body, '10.0.0.1')).status).toBe(200);
    expect((await handlers.google({}, '10.0.0.1')).status).toBe(400);
    const limited = await handlers.aws(body, '10.0.0.1');
    expect(limited).toEqual({
      status: 429,
      body: { message: 'You have been rate limited. Please try again later.', detail: expect.stringContaining('retry in 2s') },
      headers: { 'Retry-After': '2' },
    });
    expect((await handlers.aws(body, '10.0.0.2')).status).toBe(200);
    clock.advance(2000);
    expect((await handlers.aws(body, '10.0.0.1')).status).toBe(200);
    expect(await registry.getSingleMetricAsString('tailnetd_identity_attempts_total')).toContain('reason="rate_limited"} 1');
  });
});

describe('instance identity handlers: Google and Azure paths', () => {
  it('maps undecodable Google claims to 400 and a good token to a session token', async () => {
    const { exportJWK, generateKeyPair, SignJWT } = await import('jose');
    const { GcpVerifier } = await import('../../src/identity/gcp.js');
    const { staticJwks } = await import('../../src/identity/jwks.js');
    const kp = await generateKeyPair('RS256');
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const gcp = new GcpVerifier({ jwks: staticJwks({ keys: [{ ...(await exportJWK(kp.publicKey)), kid: 'a' }] }), clock });
    const store = new FakeStore();
    store.agents.set('42', { agentId: 'agent-g', buildIsLatest: true });
    const handlers = createInstanceIdentityHandlers({ store, gcp, logger: pino({ level: 'silent' }), registry: new Registry(), clock });
    const sign = (google: unknown): Promise<string> =>
      new SignJWT({ google })
        .setProtectedHeader({ alg: 'RS256', kid: 'a' })
        .setIssuer('https://accounts.google.com')
        .setIssuedAt(clock.now() / 1000)
        .setExpirationTime(clock.now() / 1000 + 600)
        .sign(kp.privateKey);
    expect(await handlers.google({ json_web_token: await sign({ compute_engine: { instance_id: '42' } }) }, '1.1.1.1')).toEqual({
      status: 200,
      body: { session_token: '00000000-0000-4000-8000-000000000000' },
    });
    expect(await handlers.google({ json_web_token: await sign({ compute_engine: { instance_id: 42 } }) }, '1.1.1.1')).toMatchObject({
      status: 400,
      body: { message: 'Error decoding JWT claims.' },
    });
    expect(await handlers.google({ JSON_WEB_TOKEN: 'x.y.z' }, '1.1.1.1')).toMatchObject({
      status: 401,
      body: { message: 'Invalid GCP identity.' },
    });
  });
});
