import { X509Certificate as X509 } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureVerifier, type AzureVerifierOptions } from '../../src/identity/azure.js';
import { TrustAnchors } from '../../src/identity/chain.js';
import { IdentityError } from '../../src/identity/errors.js';
import { ManualClock } from '../../src/util/clock.js';
import { makeCert, makeSignedData, nestedSequences, type TestCert } from './pki.js';

/** The attested document of Azure's IMDS documentation ("Attested data"), with our ids. */
const CONTENT = JSON.stringify({
  licenseType: 'Windows_Client',
  nonce: '20201130-211924',
  plan: { name: 'planName', product: 'planProduct', publisher: 'planPublisher' },
  sku: 'Windows-Server-2012-R2-Datacenter',
  subscriptionId: '8d10da13-8125-4ba9-a717-bf7490507b3d',
  timeStamp: { createdOn: '11/30/20 21:19:19 -0000', expiresOn: '11/30/20 21:19:24 -0000' },
  vmId: '02aab8a4-74ef-476e-8182-f6d2ba4166a6',
});

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof IdentityError) return `${err.code}: ${err.detail}`;
    throw err;
  }
}

const b64 = (d: Uint8Array): string => Buffer.from(d).toString('base64');

describe('Azure identity verifier', () => {
  let root: TestCert;
  let inter: TestCert;
  let leaf: TestCert;
  let otherRoot: TestCert;
  let server: Server;
  let port = 0;
  const hits: string[] = [];
  let serveBody: () => Buffer = () => Buffer.alloc(0);
  const clock = new ManualClock(Date.UTC(2026, 0, 1));

  beforeAll(async () => {
    root = await makeCert({ cn: 'Test Root', ca: true });
    otherRoot = await makeCert({ cn: 'Other Root', ca: true });
    inter = await makeCert({ cn: 'Test Azure TLS Issuing CA', ca: true, issuer: root });
    server = createServer((req, res) => {
      hits.push(req.url ?? '');
      res.end(serveBody());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
    leaf = await makeCert({
      cn: 'metadata.azure.com',
      issuer: inter,
      notBefore: new Date(Date.UTC(2025, 0, 1)),
      notAfter: new Date(Date.UTC(2027, 0, 1)),
      aia: [`http://localhost:${port}/inter.crt`],
    });
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const verifier = (o: Partial<AzureVerifierOptions> = {}): AzureVerifier =>
    new AzureVerifier({ clock, roots: new TrustAnchors([new X509(root.pem)]), intermediates: [inter.pem], ...o });

  it('returns vmId and subscriptionId of a document signed by a chained metadata certificate', async () => {
    const sig = b64(await makeSignedData({ content: Buffer.from(CONTENT), signer: leaf }));
    await expect(verifier().verify(sig)).resolves.toEqual({
      vmId: '02aab8a4-74ef-476e-8182-f6d2ba4166a6',
      subscriptionId: '8d10da13-8125-4ba9-a717-bf7490507b3d',
    });
  });

  it('accepts signed attributes (messageDigest) and rejects them when the digest does not match', async () => {
    const sig = b64(await makeSignedData({ content: Buffer.from(CONTENT), signer: leaf, signedAttributes: true }));
    expect(await code(verifier().verify(sig))).toBe('ok');
    const wrong = b64(
      await makeSignedData({ content: Buffer.from(CONTENT), signer: leaf, signedAttributes: true, digestOf: Buffer.from('other') }),
    );
    expect(await code(verifier().verify(wrong))).toMatch(/^bad_signature/);
  });

  it('uses intermediates embedded in the envelope as chain candidates only', async () => {
    const sig = b64(await makeSignedData({ content: Buffer.from(CONTENT), signer: leaf, certificates: [leaf, inter] }));
    expect(await code(verifier({ intermediates: [] }).verify(sig))).toBe('ok');
    // A self-made CA embedded by the attacker does not help without a trusted root.
    expect(await code(verifier({ roots: new TrustAnchors([new X509(otherRoot.pem)]) }).verify(sig))).toMatch(
      /^chain_untrusted/,
    );
  });

  it('rejects content signed with a key other than the signer certificate\'s', async () => {
    const stranger = await makeCert({ cn: 'x' });
    const sig = b64(await makeSignedData({ content: Buffer.from(CONTENT), signer: leaf, signingKey: stranger.keys.privateKey }));
    expect(await code(verifier().verify(sig))).toMatch(/^bad_signature/);
  });

  it('rejects tampered content bytes', async () => {
    const der = Buffer.from(await makeSignedData({ content: Buffer.from(CONTENT), signer: leaf }));
    const at = der.indexOf(Buffer.from('02aab8a4'));
    der[at] = '1'.charCodeAt(0);
    expect(await code(verifier().verify(b64(der)))).toMatch(/^bad_signature/);
  });

  it('refuses envelopes where two certificates claim to be the signer', async () => {
    const sig = b64(await makeSignedData({ content: Buffer.from(CONTENT), signer: leaf, certificates: [leaf, leaf] }));
    expect(await code(verifier().verify(sig))).toBe('signer_invalid: ambiguous signer certificate');
  });

  it('rejects a signer whose common name is not a metadata domain', async () => {
    const evil = await makeCert({ cn: 'metadata.azure.com.evil.example', issuer: inter });
    const sig = b64(await makeSignedData({ content: Buffer.from(CONTENT), signer: evil }));
    expect(await code(verifier().verify(sig))).toBe('signer_cn_mismatch: unmatched common name of signer: "metadata.azure.com.evil.example"');
    for (const ok of ['metadata.azure.us', 'eastus.metadata.azure.com', 'metadata.azure.cn', 'metadata.microsoftazure.de']) {
      const c = await makeCert({ cn: ok, issuer: inter });
      expect(await code(verifier().verify(b64(await makeSignedData({ content: Buffer.from(CONTENT), signer: c }))))).toBe('ok');
    }
  });

  it('refuses a signer with two common names', async () => {
    const subject = new pkijs.RelativeDistinguishedNames({
      typesAndValues: ['evil.example', 'metadata.azure.com'].map(
        (v) => new pkijs.AttributeTypeAndValue({ type: '2.5.4.3', value: new asn1js.Utf8String({ value: v }) }),
      ),
    });
    const c = await makeCert({ cn: '', subject, issuer: inter });
    const sig = b64(await makeSignedData({ content: Buffer.from(CONTENT), signer: c }));
    expect(await code(verifier().verify(sig))).toMatch(/^signer_cn_mismatch/);
  });

  it('rejects a chain to an untrusted root and an expired signer', async () => {
    const sig = b64(await makeSignedData({ content: Buffer.from(CONTENT), signer: leaf }));
    expect(await code(verifier({ intermediates: [] }).verify(sig))).toBe('chain_untrusted: verify pkcs7: x509: certificate signed by unknown authority');
    const late = new ManualClock(Date.UTC(2028, 0, 1));
    expect(await code(verifier({ clock: late }).verify(sig))).toMatch(/^chain_untrusted: .*expired/);
  });

  it('rejects deeply nested ASN.1 before parsing it', async () => {
    expect(await code(verifier().verify(b64(nestedSequences(5000))))).toMatch(/^asn1_too_deep/);
  });

  it('rejects malformed base64, non-PKCS#7 data and oversized input', async () => {
    expect(await code(verifier().verify('%%%'))).toBe('bad_base64: decode base64: illegal base64 data');
    expect(await code(verifier().verify(b64(Buffer.from('hello world'))))).toMatch(/^asn1_invalid/);
    expect(await code(verifier().verify(b64(nestedSequences(3))))).toMatch(/^asn1_invalid/);
    expect(await code(verifier().verify('A'.repeat(200_000)))).toMatch(/^input_too_large/);
  });

  it('rejects content that is not JSON', async () => {
    const sig = b64(await makeSignedData({ content: Buffer.from('not json'), signer: leaf }));
    expect(await code(verifier().verify(sig))).toMatch(/^bad_document: unmarshal metadata/);
  });

  it('optionally rejects stale attested documents by timeStamp', async () => {
    const at = (created: string, expires: string): Buffer =>
      Buffer.from(JSON.stringify({ ...JSON.parse(CONTENT), timeStamp: { createdOn: created, expiresOn: expires } }));
    const fresh = b64(await makeSignedData({ content: at('12/31/25 23:59:00 -0000', '01/01/26 05:59:00 -0000'), signer: leaf }));
    const old = b64(await makeSignedData({ content: at('12/31/25 20:00:00 -0000', '01/01/26 02:00:00 -0000'), signer: leaf }));
    const strict = verifier({ maxDocumentAgeMs: 10 * 60_000 });
    expect(await code(strict.verify(fresh))).toBe('ok');
    expect(await code(strict.verify(old))).toBe('document_stale: attested document is too old');
    expect(await code(verifier().verify(old))).toBe('ok'); // off by default, as coderd
    const noStamp = b64(await makeSignedData({ content: Buffer.from('{"vmId":"v"}'), signer: leaf }));
    expect(await code(strict.verify(noStamp))).toMatch(/^document_stale/);
  });

  it('restricts subscriptions when configured', async () => {
    const sig = b64(await makeSignedData({ content: Buffer.from(CONTENT), signer: leaf }));
    expect(await code(verifier({ allowedSubscriptionIds: ['other'] }).verify(sig))).toMatch(/^tenant_not_allowed/);
  });

  describe('issuing-certificate fetch', () => {
    it('is off by default: a hostile AIA URL is never requested', async () => {
      hits.length = 0;
      const sig = b64(await makeSignedData({ content: Buffer.from(CONTENT), signer: leaf }));
      expect(await code(verifier({ intermediates: [] }).verify(sig))).toMatch(/^chain_untrusted/);
      expect(hits).toEqual([]);
    });

    it('when on, refuses hosts off the allow-list and hosts resolving to private addresses', async () => {
      hits.length = 0;
      const sig = b64(await makeSignedData({ content: Buffer.from(CONTENT), signer: leaf }));
      const fetched: string[] = [];
      const onIssuerFetch = (r: string): void => void fetched.push(r);
      expect(await code(verifier({ intermediates: [], fetchIssuers: true, onIssuerFetch }).verify(sig))).toBe(
        'issuer_fetch_refused: issuing certificate URL not on allowlist',
      );
      // Allow-listed name and port, but it resolves to loopback.
      const v = verifier({ intermediates: [], fetchIssuers: true, issuerHosts: ['localhost'], fetch: { allowedPorts: [port] }, onIssuerFetch });
      expect(await code(v.verify(sig))).toBe('issuer_fetch_refused: issuing certificate host resolves to a non-public address');
      // Allow-listed name resolving to a public and a link-local address: refused as a whole.
      const mixed = verifier({
        intermediates: [],
        fetchIssuers: true,
        issuerHosts: ['localhost'],
        fetch: { allowedPorts: [port], resolve: async () => [{ address: '8.8.8.8', family: 4 }, { address: '169.254.169.254', family: 4 }] },
      });
      expect(await code(mixed.verify(sig))).toMatch(/^issuer_fetch_refused/);
      // Default ports only: the test server's port is refused.
      const badPort = verifier({ intermediates: [], fetchIssuers: true, issuerHosts: ['localhost'], fetch: { isBlocked: () => false } });
      expect(await code(badPort.verify(sig))).toBe('issuer_fetch_refused: issuing certificate URL port not allowed');
      expect(hits).toEqual([]);
      expect(fetched).toEqual(['refused', 'refused']);
    });

    it('when on and permitted, fetches the issuer (DER), completes the chain and caches it', async () => {
      hits.length = 0;
      serveBody = () => Buffer.from(inter.der);
      const sig = b64(await makeSignedData({ content: Buffer.from(CONTENT), signer: leaf }));
      const v = verifier({ intermediates: [], fetchIssuers: true, issuerHosts: ['localhost'], fetch: { allowedPorts: [port], isBlocked: () => false } });
      expect(await code(v.verify(sig))).toBe('ok');
      expect(await code(v.verify(sig))).toBe('ok');
      expect(hits).toEqual(['/inter.crt']);
    });

    it('caps the response size and rejects non-certificates without echoing them', async () => {
      const sig = b64(await makeSignedData({ content: Buffer.from(CONTENT), signer: leaf }));
      const opts = { intermediates: [], fetchIssuers: true, issuerHosts: ['localhost'], fetch: { allowedPorts: [port], isBlocked: () => false } };
      serveBody = () => Buffer.alloc(2 << 20, 0x41);
      expect(await code(verifier(opts).verify(sig))).toBe('issuer_fetch_failed: certificate response exceeds maximum size');
      serveBody = () => Buffer.from('secret internal page');
      expect(await code(verifier(opts).verify(sig))).toBe('issuer_fetch_failed: fetched data is not a valid certificate');
      // A fetched certificate that does not chain to a root does not help.
      serveBody = () => Buffer.from(otherRoot.der);
      expect(await code(verifier(opts).verify(sig))).toBe('chain_untrusted: signature verification failed after fetching issuing certificates');
    });
  });

  it('never throws anything but IdentityError on arbitrary bytes (fuzz)', async () => {
    const v = verifier();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), async (bytes) => {
        expect(await code(v.verify(b64(bytes)))).not.toBe('ok');
      }),
      { numRuns: 200 },
    );
  });
});


describe('Azure chain path-length constraints', () => {
  it('refuses a sub-CA below an intermediate whose pathLen is 0, accepts it under pathLen 1', async () => {
    const r = await makeCert({ cn: 'PL Root', ca: true });
    for (const [pathLen, expected] of [[0, /^chain_untrusted/], [1, /^ok$/]] as const) {
      const top = await makeCert({ cn: `PL Top ${pathLen}`, ca: true, pathLen, issuer: r });
      const sub = await makeCert({ cn: `PL Sub ${pathLen}`, ca: true, issuer: top });
      const signer = await makeCert({ cn: 'metadata.azure.com', issuer: sub });
      const v = new AzureVerifier({
        clock: new ManualClock(Date.UTC(2026, 0, 1)),
        roots: new TrustAnchors([new X509(r.pem)]),
        intermediates: [top.pem, sub.pem],
      });
      const sig = b64(await makeSignedData({ content: Buffer.from(CONTENT), signer }));
      expect(await code(v.verify(sig))).toMatch(expected);
    }
  });
});

describe('Azure chain search under attack', () => {
  it('stays bounded when the envelope carries many mutually-signing CA certificates', async () => {
    const realRoot = await makeCert({ cn: 'Real Root', ca: true });
    const keys = (await makeCert({ cn: 'k' })).keys;
    // Seven CA certificates with one name and one key: each "issues" every other.
    const selfRoot = await makeCert({ cn: 'Loop CA', ca: true, keys });
    const loop: TestCert[] = [selfRoot];
    for (let i = 0; i < 6; i++) loop.push(await makeCert({ cn: 'Loop CA', ca: true, keys, issuer: selfRoot }));
    const leaf = await makeCert({ cn: 'metadata.azure.com', issuer: selfRoot });
    const sig = b64(await makeSignedData({ content: Buffer.from(CONTENT), signer: leaf, certificates: [leaf, ...loop] }));
    const v = new AzureVerifier({ clock: new ManualClock(Date.UTC(2026, 0, 1)), roots: new TrustAnchors([new X509(realRoot.pem)]) });
    // Without the signature-check budget this search would walk 7^6 paths.
    expect(await code(v.verify(sig))).toBe('chain_untrusted: verify pkcs7: x509: too many candidate issuers');
    const tooMany = b64(await makeSignedData({ content: Buffer.from(CONTENT), signer: leaf, certificates: [leaf, ...loop, ...loop] }));
    expect(await code(v.verify(tooMany))).toBe('signer_invalid: more than 8 certificates');
  });
});
