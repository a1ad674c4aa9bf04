/**
 * Typed registration of coder.agent.v2.Agent on an RpcMux. Methods left out
 * of `impl` answer Unimplemented (code 12). Only do that for RPCs the agent
 * tolerates failing (spec §4.1): GetManifest, UpdateStats, UpdateLifecycle,
 * UpdateStartup, BatchUpdateMetadata, BatchCreateLogs, GetAnnouncementBanners,
 * GetResourcesMonitoringConfiguration and (for v2.20–v2.2x agents)
 * ReportConnection are fatal on error.
 */
import type { RpcContext, RpcMux } from '../drpc/mux.js';
import * as a from '../proto/agent.js';
import { Empty } from '../proto/google.js';
import type { MessageCodec } from '../proto/schema.js';

type Ret<T> = T | Promise<T>;
type Unary<Req, Res> = (req: Req, ctx: RpcContext) => Ret<Res>;

export interface AgentServiceImpl {
  getManifest?: Unary<a.GetManifestRequest, a.Manifest>;
  getServiceBanner?: Unary<a.GetServiceBannerRequest, a.BannerConfig>;
  updateStats?: Unary<a.UpdateStatsRequest, a.UpdateStatsResponse>;
  updateLifecycle?: Unary<a.UpdateLifecycleRequest, a.Lifecycle>;
  batchUpdateAppHealths?: Unary<a.BatchUpdateAppHealthRequest, a.BatchUpdateAppHealthResponse>;
  updateStartup?: Unary<a.UpdateStartupRequest, a.Startup>;
  batchUpdateMetadata?: Unary<a.BatchUpdateMetadataRequest, a.BatchUpdateMetadataResponse>;
  batchCreateLogs?: Unary<a.BatchCreateLogsRequest, a.BatchCreateLogsResponse>;
  getAnnouncementBanners?: Unary<a.GetAnnouncementBannersRequest, a.GetAnnouncementBannersResponse>;
  scriptCompleted?: Unary<a.WorkspaceAgentScriptCompletedRequest, a.WorkspaceAgentScriptCompletedResponse>;
  getResourcesMonitoringConfiguration?: Unary<a.GetResourcesMonitoringConfigurationRequest, a.GetResourcesMonitoringConfigurationResponse>;
  pushResourcesMonitoringUsage?: Unary<a.PushResourcesMonitoringUsageRequest, a.PushResourcesMonitoringUsageResponse>;
  reportConnection?: Unary<a.ReportConnectionRequest, Empty>;
  createSubAgent?: Unary<a.CreateSubAgentRequest, a.CreateSubAgentResponse>;
  deleteSubAgent?: Unary<a.DeleteSubAgentRequest, a.DeleteSubAgentResponse>;
  listSubAgents?: Unary<a.ListSubAgentsRequest, a.ListSubAgentsResponse>;
  reportBoundaryLogs?: Unary<a.ReportBoundaryLogsRequest, a.ReportBoundaryLogsResponse>;
  updateAppStatus?: Unary<a.UpdateAppStatusRequest, a.UpdateAppStatusResponse>;
  pushContextState?: Unary<a.PushContextStateRequest, a.PushContextStateResponse>;
}

export function registerAgentService(mux: RpcMux, impl: AgentServiceImpl): RpcMux {
  const M = a.AgentMethods;
  const reg = <Req, Res>(name: string, req: MessageCodec<Req>, res: MessageCodec<Res>, fn: Unary<Req, Res> | undefined): void => {
    if (fn) mux.unary(name, req, res, fn.bind(impl));
  };
  reg(M.GetManifest, a.GetManifestRequest, a.Manifest, impl.getManifest);
  reg(M.GetServiceBanner, a.GetServiceBannerRequest, a.ServiceBanner, impl.getServiceBanner);
  reg(M.UpdateStats, a.UpdateStatsRequest, a.UpdateStatsResponse, impl.updateStats);
  reg(M.UpdateLifecycle, a.UpdateLifecycleRequest, a.Lifecycle, impl.updateLifecycle);
  reg(M.BatchUpdateAppHealths, a.BatchUpdateAppHealthRequest, a.BatchUpdateAppHealthResponse, impl.batchUpdateAppHealths);
  reg(M.UpdateStartup, a.UpdateStartupRequest, a.Startup, impl.updateStartup);
  reg(M.BatchUpdateMetadata, a.BatchUpdateMetadataRequest, a.BatchUpdateMetadataResponse, impl.batchUpdateMetadata);
  reg(M.BatchCreateLogs, a.BatchCreateLogsRequest, a.BatchCreateLogsResponse, impl.batchCreateLogs);
  reg(M.GetAnnouncementBanners, a.GetAnnouncementBannersRequest, a.GetAnnouncementBannersResponse, impl.getAnnouncementBanners);
  reg(M.ScriptCompleted, a.WorkspaceAgentScriptCompletedRequest, a.WorkspaceAgentScriptCompletedResponse, impl.scriptCompleted);
  reg(M.GetResourcesMonitoringConfiguration, a.GetResourcesMonitoringConfigurationRequest, a.GetResourcesMonitoringConfigurationResponse, impl.getResourcesMonitoringConfiguration);
  reg(M.PushResourcesMonitoringUsage, a.PushResourcesMonitoringUsageRequest, a.PushResourcesMonitoringUsageResponse, impl.pushResourcesMonitoringUsage);
  reg(M.ReportConnection, a.ReportConnectionRequest, Empty, impl.reportConnection);
  reg(M.CreateSubAgent, a.CreateSubAgentRequest, a.CreateSubAgentResponse, impl.createSubAgent);
  reg(M.DeleteSubAgent, a.DeleteSubAgentRequest, a.DeleteSubAgentResponse, impl.deleteSubAgent);
  reg(M.ListSubAgents, a.ListSubAgentsRequest, a.ListSubAgentsResponse, impl.listSubAgents);
  reg(M.ReportBoundaryLogs, a.ReportBoundaryLogsRequest, a.ReportBoundaryLogsResponse, impl.reportBoundaryLogs);
  reg(M.UpdateAppStatus, a.UpdateAppStatusRequest, a.UpdateAppStatusResponse, impl.updateAppStatus);
  reg(M.PushContextState, a.PushContextStateRequest, a.PushContextStateResponse, impl.pushContextState);
  return mux;
}
