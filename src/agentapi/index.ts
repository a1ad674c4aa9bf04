/** The Agent service (coder.agent.v2.Agent) served on /me/rpc. */
export { createAgentService, EXTERNAL_LOG_SOURCE, METADATA_KEYS_LIMIT, METADATA_VALUE_LIMIT, metadataChannel, agentLogsChannel, type AgentApiDeps, type AgentIdentity } from './service.js';
export { buildManifest, startupScriptIds, derivedUuid, vscodePortProxyUri, type ManifestOptions } from './manifest.js';
