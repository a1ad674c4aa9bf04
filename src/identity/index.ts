export { AwsVerifier, type AwsIdentity, type AwsVerifierOptions } from './aws.js';
export { AzureVerifier, AZURE_SIGNER_CN, type AzureIdentity, type AzureVerifierOptions } from './azure.js';
export { TrustAnchors } from './chain.js';
export { identityConfigSchema, IDENTITY_ENV, identityEnvValues, type IdentityConfig } from './config.js';
export { IdentityError, type IdentityErrorCode, type Cloud } from './errors.js';
export { exchangeInstanceId, type InstanceIdentityStore, type InstanceAgent } from './exchange.js';
export { GcpVerifier, GOOGLE_ISSUERS, type GcpIdentity, type GcpVerifierOptions } from './gcp.js';
export {
  createInstanceIdentityHandlers,
  type HandlerResult,
  type IdentityHandler,
  type InstanceIdentityHandlers,
  type InstanceIdentityHandlerOptions,
} from './handlers.js';
export { RemoteJwks, staticJwks, parseJwks, GOOGLE_JWKS_URL } from './jwks.js';
export { TokenBucketLimiter } from './ratelimit.js';
export { createIdentityVerifiers, identityRateLimit, splitPemBundle, type IdentityVerifiers } from './setup.js';
