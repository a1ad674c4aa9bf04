/**
 * Test PKI built with pkijs and WebCrypto: a root CA, intermediates, leaves (optionally
 * with an AIA caIssuers URL) and CMS SignedData envelopes. Nothing here touches the network.
 */
import { createSign, webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

type CryptoKeyPair = webcrypto.CryptoKeyPair;
type CryptoKey = webcrypto.CryptoKey;
const subtle = webcrypto.subtle;
const ALG = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;
let serial = 1000;

export interface TestCert {
  cert: pkijs.Certificate;
  keys: CryptoKeyPair;
  der: Uint8Array;
  pem: string;
}

export async function rsaKeys(bits = 2048): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(
    { ...ALG, modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]) },
    true,
    ['sign', 'verify'],
  )) as CryptoKeyPair;
}

function name(cn: string, org = 'Test'): pkijs.RelativeDistinguishedNames {
  return new pkijs.RelativeDistinguishedNames({
    typesAndValues: [
      new pkijs.AttributeTypeAndValue({ type: '2.5.4.10', value: new asn1js.Utf8String({ value: org }) }),
      new pkijs.AttributeTypeAndValue({ type: '2.5.4.3', value: new asn1js.Utf8String({ value: cn }) }),
    ],
  });
}

export function toPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN CERTIFICATE-----\n${b64.trim()}\n-----END CERTIFICATE-----\n`;
}

export interface CertSpec {
  cn: string;
  ca?: boolean;
  /** basicConstraints pathLenConstraint of a CA. */
  pathLen?: number;
  issuer?: TestCert;
  notBefore?: Date;
  notAfter?: Date;
  aia?: string[];
  keys?: CryptoKeyPair;
  /** Subject override (e.g. two CNs). */
  subject?: pkijs.RelativeDistinguishedNames;
}

export async function makeCert(spec: CertSpec): Promise<TestCert> {
  const keys = spec.keys ?? (await rsaKeys());
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ value: serial++ });
  cert.subject = spec.subject ?? name(spec.cn);
  cert.issuer = spec.issuer ? spec.issuer.cert.subject : cert.subject;
  cert.notBefore.value = spec.notBefore ?? new Date(Date.UTC(2020, 0, 1));
  cert.notAfter.value = spec.notAfter ?? new Date(Date.UTC(2040, 0, 1));
  await cert.subjectPublicKeyInfo.importKey(keys.publicKey);
  const bc = new pkijs.BasicConstraints({ cA: spec.ca ?? false, ...(spec.pathLen !== undefined ? { pathLenConstraint: spec.pathLen } : {}) });
  cert.extensions = [
    new pkijs.Extension({ extnID: '2.5.29.19', critical: true, extnValue: bc.toSchema().toBER(false), parsedValue: bc }),
  ];
  if (spec.ca) {
    // keyUsage: keyCertSign | cRLSign
    const ku = new asn1js.BitString({ valueHex: new Uint8Array([0x06]).buffer, unusedBits: 1 });
    cert.extensions.push(new pkijs.Extension({ extnID: '2.5.29.15', critical: true, extnValue: ku.toBER(false) }));
  }
  if (spec.aia) {
    const ia = new pkijs.InfoAccess({
      accessDescriptions: spec.aia.map(
        (url) => new pkijs.AccessDescription({ accessMethod: '1.3.6.1.5.5.7.48.2', accessLocation: new pkijs.GeneralName({ type: 6, value: url }) }),
      ),
    });
    cert.extensions.push(new pkijs.Extension({ extnID: '1.3.6.1.5.5.7.1.1', extnValue: ia.toSchema().toBER(false), parsedValue: ia }));
  }
  await cert.sign((spec.issuer?.keys ?? keys).privateKey, 'SHA-256');
  const der = new Uint8Array(cert.toSchema(true).toBER(false));
  return { cert, keys, der, pem: toPem(der) };
}

export interface SignedDataSpec {
  content: Uint8Array;
  signer: TestCert;
  /** Certificates to embed; the signer's by default. */
  certificates?: TestCert[];
  signedAttributes?: boolean;
  /** Content whose digest goes into the messageDigest attribute (defaults to `content`). */
  digestOf?: Uint8Array;
  /** Key that actually signs (to forge a signature with the wrong key). */
  signingKey?: CryptoKey;
}

export async function makeSignedData(spec: SignedDataSpec): Promise<Uint8Array> {
  const certs = (spec.certificates ?? [spec.signer]).map((c) => c.cert);
  const signerInfo = new pkijs.SignerInfo({
    version: 1,
    sid: new pkijs.IssuerAndSerialNumber({ issuer: spec.signer.cert.issuer, serialNumber: spec.signer.cert.serialNumber }),
  });
  if (spec.signedAttributes) {
    const digest = await subtle.digest('SHA-256', spec.digestOf ?? spec.content);
    signerInfo.signedAttrs = new pkijs.SignedAndUnsignedAttributes({
      type: 0,
      attributes: [
        new pkijs.Attribute({ type: '1.2.840.113549.1.9.3', values: [new asn1js.ObjectIdentifier({ value: '1.2.840.113549.1.7.1' })] }),
        new pkijs.Attribute({ type: '1.2.840.113549.1.9.4', values: [new asn1js.OctetString({ valueHex: digest })] }),
      ],
    });
  }
  const sd = new pkijs.SignedData({
    version: 1,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({
      eContentType: '1.2.840.113549.1.7.1',
      eContent: new asn1js.OctetString({ valueHex: spec.content }),
    }),
    signerInfos: [signerInfo],
    certificates: certs,
  });
  await sd.sign(spec.signingKey ?? spec.signer.keys.privateKey, 0, 'SHA-256');
  const ci = new pkijs.ContentInfo({ contentType: '1.2.840.113549.1.7.2', content: sd.toSchema(true) });
  return new Uint8Array(ci.toSchema().toBER(false));
}

/** An AWS-style signing certificate (self-signed RSA) and a signer of documents with its key. */
export async function awsStyleCert(): Promise<{ pem: string; sign: (doc: string) => string }> {
  const keys = await rsaKeys();
  const c = await makeCert({ cn: 'ec2.amazonaws.com', keys });
  const pkcs8 = Buffer.from(await subtle.exportKey('pkcs8', keys.privateKey));
  return {
    pem: c.pem,
    sign: (doc: string) =>
      createSign('sha256').update(Buffer.from(doc, 'utf8')).sign({ key: pkcs8, format: 'der', type: 'pkcs8' }).toString('base64'),
  };
}

/** "SEQUENCE { SEQUENCE { ... } }" nested `depth` times. */
export function nestedSequences(depth: number): Uint8Array {
  let inner: Uint8Array = new Uint8Array([0x05, 0x00]);
  for (let i = 0; i < depth; i++) {
    const len = inner.length;
    const header = len < 0x80 ? [0x30, len] : len < 0x100 ? [0x30, 0x81, len] : len < 0x10000 ? [0x30, 0x82, len >> 8, len & 255] : [0x30, 0x83, len >> 16, (len >> 8) & 255, len & 255];
    const next = new Uint8Array(header.length + len);
    next.set(header, 0);
    next.set(inner, header.length);
    inner = next;
  }
  return inner;
}
