import { Counter, Histogram, type Registry } from 'prom-client';

/** Instance-identity metrics. `reason` values are the stable codes of src/identity/errors.ts. */
export interface IdentityMetrics {
  attempts: Counter<'cloud' | 'reason'>;
  verifySeconds: Histogram<'cloud'>;
  issuerFetches: Counter<'result'>;
  jwksRefreshes: Counter<'result'>;
}

const byRegistry = new WeakMap<Registry, IdentityMetrics>();

/** One set per registry: the handlers and the verifier factory share it. */
export function createIdentityMetrics(registry: Registry): IdentityMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const metrics: IdentityMetrics = {
    attempts: new Counter({
      name: 'tailnetd_identity_attempts_total',
      help: 'Instance-identity exchanges by cloud (aws, azure, gcp) and result reason (ok or a failure code).',
      labelNames: ['cloud', 'reason'],
      registers: [registry],
    }),
    verifySeconds: new Histogram({
      name: 'tailnetd_identity_verify_seconds',
      help: 'Time spent verifying an identity document, by cloud.',
      labelNames: ['cloud'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
    issuerFetches: new Counter({
      name: 'tailnetd_identity_issuer_fetches_total',
      help: 'Azure issuing-certificate fetches by result (ok, refused, failed).',
      labelNames: ['result'],
      registers: [registry],
    }),
    jwksRefreshes: new Counter({
      name: 'tailnetd_identity_jwks_refreshes_total',
      help: 'Google JWKS refreshes by result (ok, failed).',
      labelNames: ['result'],
      registers: [registry],
    }),
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
