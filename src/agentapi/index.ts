/** The Agent service (coder.agent.v2.Agent) served on /me/rpc. */
export { createAgentService, METADATA_KEYS_LIMIT, METADATA_VALUE_LIMIT, metadataChannel, type AgentApiDeps, type AgentIdentity } from './service.js';
export { appendAgentLogs, agentLogsChannel, EXTERNAL_LOG_SOURCE, LOG_LEVELS, type AppendLogsDeps } from './logs.js';
export { buildManifest, startupScriptIds, derivedUuid, vscodePortProxyUri, type ManifestOptions } from './manifest.js';
