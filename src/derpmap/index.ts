export type { DERPMap, DERPRegion, DERPNode, DERPHomeParams, DerpMapCheck } from './types.js';
export { DerpMapError, type DerpMapErrorCode } from './errors.js';
export { parseDerpMapJson, parseDerpMapValue, derpMapSchema, type ParseResult } from './schema.js';
export { checkDerpMap } from './check.js';
export { toGoShape, encodeDerpMap, cloneDerpMap } from './encode.js';
export { embeddedRegion, withStunNodes, withLoopbackNodes, parseStunAddress, type EmbeddedRegionOptions } from './embedded.js';
export { buildDerpMap, type BuildOptions } from './build.js';
export { loadDerpMapSource, readSource, isUrl, type FetchFn, type ReadFileFn, type SourceIO } from './source.js';
export { validateDerpMap, type ValidateResult } from './validate.js';
export { DerpMapProvider, type DerpMapProviderOptions, type DerpMapListener } from './provider.js';
export {
  derpMapConfigSchema,
  derpMapConfigEnv,
  derpMapConfigFromEnv,
  parseDurationMs,
  type DerpMapConfig,
  type DerpMapConfigInput,
} from './config.js';
