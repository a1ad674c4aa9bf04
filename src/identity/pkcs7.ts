import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { checkAsn1Shape } from './asn1-guard.js';
import { identityError } from './errors.js';

/**
 * CMS/PKCS#7 SignedData reading for Azure attested documents: structure checks, the one
 * signer's certificate (by issuer and serial, as the Go pkcs7 library does), the signed
 * content and the signature check over it (signed attributes and messageDigest when
 * present). Chain trust is decided elsewhere (chain.ts).
 */

const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_COMMON_NAME = '2.5.4.3';
/** Real attested documents nest about a dozen levels; a generous cap. */
export const PKCS7_MAX_DEPTH = 40;
/** Azure sends the signer alone; a few more leave room for a chain. */
export const PKCS7_MAX_CERTIFICATES = 8;

export interface ParsedSignedData {
  signedData: pkijs.SignedData;
  signer: pkijs.Certificate;
  /** DER of every certificate carried in the envelope, signer first. */
  certificatesDer: Uint8Array[];
  content: Uint8Array;
}

export function parseSignedData(der: Uint8Array): ParsedSignedData {
  checkAsn1Shape(der, PKCS7_MAX_DEPTH);
  let signedData: pkijs.SignedData;
  try {
    const asn = asn1js.fromBER(der);
    if (asn.offset === -1 || asn.offset !== der.byteLength) throw new Error('invalid or trailing data');
    const info = new pkijs.ContentInfo({ schema: asn.result });
    if (info.contentType !== OID_SIGNED_DATA) throw new Error(`content type ${info.contentType} is not signedData`);
    signedData = new pkijs.SignedData({ schema: info.content });
  } catch (err) {
    throw identityError('asn1_invalid', `parse pkcs7: ${(err as Error).message}`);
  }
  if (signedData.signerInfos.length !== 1) throw identityError('signer_invalid', 'no signers for signature');
  const sid = signedData.signerInfos[0]!.sid;
  if (!(sid instanceof pkijs.IssuerAndSerialNumber)) throw identityError('signer_invalid', 'signer is not identified by issuer and serial');
  const certs = (signedData.certificates ?? []).filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate);
  if (certs.length > PKCS7_MAX_CERTIFICATES) throw identityError('signer_invalid', `more than ${PKCS7_MAX_CERTIFICATES} certificates`);
  const matches = certs.filter((c) => c.issuer.isEqual(sid.issuer) && c.serialNumber.isEqual(sid.serialNumber));
  // Two candidates would let the name check and the signature check look at different certificates.
  if (matches.length !== 1) throw identityError('signer_invalid', matches.length === 0 ? 'no signers for signature' : 'ambiguous signer certificate');
  const signer = matches[0]!;
  const content = encapsulatedContent(signedData);
  const certificatesDer = [signer, ...certs.filter((c) => c !== signer)].map((c) => new Uint8Array(c.toSchema().toBER(false)));
  return { signedData, signer, certificatesDer, content };
}

function encapsulatedContent(sd: pkijs.SignedData): Uint8Array {
  const e = sd.encapContentInfo.eContent;
  if (!e) throw identityError('asn1_invalid', 'parse pkcs7: no signed content');
  if (e.idBlock.tagClass !== 1 || e.idBlock.tagNumber !== 4) throw identityError('asn1_invalid', 'parse pkcs7: content is not an OCTET STRING');
  // Exactly the bytes pkijs hashes when verifying (getValue joins BER constructed pieces),
  // so what is parsed is what was signed.
  return new Uint8Array(e.getValue());
}

/** The subject common name; exactly one CN attribute is required so there is nothing to choose. */
export function commonNameOf(cert: pkijs.Certificate): string {
  const cns = cert.subject.typesAndValues.filter((tv) => tv.type === OID_COMMON_NAME);
  if (cns.length !== 1) throw identityError('signer_cn_mismatch', `signer has ${cns.length} common names`);
  const v = cns[0]!.value as { valueBlock?: { value?: unknown } };
  const value = v.valueBlock?.value;
  if (typeof value !== 'string') throw identityError('signer_cn_mismatch', 'signer common name is not a string');
  return value;
}

/** Verifies the signer's signature over the content. Throws bad_signature on any mismatch. */
export async function verifySignerSignature(parsed: ParsedSignedData): Promise<void> {
  let ok = false;
  try {
    ok = await parsed.signedData.verify({ signer: 0, checkChain: false, extendedMode: false });
  } catch (err) {
    const message = err instanceof Error ? err.message : String((err as { message?: unknown })?.message ?? err);
    throw identityError('bad_signature', `verify pkcs7: ${message}`);
  }
  if (!ok) throw identityError('bad_signature', 'verify pkcs7: signature does not match content');
}

const OID_AIA = '1.3.6.1.5.5.7.1.1';
const OID_CA_ISSUERS = '1.3.6.1.5.5.7.48.2';

/** caIssuers URIs of the certificate's Authority Information Access extension. */
export function issuingCertificateUrls(cert: pkijs.Certificate): string[] {
  const ext = cert.extensions?.find((e) => e.extnID === OID_AIA);
  const parsed = ext?.parsedValue as pkijs.InfoAccess | undefined;
  if (!parsed || !Array.isArray(parsed.accessDescriptions)) return [];
  return parsed.accessDescriptions
    .filter((d) => d.accessMethod === OID_CA_ISSUERS && d.accessLocation.type === 6 && typeof d.accessLocation.value === 'string')
    .map((d) => d.accessLocation.value as string);
}
