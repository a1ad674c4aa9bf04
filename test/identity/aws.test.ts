import { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { AwsVerifier } from '../../src/identity/aws.js';
import { AWS_DEFAULT_CERTIFICATES } from '../../src/identity/certs/aws-regions.js';
import { IdentityError } from '../../src/identity/errors.js';
import { awsStyleCert } from './pki.js';

/** The example document of AWS's "Instance identity documents" page, with our ids. */
const DOC = `{
  "accountId" : "123456789012",
  "architecture" : "x86_64",
  "availabilityZone" : "us-east-1a",
  "billingProducts" : null,
  "devpayProductCodes" : null,
  "marketplaceProductCodes" : null,
  "imageId" : "ami-0123456789abcdef0",
  "instanceId" : "i-1234567890abcdef0",
  "instanceType" : "t2.micro",
  "kernelId" : null,
  "pendingTime" : "2023-03-01T12:34:56Z",
  "privateIp" : "10.0.0.12",
  "ramdiskId" : null,
  "region" : "us-east-1",
  "version" : "2017-09-30"
}`;

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof IdentityError) return `${err.code}: ${err.detail}`;
    throw err;
  }
  return 'ok';
}

describe('AWS identity verifier', () => {
  let signer: { pem: string; sign: (doc: string) => string };
  let other: { pem: string; sign: (doc: string) => string };
  beforeAll(async () => {
    signer = await awsStyleCert();
    other = await awsStyleCert();
  });

  it('ships the published regional certificates intact (each verifies its own signature)', () => {
    expect(Object.keys(AWS_DEFAULT_CERTIFICATES)).toEqual(
      expect.arrayContaining(['other', 'hongkong', 'bahrain', 'capetown', 'milan', 'china', 'govcloud', 'hyderabad', 'jakarta', 'melbourne', 'spain', 'zurich', 'telaviv', 'uae']),
    );
    for (const pem of Object.values(AWS_DEFAULT_CERTIFICATES)) {
      const cert = new X509Certificate(pem);
      expect(cert.publicKey.asymmetricKeyType).toBe('rsa');
      expect(cert.verify(cert.publicKey)).toBe(true);
    }
    expect(new AwsVerifier().regions()).toHaveLength(14);
  });

  it('accepts a document signed by an operator-supplied regional certificate and reads the documented fields', () => {
    const v = new AwsVerifier({ certificates: { 'us-test-1': signer.pem } });
    expect(v.verify(DOC, signer.sign(DOC))).toEqual({ instanceId: 'i-1234567890abcdef0', region: 'us-test-1', accountId: '123456789012' });
  });

  it('overrides a default region by label and can drop the defaults', () => {
    const v = new AwsVerifier({ certificates: { other: signer.pem } });
    expect(v.regions()).toHaveLength(14);
    expect(v.verify(DOC, signer.sign(DOC)).region).toBe('other');
    expect(new AwsVerifier({ certificates: { mine: signer.pem }, replaceDefaults: true }).regions()).toEqual(['mine']);
  });

  it('rejects a signature by an unconfigured key with the Go RSA error', () => {
    const v = new AwsVerifier({ certificates: { 'us-test-1': signer.pem } });
    expect(codeOf(() => v.verify(DOC, other.sign(DOC)))).toBe('bad_signature: crypto/rsa: verification error');
  });

  it('verifies the exact bytes: re-serialised or tampered documents fail', () => {
    const v = new AwsVerifier({ certificates: { r: signer.pem } });
    const sig = signer.sign(DOC);
    expect(codeOf(() => v.verify(JSON.stringify(JSON.parse(DOC)), sig))).toMatch(/^bad_signature/);
    expect(codeOf(() => v.verify(DOC.replace('i-1234567890abcdef0', 'i-1234567890abcdef1'), sig))).toMatch(/^bad_signature/);
    expect(codeOf(() => v.verify(DOC + ' ', sig))).toMatch(/^bad_signature/);
  });

  it('parses the document before checking the signature, with coderd-style details', () => {
    const v = new AwsVerifier({ certificates: { r: signer.pem } });
    expect(codeOf(() => v.verify('{not json', 'AAAA'))).toMatch(/^bad_document: parse document: /);
    expect(codeOf(() => v.verify('[1,2]', 'AAAA'))).toBe('bad_document: parse document: not a JSON object');
    expect(codeOf(() => v.verify('{"instanceId": 5}', 'AAAA'))).toMatch(/^bad_document: parse document: json: cannot unmarshal number/);
    expect(codeOf(() => v.verify(DOC, 'not base64!'))).toBe('bad_base64: decode signature: illegal base64 data');
    expect(codeOf(() => v.verify(DOC, 'AAA'))).toBe('bad_base64: decode signature: illegal base64 data');
  });

  it('reads instanceId case-insensitively, last key winning, as Go does', () => {
    const v = new AwsVerifier({ certificates: { r: signer.pem } });
    const doc = '{"INSTANCEID":"i-a","instanceid":"i-b"}';
    expect(v.verify(doc, signer.sign(doc)).instanceId).toBe('i-b');
  });

  it('accepts base64 with line breaks (Go StdEncoding skips CR/LF)', () => {
    const v = new AwsVerifier({ certificates: { r: signer.pem } });
    const wrapped = signer.sign(DOC).replace(/(.{64})/g, '$1\n');
    expect(v.verify(DOC, wrapped).instanceId).toBe('i-1234567890abcdef0');
  });

  it('bounds document and signature sizes', () => {
    const v = new AwsVerifier({ certificates: { r: signer.pem } });
    expect(codeOf(() => v.verify(`{"a":"${'x'.repeat(20_000)}"}`, 'AAAA'))).toMatch(/^input_too_large/);
    expect(codeOf(() => v.verify(DOC, 'A'.repeat(8_000)))).toMatch(/^input_too_large/);
  });

  it('restricts account ids when configured', () => {
    const v = new AwsVerifier({ certificates: { r: signer.pem }, allowedAccountIds: ['999999999999'] });
    expect(codeOf(() => v.verify(DOC, signer.sign(DOC)))).toMatch(/^tenant_not_allowed/);
  });

  it('never throws anything but IdentityError on arbitrary input (fuzz)', () => {
    const v = new AwsVerifier({ certificates: { r: signer.pem } });
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 400 }), (doc, sig) => {
        expect(codeOf(() => v.verify(doc, sig))).not.toBe('ok');
      }),
      { numRuns: 150 },
    );
  });
});
