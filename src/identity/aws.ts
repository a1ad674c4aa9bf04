import { X509Certificate, createVerify, type KeyObject } from 'node:crypto';
import { AWS_DEFAULT_CERTIFICATES } from './certs/aws-regions.js';
import { identityError } from './errors.js';
import { decodeStdBase64As, isJsonObject, readDocumentString } from './fields.js';

/**
 * AWS EC2 instance identity: the agent posts the plain-text identity document and its
 * base64 RSA PKCS#1 v1.5 / SHA-256 signature (IMDS `dynamic/instance-identity/signature`).
 * The signature covers the exact document bytes, so the document is hashed as received
 * and only parsed to read fields. The document has no nonce or expiry: the exchange
 * binds it to the latest build and rate-limits.
 */

export interface AwsIdentity {
  instanceId: string;
  /** Label of the certificate that verified the signature. */
  region: string;
  accountId: string;
}

export interface AwsVerifierOptions {
  /** Region label → PEM certificate; replaces the default of the same label, adds others. */
  certificates?: Readonly<Record<string, string>>;
  /** Drop the built-in certificates entirely (use only `certificates`). */
  replaceDefaults?: boolean;
  /** When non-empty, only documents of these AWS account ids are accepted. */
  allowedAccountIds?: readonly string[];
  /** Upper bounds on the submitted strings. */
  maxDocumentBytes?: number;
  maxSignatureBytes?: number;
}

export const AWS_MAX_DOCUMENT_BYTES = 16 * 1024;
export const AWS_MAX_SIGNATURE_BYTES = 1024;

interface RegionKey {
  region: string;
  key: KeyObject;
}

export class AwsVerifier {
  private readonly keys: RegionKey[];
  private readonly allowedAccounts: ReadonlySet<string>;
  private readonly maxDocumentBytes: number;
  private readonly maxSignatureBytes: number;

  constructor(options: AwsVerifierOptions = {}) {
    const merged: Record<string, string> = options.replaceDefaults ? {} : { ...AWS_DEFAULT_CERTIFICATES };
    Object.assign(merged, options.certificates ?? {});
    this.keys = Object.entries(merged).map(([region, pem]) => ({ region, key: rsaKeyOf(region, pem) }));
    if (this.keys.length === 0) throw new Error('aws identity: no certificates configured');
    this.allowedAccounts = new Set(options.allowedAccountIds ?? []);
    this.maxDocumentBytes = options.maxDocumentBytes ?? AWS_MAX_DOCUMENT_BYTES;
    this.maxSignatureBytes = options.maxSignatureBytes ?? AWS_MAX_SIGNATURE_BYTES;
  }

  /** Region labels in the order they are tried. */
  regions(): string[] {
    return this.keys.map((k) => k.region);
  }

  verify(document: string, signature: string): AwsIdentity {
    const docBytes = Buffer.from(document, 'utf8');
    if (docBytes.length > this.maxDocumentBytes) {
      throw identityError('input_too_large', `document exceeds ${this.maxDocumentBytes} bytes`);
    }
    // Parse first, as coderd does: a malformed document fails before any RSA work.
    let parsed: unknown;
    try {
      parsed = JSON.parse(document);
    } catch (err) {
      throw identityError('bad_document', `parse document: ${(err as Error).message}`);
    }
    if (!isJsonObject(parsed)) throw identityError('bad_document', 'parse document: not a JSON object');
    const instanceId = readDocumentString(parsed, 'instanceId', 'parse document');
    const accountId = readDocumentString(parsed, 'accountId', 'parse document');

    const sig = decodeStdBase64As('decode signature', signature, this.maxSignatureBytes);

    for (const { region, key } of this.keys) {
      if (createVerify('sha256').update(docBytes).verify(key, sig)) {
        if (this.allowedAccounts.size > 0 && !this.allowedAccounts.has(accountId)) {
          throw identityError('tenant_not_allowed', `account ${JSON.stringify(accountId)} is not allowed`);
        }
        return { instanceId, region, accountId };
      }
    }
    throw identityError('bad_signature', 'crypto/rsa: verification error');
  }
}

function rsaKeyOf(region: string, pem: string): KeyObject {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (err) {
    throw new Error(`aws identity: certificate for ${JSON.stringify(region)}: ${(err as Error).message}`);
  }
  if (cert.publicKey.asymmetricKeyType !== 'rsa') {
    throw new Error(`aws identity: certificate for ${JSON.stringify(region)} is not an RSA key`);
  }
  return cert.publicKey;
}
