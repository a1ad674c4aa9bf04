import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { createIdentityMetrics, type IdentityMetrics } from '../metrics/identity.js';
import type { Clock } from '../util/clock.js';
import type { AwsVerifier } from './aws.js';
import type { AzureVerifier } from './azure.js';
import { IdentityError, type AttemptReason, type Cloud } from './errors.js';
import { exchangeInstanceId, type InstanceIdentityStore } from './exchange.js';
import { isJsonObject, readStringField } from './fields.js';
import type { GcpVerifier } from './gcp.js';
import { TokenBucketLimiter } from './ratelimit.js';

/**
 * The three unauthenticated routes, framework-independent:
 *
 *   body (decoded JSON) ─▶ rate limit (per source IP) ─▶ fields (case-insensitive, required)
 *     ─▶ verifier (aws | azure | gcp) ─▶ exchange (store) ─▶ {status, body[, headers]}
 *
 * Every attempt is counted by cloud and reason and failures are logged with the reason
 * code and source IP — never the document, signature or token.
 */

export interface HandlerResult {
  status: number;
  body: unknown;
  /** Extra response headers (Retry-After on 429). */
  headers?: Record<string, string>;
}

export type IdentityHandler = (body: unknown, sourceIp: string) => Promise<HandlerResult>;

export interface InstanceIdentityHandlers {
  aws: IdentityHandler;
  azure: IdentityHandler;
  google: IdentityHandler;
}

export interface InstanceIdentityHandlerOptions {
  store: InstanceIdentityStore;
  /** A cloud left out answers 401 "Invalid <cloud> identity." with detail "not enabled". */
  aws?: AwsVerifier;
  azure?: AzureVerifier;
  gcp?: GcpVerifier;
  /** Used as given; the caller binds its component name. */
  logger: Logger;
  registry: Registry;
  clock: Clock;
  /** Shared by the three routes. Defaults: burst 60, 1 per second, 10k tracked IPs. */
  rateLimit?: { ratePerSecond: number; burst: number; maxKeys?: number };
}

const TYPE_NAMES: Record<Cloud, string> = {
  aws: 'AWSInstanceIdentityToken',
  azure: 'AzureInstanceIdentityToken',
  gcp: 'GoogleInstanceIdentityToken',
};
const INVALID: Record<Cloud, string> = {
  aws: 'Invalid AWS identity.',
  azure: 'Invalid Azure identity.',
  gcp: 'Invalid GCP identity.',
};

type Fields<K extends string> = { ok: true; values: Record<K, string> } | { ok: false; result: HandlerResult; reason: AttemptReason };

function readRequired<K extends string>(cloud: Cloud, body: unknown, names: readonly K[]): Fields<K> {
  if (!isJsonObject(body)) {
    const kind = body === null ? 'null' : Array.isArray(body) ? 'array' : typeof body;
    // Go decodes null into a struct without error, leaving every field empty.
    if (body !== null) {
      return {
        ok: false,
        reason: 'malformed_body',
        result: {
          status: 400,
          body: {
            message: 'Request body must be valid JSON.',
            detail: `json: cannot unmarshal ${kind} into Go value of type agentsdk.${TYPE_NAMES[cloud]}`,
          },
        },
      };
    }
  }
  const obj = isJsonObject(body) ? body : {};
  const values = {} as Record<K, string>;
  const failed: { field: string; detail: string }[] = [];
  // Field order is the Go struct's, so validation errors list in the same order.
  for (const name of names) {
    const r = readStringField(obj, name);
    if (r.kind === 'wrong_type') {
      return {
        ok: false,
        reason: 'malformed_body',
        result: {
          status: 400,
          body: {
            message: 'Request body must be valid JSON.',
            detail: `json: cannot unmarshal ${r.jsonType} into Go struct field ${TYPE_NAMES[cloud]}.${name} of type string`,
          },
        },
      };
    }
    const value = r.kind === 'string' ? r.value : '';
    if (value === '') failed.push({ field: name, detail: 'Validation failed for tag "required" with value: ""' });
    values[name] = value;
  }
  if (failed.length > 0) {
    return { ok: false, reason: 'validation_failed', result: { status: 400, body: { message: 'Validation failed.', validations: failed } } };
  }
  return { ok: true, values };
}

export function createInstanceIdentityHandlers(options: InstanceIdentityHandlerOptions): InstanceIdentityHandlers {
  const { store, logger, clock } = options;
  const metrics: IdentityMetrics = createIdentityMetrics(options.registry);
  const limiter = new TokenBucketLimiter({
    ratePerSecond: options.rateLimit?.ratePerSecond ?? 1,
    burst: options.rateLimit?.burst ?? 60,
    maxKeys: options.rateLimit?.maxKeys ?? 10_000,
    clock,
  });

  const finish = (cloud: Cloud, reason: AttemptReason, result: HandlerResult, sourceIp: string, extra?: Record<string, unknown>): HandlerResult => {
    metrics.attempts.inc({ cloud, reason });
    if (reason === 'ok') logger.info({ cloud, source_ip: sourceIp, ...extra }, 'instance identity exchanged');
    else logger.warn({ cloud, reason, status: result.status, source_ip: sourceIp, ...extra }, 'instance identity rejected');
    return result;
  };

  const run = async <K extends string>(
    cloud: Cloud,
    names: readonly K[],
    body: unknown,
    sourceIp: string,
    verify: (values: Record<K, string>) => Promise<{ instanceId: string; context: Record<string, string> }>,
  ): Promise<HandlerResult> => {
    const decision = limiter.take(sourceIp);
    if (!decision.allowed) {
      return finish(cloud, 'rate_limited', {
        status: 429,
        body: { message: 'You have been rate limited. Please try again later.', detail: `Instance identity requests are limited per source address; retry in ${decision.retryAfterSeconds}s.` },
        headers: { 'Retry-After': String(decision.retryAfterSeconds) },
      }, sourceIp);
    }
    const fields = readRequired(cloud, body, names);
    if (!fields.ok) return finish(cloud, fields.reason, fields.result, sourceIp);

    let verified: { instanceId: string; context: Record<string, string> };
    const started = clock.monotonic();
    try {
      verified = await verify(fields.values);
    } catch (err) {
      if (!(err instanceof IdentityError)) {
        logger.error({ cloud, err: (err as Error).message }, 'instance identity verifier failed unexpectedly');
        return finish(cloud, 'internal_error', { status: 500, body: { message: 'An internal server error occurred.' } }, sourceIp);
      }
      // coderd answers undecodable GCP claims with 400, every other failure with 401.
      const result: HandlerResult =
        err.code === 'claims_invalid'
          ? { status: 400, body: { message: 'Error decoding JWT claims.', detail: err.detail } }
          : { status: 401, body: { message: INVALID[cloud], detail: err.detail } };
      return finish(cloud, err.code, result, sourceIp);
    } finally {
      metrics.verifySeconds.observe({ cloud }, (clock.monotonic() - started) / 1000);
    }

    const exchanged = await exchangeInstanceId(store, verified.instanceId);
    const extra: Record<string, unknown> = { instance_id: verified.instanceId, ...verified.context };
    if (exchanged.error) extra.error = exchanged.error;
    return finish(cloud, exchanged.reason, { status: exchanged.status, body: exchanged.body }, sourceIp, extra);
  };

  const disabled = (cloud: Cloud): never => {
    throw new IdentityError('cloud_disabled', `${cloud} instance identity is not enabled on this server`);
  };

  return {
    aws: (body, ip) =>
      run('aws', ['signature', 'document'] as const, body, ip, async (v) => {
        const id = options.aws ? options.aws.verify(v.document, v.signature) : disabled('aws');
        return { instanceId: id.instanceId, context: { region: id.region, account_id: id.accountId } };
      }),
    azure: (body, ip) =>
      run('azure', ['signature', 'encoding'] as const, body, ip, async (v) => {
        const id = options.azure ? await options.azure.verify(v.signature) : disabled('azure');
        return { instanceId: id.vmId, context: { subscription_id: id.subscriptionId } };
      }),
    google: (body, ip) =>
      run('gcp', ['json_web_token'] as const, body, ip, async (v) => {
        const id = options.gcp ? await options.gcp.verify(v.json_web_token) : disabled('gcp');
        return { instanceId: id.instanceId, context: { project_id: id.projectId } };
      }),
  };
}
