import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { Clock } from '../util/clock.js';
import { IdentityError, identityError } from './errors.js';
import { isJsonObject, readStringField } from './fields.js';
import type { JwksSource } from './jwks.js';

/**
 * Google Compute Engine identity: an RS256 ID token from the metadata server
 * (`service-accounts/default/identity?audience=coder&format=full`). Verified against
 * Google's JWKS: signature, RS256 only, issuer, expiry (10 s skew, as Google's Go
 * validator). coderd accepts any audience; `audience` makes it strict.
 */

export const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'];
export const GCP_MAX_TOKEN_BYTES = 16 * 1024;
const CLOCK_SKEW_S = 10;

export interface GcpIdentity {
  instanceId: string;
  projectId: string;
}

export interface GcpVerifierOptions {
  jwks: JwksSource;
  clock: Clock;
  /** Required `aud` values; empty accepts any audience (coderd behaviour). */
  audience?: readonly string[];
  /** When non-empty, only tokens of these project ids are accepted. */
  allowedProjectIds?: readonly string[];
  maxTokenBytes?: number;
}

export class GcpVerifier {
  private readonly allowedProjects: ReadonlySet<string>;

  constructor(private readonly options: GcpVerifierOptions) {
    this.allowedProjects = new Set(options.allowedProjectIds ?? []);
  }

  /** Throws IdentityError; code `claims_invalid` means the token verified but its claims did not decode. */
  async verify(token: string): Promise<GcpIdentity> {
    if (token.length > (this.options.maxTokenBytes ?? GCP_MAX_TOKEN_BYTES)) {
      throw identityError('input_too_large', 'token too large');
    }
    let payload: JWTPayload;
    try {
      const audience = this.options.audience;
      ({ payload } = await jwtVerify(token, this.options.jwks.getKey, {
        algorithms: ['RS256'],
        issuer: GOOGLE_ISSUERS,
        ...(audience && audience.length > 0 ? { audience: [...audience] } : {}),
        currentDate: new Date(this.options.clock.now()),
        clockTolerance: CLOCK_SKEW_S,
        requiredClaims: ['exp', 'iat'],
      }));
    } catch (err) {
      throw mapJoseError(err);
    }
    const claims = decodeComputeEngine(payload);
    if (this.allowedProjects.size > 0 && !this.allowedProjects.has(claims.projectId)) {
      throw identityError('tenant_not_allowed', `project ${JSON.stringify(claims.projectId)} is not allowed`);
    }
    return claims;
  }
}

/** Reads google.compute_engine.{instance_id,project_id} with Go struct-decoding rules. */
function decodeComputeEngine(payload: JWTPayload): GcpIdentity {
  const bad = (what: string): IdentityError => identityError('claims_invalid', `decode claims: ${what}`);
  const obj = (parent: Record<string, unknown>, name: string): Record<string, unknown> | null => {
    let found: Record<string, unknown> | null = null;
    for (const key of Object.keys(parent)) {
      if (key.toLowerCase() !== name) continue;
      const v = parent[key];
      if (v === null) continue;
      if (!isJsonObject(v)) throw bad(`${name} is not an object`);
      found = v;
    }
    return found;
  };
  const str = (parent: Record<string, unknown> | null, name: string): string => {
    if (!parent) return '';
    const r = readStringField(parent, name);
    if (r.kind === 'wrong_type') throw bad(`${name} is a ${r.jsonType}, not a string`);
    return r.kind === 'string' ? r.value : '';
  };
  const google = obj(payload as Record<string, unknown>, 'google');
  const gce = google ? obj(google, 'compute_engine') : null;
  return { instanceId: str(gce, 'instance_id'), projectId: str(gce, 'project_id') };
}

function mapJoseError(err: unknown): IdentityError {
  if (err instanceof IdentityError) return err;
  if (err instanceof joseErrors.JWTExpired) return identityError('jwt_expired', 'idtoken: token expired');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    return identityError('jwt_claims_rejected', `idtoken: ${err.claim} claim check failed: ${err.message}`);
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
    return identityError('bad_signature', 'idtoken: invalid token signature');
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return identityError('jwt_invalid', 'idtoken: algorithm not allowed');
  if (err instanceof joseErrors.JWKSNoMatchingKey) return identityError('jwt_invalid', 'idtoken: no key matches the token');
  if (err instanceof joseErrors.JOSEError) return identityError('jwt_invalid', `idtoken: ${err.message}`);
  return identityError('jwt_invalid', 'idtoken: invalid token');
}
