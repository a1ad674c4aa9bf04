import { readFile } from 'node:fs/promises';
import type { Registry } from 'prom-client';
import { createIdentityMetrics } from '../metrics/identity.js';
import type { Clock } from '../util/clock.js';
import { AwsVerifier } from './aws.js';
import { AzureVerifier } from './azure.js';
import { TrustAnchors } from './chain.js';
import type { IdentityConfig } from './config.js';
import { GcpVerifier } from './gcp.js';
import { parseJwks, RemoteJwks, staticJwks } from './jwks.js';

/** Builds the enabled verifiers from config, reading every file once at start-up. */

export interface IdentityVerifiers {
  aws?: AwsVerifier;
  azure?: AzureVerifier;
  gcp?: GcpVerifier;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export function splitPemBundle(text: string): string[] {
  return text.match(PEM_BLOCK) ?? [];
}

async function readPemBundle(path: string, what: string): Promise<string[]> {
  const pems = splitPemBundle(await readFile(path, 'utf8'));
  if (pems.length === 0) throw new Error(`${what} ${path}: no PEM certificates found`);
  return pems;
}

export async function createIdentityVerifiers(
  config: IdentityConfig,
  deps: { clock: Clock; registry: Registry },
): Promise<IdentityVerifiers> {
  const metrics = createIdentityMetrics(deps.registry);
  const out: IdentityVerifiers = {};
  const enabled = new Set(config.clouds);

  if (enabled.has('aws')) {
    const certificates: Record<string, string> = {};
    for (const [region, path] of Object.entries(config.awsCertificateFiles)) {
      const pems = await readPemBundle(path, `AWS certificate for ${region}`);
      if (pems.length !== 1) throw new Error(`AWS certificate for ${region} (${path}): expected exactly one certificate`);
      certificates[region] = pems[0]!;
    }
    out.aws = new AwsVerifier({
      certificates,
      replaceDefaults: config.awsReplaceDefaultCertificates,
      allowedAccountIds: config.awsAllowedAccountIds,
    });
  }

  if (enabled.has('azure')) {
    out.azure = new AzureVerifier({
      clock: deps.clock,
      roots: config.azureRootsFile
        ? TrustAnchors.fromPems(await readPemBundle(config.azureRootsFile, 'Azure roots'))
        : TrustAnchors.system(),
      intermediates: config.azureIntermediatesFile
        ? await readPemBundle(config.azureIntermediatesFile, 'Azure intermediates')
        : [],
      fetchIssuers: config.azureFetchIssuers,
      issuerHosts: config.azureIssuerHosts,
      allowedSubscriptionIds: config.azureAllowedSubscriptionIds,
      ...(config.azureMaxDocumentAgeSeconds > 0 ? { maxDocumentAgeMs: config.azureMaxDocumentAgeSeconds * 1000 } : {}),
      onIssuerFetch: (result) => metrics.issuerFetches.inc({ result }),
    });
  }

  if (enabled.has('gcp')) {
    const jwks = config.gcpJwksFile
      ? staticJwks(parseJwks(await readFile(config.gcpJwksFile, 'utf8')))
      : new RemoteJwks({ url: config.gcpJwksUrl, clock: deps.clock, onRefresh: (result) => metrics.jwksRefreshes.inc({ result }) });
    out.gcp = new GcpVerifier({
      jwks,
      clock: deps.clock,
      audience: config.gcpAudience,
      allowedProjectIds: config.gcpAllowedProjectIds,
    });
  }
  return out;
}

/** Handler rate-limit options from config. */
export function identityRateLimit(config: IdentityConfig): { ratePerSecond: number; burst: number } {
  return { ratePerSecond: config.rateLimitPerMinute / 60, burst: config.rateLimitBurst };
}
