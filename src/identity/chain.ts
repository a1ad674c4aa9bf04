import { X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

/**
 * Certificate path building for the Azure signer: leaf → (pinned, embedded or fetched)
 * intermediates → trusted root, with signatures checked by OpenSSL through
 * node:crypto X509Certificate, validity at the injected time, CA flag on every issuer
 * path-length constraints, and a bounded depth. Untrusted intermediates are only ever candidates: a path must
 * end at a configured root.
 */

export const MAX_CHAIN_DEPTH = 6;
/**
 * Signature checks allowed per path search. Candidates can be attacker-made CA
 * certificates that all sign each other; without a budget the search is exponential.
 */
export const MAX_SIGNATURE_CHECKS = 64;

export class TrustAnchors {
  private readonly bySubject = new Map<string, X509Certificate[]>();
  private readonly fingerprints = new Set<string>();

  constructor(readonly roots: readonly X509Certificate[]) {
    for (const r of roots) {
      const list = this.bySubject.get(r.subject) ?? [];
      list.push(r);
      this.bySubject.set(r.subject, list);
      this.fingerprints.add(r.fingerprint256);
    }
  }

  static fromPems(pems: readonly string[]): TrustAnchors {
    return new TrustAnchors(pems.map((p) => new X509Certificate(p)));
  }

  /** node:tls's bundled Mozilla roots (what Go's SystemCertPool usually holds). */
  static system(): TrustAnchors {
    return TrustAnchors.fromPems(rootCertificates);
  }

  isRoot(cert: X509Certificate): boolean {
    return this.fingerprints.has(cert.fingerprint256);
  }

  /** Roots whose subject text equals the issuer's; all roots when none does (DN spelling can differ). */
  issuersOf(cert: X509Certificate): readonly X509Certificate[] {
    return this.bySubject.get(cert.issuer) ?? this.roots;
  }
}

function validAt(cert: X509Certificate, atMs: number): boolean {
  return Date.parse(cert.validFrom) <= atMs && atMs <= Date.parse(cert.validTo);
}

class ChainBudgetExceeded extends Error {}

const pathLens = new WeakMap<X509Certificate, number | null>();

/** basicConstraints pathLenConstraint (null when absent), which node:crypto does not expose. */
function pathLenOf(cert: X509Certificate): number | null {
  const cached = pathLens.get(cert);
  if (cached !== undefined) return cached;
  let value: number | null = null;
  try {
    const parsed = pkijs.Certificate.fromBER(cert.raw);
    const bc = parsed.extensions?.find((e) => e.extnID === '2.5.29.19')?.parsedValue as pkijs.BasicConstraints | undefined;
    const len = bc?.pathLenConstraint;
    if (typeof len === 'number') value = len;
    else if (len instanceof asn1js.Integer) value = len.valueBlock.valueDec;
  } catch {
    value = 0; // unreadable constraints: allow no CA below it
  }
  pathLens.set(cert, value);
  return value;
}

/** May `issuer` sign the last element of `path`? It sits above path.length - 1 intermediates. */
function pathLenAllows(issuer: X509Certificate, path: readonly X509Certificate[]): boolean {
  const len = pathLenOf(issuer);
  return len === null || path.length - 1 <= len;
}

export type ChainResult = { ok: true; path: X509Certificate[] } | { ok: false; reason: string };

export function verifyChain(
  leaf: X509Certificate,
  candidates: readonly X509Certificate[],
  anchors: TrustAnchors,
  atMs: number,
): ChainResult {
  if (!validAt(leaf, atMs)) return { ok: false, reason: 'x509: certificate has expired or is not yet valid' };
  let budget = MAX_SIGNATURE_CHECKS;
  const issuedBy = (child: X509Certificate, issuer: X509Certificate): boolean => {
    if (!child.checkIssued(issuer)) return false;
    if (--budget < 0) throw new ChainBudgetExceeded();
    return child.verify(issuer.publicKey);
  };
  const search = (cert: X509Certificate, path: X509Certificate[]): X509Certificate[] | null => {
    if (anchors.isRoot(cert)) return path;
    for (const root of anchors.issuersOf(cert)) {
      if (validAt(root, atMs) && pathLenAllows(root, path) && issuedBy(cert, root)) return [...path, root];
    }
    if (path.length >= MAX_CHAIN_DEPTH) return null;
    for (const next of candidates) {
      if (!next.ca || path.some((p) => p.fingerprint256 === next.fingerprint256)) continue;
      if (!validAt(next, atMs) || !pathLenAllows(next, path) || !issuedBy(cert, next)) continue;
      const found = search(next, [...path, next]);
      if (found) return found;
    }
    return null;
  };
  let path: X509Certificate[] | null;
  try {
    path = search(leaf, [leaf]);
  } catch (err) {
    if (err instanceof ChainBudgetExceeded) return { ok: false, reason: 'x509: too many candidate issuers' };
    throw err;
  }
  return path ? { ok: true, path } : { ok: false, reason: 'x509: certificate signed by unknown authority' };
}
