import { X509Certificate } from 'node:crypto';
import type { Clock } from '../util/clock.js';
import { checkAzureFreshness } from './azure-timestamp.js';
import { TrustAnchors, verifyChain } from './chain.js';
import { identityError } from './errors.js';
import { decodeStdBase64As, isJsonObject, readDocumentString } from './fields.js';
import { fetchIssuerCertificate, DEFAULT_ISSUER_HOSTS, type IssuerFetchOptions } from './issuer-fetch.js';
import { commonNameOf, issuingCertificateUrls, parseSignedData, verifySignerSignature } from './pkcs7.js';

/**
 * Azure attested data (IMDS `metadata/attested/document`): base64 PKCS#7 SignedData.
 *
 *   base64 ─▶ ASN.1 shape guard ─▶ SignedData (one signer, found by issuer+serial)
 *        ─▶ signer CN ~ metadata domain ─▶ signature over content
 *        ─▶ chain: signer → pinned/embedded[/fetched] intermediates → roots
 *        ─▶ content JSON → vmId
 *
 * Unlike coderd in 2023, the signature over the content is verified, and issuing
 * certificates are fetched only when enabled, through issuer-fetch.ts's fences.
 */

export const AZURE_SIGNER_CN = /^(.*\.)?metadata\.(azure\.(com|us|cn)|microsoftazure\.de)$/;
export const AZURE_MAX_SIGNATURE_BYTES = 64 * 1024;
const FETCH_CACHE_TTL_MS = 60 * 60 * 1000;
const FETCH_CACHE_MAX = 32;

export interface AzureIdentity {
  vmId: string;
  subscriptionId: string;
}

export interface AzureVerifierOptions {
  clock: Clock;
  /** Trust anchors; node:tls root certificates when omitted. */
  roots?: TrustAnchors;
  /** Pinned Azure intermediates (PEM). */
  intermediates?: readonly string[];
  /** Fetch unknown issuers named in the signer's AIA extension. Off by default. */
  fetchIssuers?: boolean;
  issuerHosts?: readonly string[];
  /** Overrides for the fetch fences (tests inject a resolver and address policy). */
  fetch?: Partial<Pick<IssuerFetchOptions, 'timeoutMs' | 'maxBytes' | 'resolve' | 'isBlocked' | 'allowedPorts'>>;
  /** When non-empty, only documents of these subscriptions are accepted. */
  allowedSubscriptionIds?: readonly string[];
  maxSignatureBytes?: number;
  /** When set, reject documents whose timeStamp.createdOn is older than this (or expired). */
  maxDocumentAgeMs?: number;
  /** Called once per issuing-certificate fetch with its outcome, for metrics. */
  onIssuerFetch?: (result: 'ok' | 'refused' | 'failed') => void;
}

export class AzureVerifier {
  private readonly clock: Clock;
  private readonly roots: TrustAnchors;
  private readonly intermediates: X509Certificate[];
  private readonly allowedSubscriptions: ReadonlySet<string>;
  private readonly fetched = new Map<string, { cert: X509Certificate; at: number }>();

  constructor(private readonly options: AzureVerifierOptions) {
    this.clock = options.clock;
    this.roots = options.roots ?? TrustAnchors.system();
    this.intermediates = (options.intermediates ?? []).map((pem) => new X509Certificate(pem));
    this.allowedSubscriptions = new Set(options.allowedSubscriptionIds ?? []);
  }

  async verify(signature: string): Promise<AzureIdentity> {
    const maxBytes = this.options.maxSignatureBytes ?? AZURE_MAX_SIGNATURE_BYTES;
    if (signature.length > Math.ceil(maxBytes / 3) * 4 + 4096) {
      throw identityError('input_too_large', `signature exceeds ${maxBytes} bytes`);
    }
    const der = decodeStdBase64As('decode base64', signature, maxBytes);
    const parsed = parseSignedData(der);
    const cn = commonNameOf(parsed.signer);
    if (!AZURE_SIGNER_CN.test(cn)) {
      throw identityError('signer_cn_mismatch', `unmatched common name of signer: ${JSON.stringify(cn)}`);
    }
    await verifySignerSignature(parsed);

    const [leafDer, ...embedded] = parsed.certificatesDer;
    let leaf: X509Certificate;
    let candidates: X509Certificate[];
    try {
      leaf = new X509Certificate(leafDer!);
      candidates = [...this.intermediates, ...embedded.map((d) => new X509Certificate(d))];
    } catch (err) {
      throw identityError('signer_invalid', `parse certificate: ${(err as Error).message}`);
    }
    const now = this.clock.now();
    let chain = verifyChain(leaf, candidates, this.roots, now);
    if (!chain.ok && this.options.fetchIssuers) {
      for (const url of issuingCertificateUrls(parsed.signer)) candidates.push(await this.fetchIssuer(url));
      chain = verifyChain(leaf, candidates, this.roots, now);
      if (!chain.ok) {
        throw identityError('chain_untrusted', 'signature verification failed after fetching issuing certificates');
      }
    }
    if (!chain.ok) throw identityError('chain_untrusted', `verify pkcs7: ${chain.reason}`);

    let content: unknown;
    try {
      content = JSON.parse(Buffer.from(parsed.content).toString('utf8'));
    } catch (err) {
      throw identityError('bad_document', `unmarshal metadata: ${(err as Error).message}`);
    }
    if (!isJsonObject(content)) throw identityError('bad_document', 'unmarshal metadata: not a JSON object');
    if (this.options.maxDocumentAgeMs !== undefined) checkAzureFreshness(content, now, this.options.maxDocumentAgeMs);
    const vmId = readDocumentString(content, 'vmId', 'unmarshal metadata');
    const subscriptionId = readDocumentString(content, 'subscriptionId', 'unmarshal metadata');
    if (this.allowedSubscriptions.size > 0 && !this.allowedSubscriptions.has(subscriptionId)) {
      throw identityError('tenant_not_allowed', `subscription ${JSON.stringify(subscriptionId)} is not allowed`);
    }
    return { vmId, subscriptionId };
  }

  private async fetchIssuer(url: string): Promise<X509Certificate> {
    const now = this.clock.now();
    const hit = this.fetched.get(url);
    if (hit && now - hit.at < FETCH_CACHE_TTL_MS) return hit.cert;
    try {
      const cert = await fetchIssuerCertificate(url, {
        ...this.options.fetch,
        allowedHosts: this.options.issuerHosts ?? DEFAULT_ISSUER_HOSTS,
        clock: this.clock,
      });
      this.options.onIssuerFetch?.('ok');
      // Fetched certificates are only chain candidates, never anchors, so caching them is safe.
      if (this.fetched.size >= FETCH_CACHE_MAX) this.fetched.delete(this.fetched.keys().next().value!);
      this.fetched.set(url, { cert, at: now });
      return cert;
    } catch (err) {
      this.options.onIssuerFetch?.((err as { code?: string }).code === 'issuer_fetch_refused' ? 'refused' : 'failed');
      throw err;
    }
  }
}
