/**
 * One error type for the instance-identity subsystem. `code` is stable: it is the
 * `reason` label of tailnetd_identity_attempts_total and the `reason` field of failure
 * logs. `detail` is what the client sees in the error envelope; it never contains the
 * submitted document.
 */
export type IdentityErrorCode =
  | 'malformed_body'
  | 'validation_failed'
  | 'input_too_large'
  | 'bad_base64'
  | 'bad_document'
  | 'bad_signature'
  | 'asn1_invalid'
  | 'asn1_too_deep'
  | 'signer_invalid'
  | 'signer_cn_mismatch'
  | 'chain_untrusted'
  | 'issuer_fetch_refused'
  | 'issuer_fetch_failed'
  | 'jwt_invalid'
  | 'jwt_expired'
  | 'jwt_claims_rejected'
  | 'jwks_unavailable'
  | 'claims_invalid'
  | 'tenant_not_allowed'
  | 'document_stale'
  | 'cloud_disabled';

export class IdentityError extends Error {
  constructor(
    readonly code: IdentityErrorCode,
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'IdentityError';
  }
}

export function identityError(code: IdentityErrorCode, detail: string): IdentityError {
  return new IdentityError(code, detail);
}

/** Result reasons that are not verifier failures; together with IdentityErrorCode they label the metric. */
export type ExchangeReason =
  | 'ok'
  | 'rate_limited'
  | 'unknown_instance'
  | 'not_latest_build'
  | 'store_error'
  | 'internal_error';

export type AttemptReason = IdentityErrorCode | ExchangeReason;

export type Cloud = 'aws' | 'azure' | 'gcp';
