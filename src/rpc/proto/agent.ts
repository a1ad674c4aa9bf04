/** coder.agent.v2 messages (agent/proto/agent.proto, current field numbers). */
import { Duration, Struct, Timestamp } from './google.js';
import { map, message, msg, msgs, optional, repeated, scalar } from './schema.js';
import { DERPMap } from './tailnet.js';

// ---- Manifest --------------------------------------------------------------

export const SharingLevel = { SHARING_LEVEL_UNSPECIFIED: 0, OWNER: 1, AUTHENTICATED: 2, PUBLIC: 3, ORGANIZATION: 4 } as const;
export const AppHealth = { APP_HEALTH_UNSPECIFIED: 0, DISABLED: 1, INITIALIZING: 2, HEALTHY: 3, UNHEALTHY: 4 } as const;

export interface Healthcheck {
  url: string;
  interval?: Duration;
  threshold: number;
}
export const Healthcheck = message<Healthcheck>('coder.agent.v2.WorkspaceApp.Healthcheck', [
  scalar(1, 'url', 'string'),
  msg(2, 'interval', () => Duration),
  scalar(3, 'threshold', 'int32'),
]);

/** Go agents reject UNSPECIFIED sharing level/health, non-16-byte ids and a missing healthcheck. */
export interface WorkspaceApp {
  id: Uint8Array;
  url: string;
  external: boolean;
  slug: string;
  displayName: string;
  command: string;
  icon: string;
  subdomain: boolean;
  subdomainName: string;
  sharingLevel: number;
  healthcheck?: Healthcheck;
  health: number;
  hidden: boolean;
}
export const WorkspaceApp = message<WorkspaceApp>('coder.agent.v2.WorkspaceApp', [
  scalar(1, 'id', 'bytes'),
  scalar(2, 'url', 'string'),
  scalar(3, 'external', 'bool'),
  scalar(4, 'slug', 'string'),
  scalar(5, 'displayName', 'string'),
  scalar(6, 'command', 'string'),
  scalar(7, 'icon', 'string'),
  scalar(8, 'subdomain', 'bool'),
  scalar(9, 'subdomainName', 'string'),
  scalar(10, 'sharingLevel', 'enum'),
  msg(11, 'healthcheck', () => Healthcheck),
  scalar(12, 'health', 'enum'),
  scalar(13, 'hidden', 'bool'),
]);

export interface WorkspaceAgentScript {
  logSourceId: Uint8Array;
  logPath: string;
  script: string;
  cron: string;
  runOnStart: boolean;
  runOnStop: boolean;
  startBlocksLogin: boolean;
  timeout?: Duration;
  displayName: string;
  id: Uint8Array;
}
export const WorkspaceAgentScript = message<WorkspaceAgentScript>('coder.agent.v2.WorkspaceAgentScript', [
  scalar(1, 'logSourceId', 'bytes'),
  scalar(2, 'logPath', 'string'),
  scalar(3, 'script', 'string'),
  scalar(4, 'cron', 'string'),
  scalar(5, 'runOnStart', 'bool'),
  scalar(6, 'runOnStop', 'bool'),
  scalar(7, 'startBlocksLogin', 'bool'),
  msg(8, 'timeout', () => Duration),
  scalar(9, 'displayName', 'string'),
  scalar(10, 'id', 'bytes'),
]);

export interface MetadataResult {
  collectedAt?: Timestamp;
  age: number;
  value: string;
  error: string;
}
export const MetadataResult = message<MetadataResult>('coder.agent.v2.WorkspaceAgentMetadata.Result', [
  msg(1, 'collectedAt', () => Timestamp),
  scalar(2, 'age', 'int64'),
  scalar(3, 'value', 'string'),
  scalar(4, 'error', 'string'),
]);

export interface MetadataDescription {
  displayName: string;
  key: string;
  script: string;
  interval?: Duration;
  timeout?: Duration;
}
export const MetadataDescription = message<MetadataDescription>('coder.agent.v2.WorkspaceAgentMetadata.Description', [
  scalar(1, 'displayName', 'string'),
  scalar(2, 'key', 'string'),
  scalar(3, 'script', 'string'),
  msg(4, 'interval', () => Duration),
  msg(5, 'timeout', () => Duration),
]);

export interface WorkspaceAgentMetadata {
  result?: MetadataResult;
  description?: MetadataDescription;
}
export const WorkspaceAgentMetadata = message<WorkspaceAgentMetadata>('coder.agent.v2.WorkspaceAgentMetadata', [
  msg(1, 'result', () => MetadataResult),
  msg(2, 'description', () => MetadataDescription),
]);

export interface WorkspaceAgentDevcontainer {
  id: Uint8Array;
  workspaceFolder: string;
  configPath: string;
  name: string;
  subagentId?: Uint8Array;
}
export const WorkspaceAgentDevcontainer = message<WorkspaceAgentDevcontainer>('coder.agent.v2.WorkspaceAgentDevcontainer', [
  scalar(1, 'id', 'bytes'),
  scalar(2, 'workspaceFolder', 'string'),
  scalar(3, 'configPath', 'string'),
  scalar(4, 'name', 'string'),
  optional(5, 'subagentId', 'bytes'),
]);

export interface WorkspaceSecret {
  envName: string;
  filePath: string;
  value: Uint8Array;
}
export const WorkspaceSecret = message<WorkspaceSecret>('coder.agent.v2.WorkspaceSecret', [
  scalar(1, 'envName', 'string'),
  scalar(2, 'filePath', 'string'),
  scalar(3, 'value', 'bytes'),
]);

export interface Manifest {
  agentId: Uint8Array;
  agentName: string;
  ownerUsername: string;
  workspaceId: Uint8Array;
  workspaceName: string;
  gitAuthConfigs: number;
  environmentVariables: Map<string, string>;
  directory: string;
  vsCodePortProxyUri: string;
  motdPath: string;
  disableDirectConnections: boolean;
  derpForceWebsockets: boolean;
  parentId?: Uint8Array;
  /** MUST be present with home_params set. */
  derpMap?: DERPMap;
  scripts: WorkspaceAgentScript[];
  apps: WorkspaceApp[];
  metadata: MetadataDescription[];
  devcontainers: WorkspaceAgentDevcontainer[];
  secrets: WorkspaceSecret[];
}
export const Manifest = message<Manifest>('coder.agent.v2.Manifest', [
  scalar(1, 'agentId', 'bytes'),
  scalar(15, 'agentName', 'string'),
  scalar(13, 'ownerUsername', 'string'),
  scalar(14, 'workspaceId', 'bytes'),
  scalar(16, 'workspaceName', 'string'),
  scalar(2, 'gitAuthConfigs', 'uint32'),
  map(3, 'environmentVariables', 'string', 'string'),
  scalar(4, 'directory', 'string'),
  scalar(5, 'vsCodePortProxyUri', 'string'),
  scalar(6, 'motdPath', 'string'),
  scalar(7, 'disableDirectConnections', 'bool'),
  scalar(8, 'derpForceWebsockets', 'bool'),
  optional(18, 'parentId', 'bytes'),
  msg(9, 'derpMap', () => DERPMap),
  msgs(10, 'scripts', () => WorkspaceAgentScript),
  msgs(11, 'apps', () => WorkspaceApp),
  msgs(12, 'metadata', () => MetadataDescription),
  msgs(17, 'devcontainers', () => WorkspaceAgentDevcontainer),
  msgs(19, 'secrets', () => WorkspaceSecret),
]);

export type GetManifestRequest = Record<string, never>;
export const GetManifestRequest = message<GetManifestRequest>('coder.agent.v2.GetManifestRequest', []);

// ---- Banners ---------------------------------------------------------------

export interface BannerConfig {
  enabled: boolean;
  message: string;
  backgroundColor: string;
}
export const ServiceBanner = message<BannerConfig>('coder.agent.v2.ServiceBanner', [
  scalar(1, 'enabled', 'bool'),
  scalar(2, 'message', 'string'),
  scalar(3, 'backgroundColor', 'string'),
]);
export const BannerConfig = message<BannerConfig>('coder.agent.v2.BannerConfig', [
  scalar(1, 'enabled', 'bool'),
  scalar(2, 'message', 'string'),
  scalar(3, 'backgroundColor', 'string'),
]);

export type GetServiceBannerRequest = Record<string, never>;
export const GetServiceBannerRequest = message<GetServiceBannerRequest>('coder.agent.v2.GetServiceBannerRequest', []);
export type GetAnnouncementBannersRequest = Record<string, never>;
export const GetAnnouncementBannersRequest = message<GetAnnouncementBannersRequest>('coder.agent.v2.GetAnnouncementBannersRequest', []);

export interface GetAnnouncementBannersResponse {
  announcementBanners: BannerConfig[];
}
export const GetAnnouncementBannersResponse = message<GetAnnouncementBannersResponse>('coder.agent.v2.GetAnnouncementBannersResponse', [
  msgs(1, 'announcementBanners', () => BannerConfig),
]);

// ---- Stats -----------------------------------------------------------------

export const MetricType = { TYPE_UNSPECIFIED: 0, COUNTER: 1, GAUGE: 2 } as const;

export interface MetricLabel {
  name: string;
  value: string;
}
export const MetricLabel = message<MetricLabel>('coder.agent.v2.Stats.Metric.Label', [scalar(1, 'name', 'string'), scalar(2, 'value', 'string')]);

export interface Metric {
  name: string;
  type: number;
  value: number;
  labels: MetricLabel[];
}
export const Metric = message<Metric>('coder.agent.v2.Stats.Metric', [
  scalar(1, 'name', 'string'),
  scalar(2, 'type', 'enum'),
  scalar(3, 'value', 'double'),
  msgs(4, 'labels', () => MetricLabel),
]);

export interface Stats {
  connectionsByProto: Map<string, number>;
  connectionCount: number;
  connectionMedianLatencyMs: number;
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  sessionCountVscode: number;
  sessionCountJetbrains: number;
  sessionCountReconnectingPty: number;
  sessionCountSsh: number;
  metrics: Metric[];
  sessionCounts: Map<string, number>;
}
export const Stats = message<Stats>('coder.agent.v2.Stats', [
  map(1, 'connectionsByProto', 'string', 'int64'),
  scalar(2, 'connectionCount', 'int64'),
  scalar(3, 'connectionMedianLatencyMs', 'double'),
  scalar(4, 'rxPackets', 'int64'),
  scalar(5, 'rxBytes', 'int64'),
  scalar(6, 'txPackets', 'int64'),
  scalar(7, 'txBytes', 'int64'),
  scalar(8, 'sessionCountVscode', 'int64'),
  scalar(9, 'sessionCountJetbrains', 'int64'),
  scalar(10, 'sessionCountReconnectingPty', 'int64'),
  scalar(11, 'sessionCountSsh', 'int64'),
  msgs(12, 'metrics', () => Metric),
  map(13, 'sessionCounts', 'string', 'int64'),
]);

export interface UpdateStatsRequest {
  stats?: Stats;
}
export const UpdateStatsRequest = message<UpdateStatsRequest>('coder.agent.v2.UpdateStatsRequest', [msg(1, 'stats', () => Stats)]);

/** report_interval MUST be > 0: the agent builds its ticker from it. */
export interface UpdateStatsResponse {
  reportInterval?: Duration;
}
export const UpdateStatsResponse = message<UpdateStatsResponse>('coder.agent.v2.UpdateStatsResponse', [msg(1, 'reportInterval', () => Duration)]);

// ---- Lifecycle -------------------------------------------------------------

export const LifecycleState = {
  STATE_UNSPECIFIED: 0, CREATED: 1, STARTING: 2, START_TIMEOUT: 3, START_ERROR: 4, READY: 5,
  SHUTTING_DOWN: 6, SHUTDOWN_TIMEOUT: 7, SHUTDOWN_ERROR: 8, OFF: 9,
} as const;

export interface Lifecycle {
  state: number;
  changedAt?: Timestamp;
}
export const Lifecycle = message<Lifecycle>('coder.agent.v2.Lifecycle', [scalar(1, 'state', 'enum'), msg(2, 'changedAt', () => Timestamp)]);

export interface UpdateLifecycleRequest {
  lifecycle?: Lifecycle;
}
export const UpdateLifecycleRequest = message<UpdateLifecycleRequest>('coder.agent.v2.UpdateLifecycleRequest', [msg(1, 'lifecycle', () => Lifecycle)]);

// ---- App health ------------------------------------------------------------

export interface AppHealthUpdate {
  id: Uint8Array;
  health: number;
}
export const AppHealthUpdate = message<AppHealthUpdate>('coder.agent.v2.BatchUpdateAppHealthRequest.HealthUpdate', [
  scalar(1, 'id', 'bytes'),
  scalar(2, 'health', 'enum'),
]);

export interface BatchUpdateAppHealthRequest {
  updates: AppHealthUpdate[];
}
export const BatchUpdateAppHealthRequest = message<BatchUpdateAppHealthRequest>('coder.agent.v2.BatchUpdateAppHealthRequest', [
  msgs(1, 'updates', () => AppHealthUpdate),
]);
export type BatchUpdateAppHealthResponse = Record<string, never>;
export const BatchUpdateAppHealthResponse = message<BatchUpdateAppHealthResponse>('coder.agent.v2.BatchUpdateAppHealthResponse', []);

// ---- Startup ---------------------------------------------------------------

export const Subsystem = { SUBSYSTEM_UNSPECIFIED: 0, ENVBOX: 1, ENVBUILDER: 2, EXECTRACE: 3 } as const;

export interface Startup {
  version: string;
  expandedDirectory: string;
  subsystems: number[];
}
export const Startup = message<Startup>('coder.agent.v2.Startup', [
  scalar(1, 'version', 'string'),
  scalar(2, 'expandedDirectory', 'string'),
  repeated(3, 'subsystems', 'enum'),
]);

export interface UpdateStartupRequest {
  startup?: Startup;
}
export const UpdateStartupRequest = message<UpdateStartupRequest>('coder.agent.v2.UpdateStartupRequest', [msg(1, 'startup', () => Startup)]);

// ---- Metadata --------------------------------------------------------------

export interface Metadata {
  key: string;
  result?: MetadataResult;
}
export const Metadata = message<Metadata>('coder.agent.v2.Metadata', [scalar(1, 'key', 'string'), msg(2, 'result', () => MetadataResult)]);

/** Note: field 2, not 1. */
export interface BatchUpdateMetadataRequest {
  metadata: Metadata[];
}
export const BatchUpdateMetadataRequest = message<BatchUpdateMetadataRequest>('coder.agent.v2.BatchUpdateMetadataRequest', [
  msgs(2, 'metadata', () => Metadata),
]);
export type BatchUpdateMetadataResponse = Record<string, never>;
export const BatchUpdateMetadataResponse = message<BatchUpdateMetadataResponse>('coder.agent.v2.BatchUpdateMetadataResponse', []);

// ---- Logs ------------------------------------------------------------------

export const LogLevel = { LEVEL_UNSPECIFIED: 0, TRACE: 1, DEBUG: 2, INFO: 3, WARN: 4, ERROR: 5 } as const;

export interface Log {
  createdAt?: Timestamp;
  output: string;
  level: number;
}
export const Log = message<Log>('coder.agent.v2.Log', [msg(1, 'createdAt', () => Timestamp), scalar(2, 'output', 'string'), scalar(3, 'level', 'enum')]);

export interface BatchCreateLogsRequest {
  logSourceId: Uint8Array;
  logs: Log[];
}
export const BatchCreateLogsRequest = message<BatchCreateLogsRequest>('coder.agent.v2.BatchCreateLogsRequest', [
  scalar(1, 'logSourceId', 'bytes'),
  msgs(2, 'logs', () => Log),
]);

export interface BatchCreateLogsResponse {
  logLimitExceeded: boolean;
}
export const BatchCreateLogsResponse = message<BatchCreateLogsResponse>('coder.agent.v2.BatchCreateLogsResponse', [scalar(1, 'logLimitExceeded', 'bool')]);

// ---- Script timings --------------------------------------------------------

export const TimingStage = { START: 0, STOP: 1, CRON: 2 } as const;
export const TimingStatus = { OK: 0, EXIT_FAILURE: 1, TIMED_OUT: 2, PIPES_LEFT_OPEN: 3 } as const;

export interface Timing {
  scriptId: Uint8Array;
  start?: Timestamp;
  end?: Timestamp;
  exitCode: number;
  stage: number;
  status: number;
}
export const Timing = message<Timing>('coder.agent.v2.Timing', [
  scalar(1, 'scriptId', 'bytes'),
  msg(2, 'start', () => Timestamp),
  msg(3, 'end', () => Timestamp),
  scalar(4, 'exitCode', 'int32'),
  scalar(5, 'stage', 'enum'),
  scalar(6, 'status', 'enum'),
]);

export interface WorkspaceAgentScriptCompletedRequest {
  timing?: Timing;
}
export const WorkspaceAgentScriptCompletedRequest = message<WorkspaceAgentScriptCompletedRequest>('coder.agent.v2.WorkspaceAgentScriptCompletedRequest', [
  msg(1, 'timing', () => Timing),
]);
export type WorkspaceAgentScriptCompletedResponse = Record<string, never>;
export const WorkspaceAgentScriptCompletedResponse = message<WorkspaceAgentScriptCompletedResponse>('coder.agent.v2.WorkspaceAgentScriptCompletedResponse', []);

// ---- Resources monitoring --------------------------------------------------

export interface ResourcesMonitoringConfig {
  numDatapoints: number;
  collectionIntervalSeconds: number;
}
export const ResourcesMonitoringConfig = message<ResourcesMonitoringConfig>('coder.agent.v2.GetResourcesMonitoringConfigurationResponse.Config', [
  scalar(1, 'numDatapoints', 'int32'),
  scalar(2, 'collectionIntervalSeconds', 'int32'),
]);

export interface MemoryMonitor {
  enabled: boolean;
}
export const MemoryMonitor = message<MemoryMonitor>('coder.agent.v2.GetResourcesMonitoringConfigurationResponse.Memory', [scalar(1, 'enabled', 'bool')]);

export interface VolumeMonitor {
  enabled: boolean;
  path: string;
}
export const VolumeMonitor = message<VolumeMonitor>('coder.agent.v2.GetResourcesMonitoringConfigurationResponse.Volume', [
  scalar(1, 'enabled', 'bool'),
  scalar(2, 'path', 'string'),
]);

export type GetResourcesMonitoringConfigurationRequest = Record<string, never>;
export const GetResourcesMonitoringConfigurationRequest = message<GetResourcesMonitoringConfigurationRequest>('coder.agent.v2.GetResourcesMonitoringConfigurationRequest', []);

/** `config` MUST be present: the agent dereferences it. */
export interface GetResourcesMonitoringConfigurationResponse {
  config?: ResourcesMonitoringConfig;
  memory?: MemoryMonitor;
  volumes: VolumeMonitor[];
}
export const GetResourcesMonitoringConfigurationResponse = message<GetResourcesMonitoringConfigurationResponse>('coder.agent.v2.GetResourcesMonitoringConfigurationResponse', [
  msg(1, 'config', () => ResourcesMonitoringConfig),
  msg(2, 'memory', () => MemoryMonitor),
  msgs(3, 'volumes', () => VolumeMonitor),
]);

export interface MemoryUsage {
  used: number;
  total: number;
}
export const MemoryUsage = message<MemoryUsage>('coder.agent.v2.PushResourcesMonitoringUsageRequest.Datapoint.MemoryUsage', [
  scalar(1, 'used', 'int64'),
  scalar(2, 'total', 'int64'),
]);

export interface VolumeUsage {
  volume: string;
  used: number;
  total: number;
}
export const VolumeUsage = message<VolumeUsage>('coder.agent.v2.PushResourcesMonitoringUsageRequest.Datapoint.VolumeUsage', [
  scalar(1, 'volume', 'string'),
  scalar(2, 'used', 'int64'),
  scalar(3, 'total', 'int64'),
]);

export interface ResourcesDatapoint {
  collectedAt?: Timestamp;
  memory?: MemoryUsage;
  volumes: VolumeUsage[];
}
export const ResourcesDatapoint = message<ResourcesDatapoint>('coder.agent.v2.PushResourcesMonitoringUsageRequest.Datapoint', [
  msg(1, 'collectedAt', () => Timestamp),
  msg(2, 'memory', () => MemoryUsage),
  msgs(3, 'volumes', () => VolumeUsage),
]);

export interface PushResourcesMonitoringUsageRequest {
  datapoints: ResourcesDatapoint[];
}
export const PushResourcesMonitoringUsageRequest = message<PushResourcesMonitoringUsageRequest>('coder.agent.v2.PushResourcesMonitoringUsageRequest', [
  msgs(1, 'datapoints', () => ResourcesDatapoint),
]);
export type PushResourcesMonitoringUsageResponse = Record<string, never>;
export const PushResourcesMonitoringUsageResponse = message<PushResourcesMonitoringUsageResponse>('coder.agent.v2.PushResourcesMonitoringUsageResponse', []);

// ---- Connection reports ----------------------------------------------------

export const ConnectionAction = { ACTION_UNSPECIFIED: 0, CONNECT: 1, DISCONNECT: 2 } as const;
export const ConnectionType = { TYPE_UNSPECIFIED: 0, SSH: 1, VSCODE: 2, JETBRAINS: 3, RECONNECTING_PTY: 4 } as const;

export interface Connection {
  id: Uint8Array;
  action: number;
  type: number;
  timestamp?: Timestamp;
  ip: string;
  statusCode: number;
  reason?: string;
}
export const Connection = message<Connection>('coder.agent.v2.Connection', [
  scalar(1, 'id', 'bytes'),
  scalar(2, 'action', 'enum'),
  scalar(3, 'type', 'enum'),
  msg(4, 'timestamp', () => Timestamp),
  scalar(5, 'ip', 'string'),
  scalar(6, 'statusCode', 'int32'),
  optional(7, 'reason', 'string'),
]);

export interface ReportConnectionRequest {
  connection?: Connection;
}
export const ReportConnectionRequest = message<ReportConnectionRequest>('coder.agent.v2.ReportConnectionRequest', [msg(1, 'connection', () => Connection)]);

// ---- Sub-agents (2.6+) -----------------------------------------------------

export interface SubAgent {
  name: string;
  id: Uint8Array;
  authToken: Uint8Array;
}
export const SubAgent = message<SubAgent>('coder.agent.v2.SubAgent', [scalar(1, 'name', 'string'), scalar(2, 'id', 'bytes'), scalar(3, 'authToken', 'bytes')]);

export interface DeleteSubAgentRequest {
  id: Uint8Array;
}
export const DeleteSubAgentRequest = message<DeleteSubAgentRequest>('coder.agent.v2.DeleteSubAgentRequest', [scalar(1, 'id', 'bytes')]);
export type DeleteSubAgentResponse = Record<string, never>;
export const DeleteSubAgentResponse = message<DeleteSubAgentResponse>('coder.agent.v2.DeleteSubAgentResponse', []);
export type ListSubAgentsRequest = Record<string, never>;
export const ListSubAgentsRequest = message<ListSubAgentsRequest>('coder.agent.v2.ListSubAgentsRequest', []);

export interface ListSubAgentsResponse {
  agents: SubAgent[];
}
export const ListSubAgentsResponse = message<ListSubAgentsResponse>('coder.agent.v2.ListSubAgentsResponse', [msgs(1, 'agents', () => SubAgent)]);

// ---- App status (2.8) ------------------------------------------------------

export const AppStatusState = { WORKING: 0, IDLE: 1, COMPLETE: 2, FAILURE: 3 } as const;

export interface UpdateAppStatusRequest {
  slug: string;
  state: number;
  message: string;
  uri: string;
}
export const UpdateAppStatusRequest = message<UpdateAppStatusRequest>('coder.agent.v2.UpdateAppStatusRequest', [
  scalar(1, 'slug', 'string'),
  scalar(2, 'state', 'enum'),
  scalar(3, 'message', 'string'),
  scalar(4, 'uri', 'string'),
]);
export type UpdateAppStatusResponse = Record<string, never>;
export const UpdateAppStatusResponse = message<UpdateAppStatusResponse>('coder.agent.v2.UpdateAppStatusResponse', []);

/** dRPC method names of the Agent service. */
export const AgentMethods = {
  GetManifest: '/coder.agent.v2.Agent/GetManifest',
  GetServiceBanner: '/coder.agent.v2.Agent/GetServiceBanner',
  UpdateStats: '/coder.agent.v2.Agent/UpdateStats',
  UpdateLifecycle: '/coder.agent.v2.Agent/UpdateLifecycle',
  BatchUpdateAppHealths: '/coder.agent.v2.Agent/BatchUpdateAppHealths',
  UpdateStartup: '/coder.agent.v2.Agent/UpdateStartup',
  BatchUpdateMetadata: '/coder.agent.v2.Agent/BatchUpdateMetadata',
  BatchCreateLogs: '/coder.agent.v2.Agent/BatchCreateLogs',
  GetAnnouncementBanners: '/coder.agent.v2.Agent/GetAnnouncementBanners',
  ScriptCompleted: '/coder.agent.v2.Agent/ScriptCompleted',
  GetResourcesMonitoringConfiguration: '/coder.agent.v2.Agent/GetResourcesMonitoringConfiguration',
  PushResourcesMonitoringUsage: '/coder.agent.v2.Agent/PushResourcesMonitoringUsage',
  ReportConnection: '/coder.agent.v2.Agent/ReportConnection',
  CreateSubAgent: '/coder.agent.v2.Agent/CreateSubAgent',
  DeleteSubAgent: '/coder.agent.v2.Agent/DeleteSubAgent',
  ListSubAgents: '/coder.agent.v2.Agent/ListSubAgents',
  ReportBoundaryLogs: '/coder.agent.v2.Agent/ReportBoundaryLogs',
  UpdateAppStatus: '/coder.agent.v2.Agent/UpdateAppStatus',
  PushContextState: '/coder.agent.v2.Agent/PushContextState',
} as const;

// ---- Sub-agent creation (2.6+) ---------------------------------------------

export const DisplayApp = { VSCODE: 0, VSCODE_INSIDERS: 1, WEB_TERMINAL: 2, SSH_HELPER: 3, PORT_FORWARDING_HELPER: 4 } as const;
export const SubAgentAppOpenIn = { SLIM_WINDOW: 0, TAB: 1 } as const;
/** Note: numbered differently from WorkspaceApp's SharingLevel. */
export const SubAgentAppShare = { OWNER: 0, AUTHENTICATED: 1, PUBLIC: 2, ORGANIZATION: 3 } as const;

export interface SubAgentAppHealthcheck {
  interval: number;
  threshold: number;
  url: string;
}
export const SubAgentAppHealthcheck = message<SubAgentAppHealthcheck>('coder.agent.v2.CreateSubAgentRequest.App.Healthcheck', [
  scalar(1, 'interval', 'int32'),
  scalar(2, 'threshold', 'int32'),
  scalar(3, 'url', 'string'),
]);

export interface SubAgentApp {
  slug: string;
  command?: string;
  displayName?: string;
  external?: boolean;
  group?: string;
  healthcheck?: SubAgentAppHealthcheck;
  hidden?: boolean;
  icon?: string;
  openIn?: number;
  order?: number;
  share?: number;
  subdomain?: boolean;
  url?: string;
}
export const SubAgentApp = message<SubAgentApp>('coder.agent.v2.CreateSubAgentRequest.App', [
  scalar(1, 'slug', 'string'),
  optional(2, 'command', 'string'),
  optional(3, 'displayName', 'string'),
  optional(4, 'external', 'bool'),
  optional(5, 'group', 'string'),
  msg(6, 'healthcheck', () => SubAgentAppHealthcheck),
  optional(7, 'hidden', 'bool'),
  optional(8, 'icon', 'string'),
  optional(9, 'openIn', 'enum'),
  optional(10, 'order', 'int32'),
  optional(11, 'share', 'enum'),
  optional(12, 'subdomain', 'bool'),
  optional(13, 'url', 'string'),
]);

export interface CreateSubAgentRequest {
  name: string;
  directory: string;
  architecture: string;
  operatingSystem: string;
  apps: SubAgentApp[];
  displayApps: number[];
  id?: Uint8Array;
}
export const CreateSubAgentRequest = message<CreateSubAgentRequest>('coder.agent.v2.CreateSubAgentRequest', [
  scalar(1, 'name', 'string'),
  scalar(2, 'directory', 'string'),
  scalar(3, 'architecture', 'string'),
  scalar(4, 'operatingSystem', 'string'),
  msgs(5, 'apps', () => SubAgentApp),
  repeated(6, 'displayApps', 'enum'),
  optional(7, 'id', 'bytes'),
]);

export interface AppCreationError {
  index: number;
  field?: string;
  error: string;
}
export const AppCreationError = message<AppCreationError>('coder.agent.v2.CreateSubAgentResponse.AppCreationError', [
  scalar(1, 'index', 'int32'),
  optional(2, 'field', 'string'),
  scalar(3, 'error', 'string'),
]);

export interface CreateSubAgentResponse {
  agent?: SubAgent;
  appCreationErrors: AppCreationError[];
}
export const CreateSubAgentResponse = message<CreateSubAgentResponse>('coder.agent.v2.CreateSubAgentResponse', [
  msg(1, 'agent', () => SubAgent),
  msgs(2, 'appCreationErrors', () => AppCreationError),
]);

// ---- Boundary logs (2.7 / 2.9) ----------------------------------------------

export interface BoundaryHttpRequest {
  method: string;
  url: string;
  matchedRule: string;
}
export const BoundaryHttpRequest = message<BoundaryHttpRequest>('coder.agent.v2.BoundaryLog.HttpRequest', [
  scalar(1, 'method', 'string'),
  scalar(2, 'url', 'string'),
  scalar(3, 'matchedRule', 'string'),
]);

export interface BoundaryLog {
  allowed: boolean;
  time?: Timestamp;
  /** oneof resource */
  httpRequest?: BoundaryHttpRequest;
  sequenceNumber: number;
}
export const BoundaryLog = message<BoundaryLog>('coder.agent.v2.BoundaryLog', [
  scalar(1, 'allowed', 'bool'),
  msg(2, 'time', () => Timestamp),
  msg(3, 'httpRequest', () => BoundaryHttpRequest),
  scalar(4, 'sequenceNumber', 'int32'),
]);

export interface ReportBoundaryLogsRequest {
  logs: BoundaryLog[];
  sessionId: string;
  confinedProcessName: string;
}
export const ReportBoundaryLogsRequest = message<ReportBoundaryLogsRequest>('coder.agent.v2.ReportBoundaryLogsRequest', [
  msgs(1, 'logs', () => BoundaryLog),
  scalar(2, 'sessionId', 'string'),
  scalar(3, 'confinedProcessName', 'string'),
]);
export type ReportBoundaryLogsResponse = Record<string, never>;
export const ReportBoundaryLogsResponse = message<ReportBoundaryLogsResponse>('coder.agent.v2.ReportBoundaryLogsResponse', []);

// ---- Context state (2.10) ---------------------------------------------------

export const ContextResourceStatus = { STATUS_UNSPECIFIED: 0, OK: 1, OVERSIZE: 2, UNREADABLE: 3, INVALID: 4, EXCLUDED: 5 } as const;

export interface InstructionFileBody {
  content: Uint8Array;
}
export const InstructionFileBody = message<InstructionFileBody>('coder.agent.v2.InstructionFileBody', [scalar(1, 'content', 'bytes')]);

export interface SkillMetaBody {
  meta: Uint8Array;
  name: string;
  description: string;
}
export const SkillMetaBody = message<SkillMetaBody>('coder.agent.v2.SkillMetaBody', [
  scalar(1, 'meta', 'bytes'),
  scalar(2, 'name', 'string'),
  scalar(3, 'description', 'string'),
]);

/** Intentionally empty: .mcp.json may hold secrets and never leaves the agent. */
export type MCPConfigBody = Record<string, never>;
export const MCPConfigBody = message<MCPConfigBody>('coder.agent.v2.MCPConfigBody', []);

export interface MCPTool {
  name: string;
  description: string;
  inputSchema?: Struct;
}
export const MCPTool = message<MCPTool>('coder.agent.v2.MCPTool', [
  scalar(1, 'name', 'string'),
  scalar(2, 'description', 'string'),
  msg(3, 'inputSchema', () => Struct),
]);

export interface MCPServerBody {
  serverName: string;
  description: string;
  tools: MCPTool[];
}
export const MCPServerBody = message<MCPServerBody>('coder.agent.v2.MCPServerBody', [
  scalar(1, 'serverName', 'string'),
  scalar(2, 'description', 'string'),
  msgs(3, 'tools', () => MCPTool),
]);

export interface ContextResource {
  source: string;
  sourcePath?: string;
  contentHash: Uint8Array;
  /** uint64 as bigint (exact). */
  sizeBytes: bigint;
  status: number;
  error: string;
  /** oneof body: at most one of the four is set. */
  instructionFile?: InstructionFileBody;
  skill?: SkillMetaBody;
  mcpConfig?: MCPConfigBody;
  mcpServer?: MCPServerBody;
}
export const ContextResource = message<ContextResource>('coder.agent.v2.ContextResource', [
  scalar(1, 'source', 'string'),
  optional(2, 'sourcePath', 'string'),
  scalar(3, 'contentHash', 'bytes'),
  scalar(4, 'sizeBytes', 'uint64big'),
  scalar(5, 'status', 'enum'),
  scalar(6, 'error', 'string'),
  msg(10, 'instructionFile', () => InstructionFileBody),
  msg(11, 'skill', () => SkillMetaBody),
  msg(12, 'mcpConfig', () => MCPConfigBody),
  msg(13, 'mcpServer', () => MCPServerBody),
]);

export interface PushContextStateRequest {
  /** uint64 per-process push counter, as bigint (exact). */
  version: bigint;
  aggregateHash: Uint8Array;
  resources: ContextResource[];
  initial: boolean;
  snapshotError: string;
}
export const PushContextStateRequest = message<PushContextStateRequest>('coder.agent.v2.PushContextStateRequest', [
  scalar(1, 'version', 'uint64big'),
  scalar(2, 'aggregateHash', 'bytes'),
  msgs(3, 'resources', () => ContextResource),
  scalar(4, 'initial', 'bool'),
  scalar(6, 'snapshotError', 'string'),
]);

export interface PushContextStateResponse {
  accepted: boolean;
}
export const PushContextStateResponse = message<PushContextStateResponse>('coder.agent.v2.PushContextStateResponse', [scalar(1, 'accepted', 'bool')]);
