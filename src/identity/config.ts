import { z } from 'zod';
import { DEFAULT_ISSUER_HOSTS } from './issuer-fetch.js';
import { GOOGLE_JWKS_URL } from './jwks.js';

/**
 * Instance-identity options, a fragment for the server config. Every field also takes
 * its environment form (comma lists, `region=path` pairs, true/false), so the same
 * schema validates YAML values and TAILNETD_IDENTITY_* variables (IDENTITY_ENV).
 */

const splitList = (v: unknown): unknown =>
  typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter((s) => s !== '') : v;
const list = z.preprocess(splitList, z.array(z.string().min(1)));
const bool = z.preprocess(
  (v) => (typeof v === 'string' ? (/^(1|true|yes|on)$/i.test(v.trim()) ? true : /^(0|false|no|off|)$/i.test(v.trim()) ? false : v) : v),
  z.boolean(),
);
const pairs = z.preprocess((v) => {
  if (typeof v !== 'string') return v;
  const out: Record<string, string> = {};
  for (const part of v.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) return v; // leave invalid input for zod to report
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}, z.record(z.string().min(1), z.string().min(1)));

export const identityConfigSchema = z.object({
  /** Clouds whose route is served; a disabled cloud answers 401 "not enabled". */
  clouds: z.preprocess(splitList, z.array(z.enum(['aws', 'azure', 'gcp']))).default(['aws', 'azure', 'gcp']),
  /** AWS: extra or replacement certificates, region label → PEM file (e.g. `other=/etc/aws/other.pem`). */
  awsCertificateFiles: pairs.default({}),
  /** AWS: use only awsCertificateFiles, not the built-in published certificates. */
  awsReplaceDefaultCertificates: bool.default(false),
  /** AWS: accept only these account ids (empty: any). */
  awsAllowedAccountIds: list.default([]),
  /** Azure: PEM bundle of trust roots; node's bundled Mozilla roots when unset. */
  azureRootsFile: z.string().min(1).optional(),
  /** Azure: PEM bundle of pinned intermediates (Azure TLS issuing CAs). */
  azureIntermediatesFile: z.string().min(1).optional(),
  /** Azure: fetch unknown issuing certificates from the signer's AIA URL (fenced). Off by default. */
  azureFetchIssuers: bool.default(false),
  /** Azure: hosts issuing certificates may be fetched from (ports 80/443 only). */
  azureIssuerHosts: list.default([...DEFAULT_ISSUER_HOSTS]),
  /** Azure: accept only these subscription ids (empty: any). */
  azureAllowedSubscriptionIds: list.default([]),
  /** Azure: reject attested documents older than this many seconds (0: no check, as coderd). */
  azureMaxDocumentAgeSeconds: z.coerce.number().int().min(0).default(0),
  /** Google: JWKS URL of the ID-token signing keys. */
  gcpJwksUrl: z.url({ protocol: /^https?$/ }).default(GOOGLE_JWKS_URL),
  /** Google: JWKS file (offline); takes precedence over gcpJwksUrl. */
  gcpJwksFile: z.string().min(1).optional(),
  /** Google: required token audiences (empty: any, as coderd). The Go agent asks for "coder". */
  gcpAudience: list.default([]),
  /** Google: accept only these project ids (empty: any). */
  gcpAllowedProjectIds: list.default([]),
  /** Per-source-IP rate limit shared by the three routes: sustained requests per minute. */
  rateLimitPerMinute: z.coerce.number().positive().default(60),
  /** Per-source-IP burst. */
  rateLimitBurst: z.coerce.number().int().min(1).default(60),
});

export type IdentityConfig = z.infer<typeof identityConfigSchema>;

/** Environment variable of each option. */
export const IDENTITY_ENV: Record<keyof IdentityConfig, string> = {
  clouds: 'TAILNETD_IDENTITY_CLOUDS',
  awsCertificateFiles: 'TAILNETD_IDENTITY_AWS_CERT_FILES',
  awsReplaceDefaultCertificates: 'TAILNETD_IDENTITY_AWS_REPLACE_DEFAULT_CERTS',
  awsAllowedAccountIds: 'TAILNETD_IDENTITY_AWS_ACCOUNT_IDS',
  azureRootsFile: 'TAILNETD_IDENTITY_AZURE_ROOTS_FILE',
  azureIntermediatesFile: 'TAILNETD_IDENTITY_AZURE_INTERMEDIATES_FILE',
  azureFetchIssuers: 'TAILNETD_IDENTITY_AZURE_FETCH_ISSUERS',
  azureIssuerHosts: 'TAILNETD_IDENTITY_AZURE_ISSUER_HOSTS',
  azureAllowedSubscriptionIds: 'TAILNETD_IDENTITY_AZURE_SUBSCRIPTION_IDS',
  azureMaxDocumentAgeSeconds: 'TAILNETD_IDENTITY_AZURE_MAX_DOCUMENT_AGE',
  gcpJwksUrl: 'TAILNETD_IDENTITY_GCP_JWKS_URL',
  gcpJwksFile: 'TAILNETD_IDENTITY_GCP_JWKS_FILE',
  gcpAudience: 'TAILNETD_IDENTITY_GCP_AUDIENCE',
  gcpAllowedProjectIds: 'TAILNETD_IDENTITY_GCP_PROJECT_IDS',
  rateLimitPerMinute: 'TAILNETD_IDENTITY_RATE_PER_MINUTE',
  rateLimitBurst: 'TAILNETD_IDENTITY_RATE_BURST',
};

/** Picks the TAILNETD_IDENTITY_* variables that are set, keyed by option, for merging before parse. */
export function identityEnvValues(env: NodeJS.ProcessEnv): Partial<Record<keyof IdentityConfig, string>> {
  const out: Partial<Record<keyof IdentityConfig, string>> = {};
  for (const [key, name] of Object.entries(IDENTITY_ENV) as [keyof IdentityConfig, string][]) {
    const v = env[name];
    if (v !== undefined) out[key] = v;
  }
  return out;
}
