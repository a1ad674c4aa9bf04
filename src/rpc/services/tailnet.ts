/**
 * Typed registration of coder.tailnet.v2.Tailnet on an RpcMux. Methods left
 * out of `impl` are not registered, so callers get Unimplemented (code 12),
 * which Go clients treat as "feature off".
 */
import type { RpcContext, RpcMux, ServerStream } from '../drpc/mux.js';
import {
  CoordinateRequest,
  CoordinateResponse,
  DERPMap,
  RefreshResumeTokenRequest,
  RefreshResumeTokenResponse,
  StreamDERPMapsRequest,
  TailnetMethods,
  TelemetryRequest,
  TelemetryResponse,
  WorkspaceUpdate,
  WorkspaceUpdatesRequest,
} from '../proto/tailnet.js';

type Ret<T> = T | Promise<T>;

export interface TailnetServiceImpl {
  postTelemetry?(req: TelemetryRequest, ctx: RpcContext): Ret<TelemetryResponse>;
  /** Send the current map at once; every map needs home_params. */
  streamDERPMaps?(req: StreamDERPMapsRequest, send: (m: DERPMap) => Promise<void>, ctx: RpcContext): Promise<void>;
  refreshResumeToken?(req: RefreshResumeTokenRequest, ctx: RpcContext): Ret<RefreshResumeTokenResponse>;
  /** recv() → null on CloseSend or cancellation (ctx.signal.aborted tells them apart). */
  coordinate?(stream: ServerStream<CoordinateRequest, CoordinateResponse>, ctx: RpcContext): Promise<void>;
  workspaceUpdates?(req: WorkspaceUpdatesRequest, send: (m: WorkspaceUpdate) => Promise<void>, ctx: RpcContext): Promise<void>;
}

export function registerTailnetService(mux: RpcMux, impl: TailnetServiceImpl): RpcMux {
  if (impl.postTelemetry) mux.unary(TailnetMethods.PostTelemetry, TelemetryRequest, TelemetryResponse, impl.postTelemetry.bind(impl));
  if (impl.streamDERPMaps) mux.serverStream(TailnetMethods.StreamDERPMaps, StreamDERPMapsRequest, DERPMap, impl.streamDERPMaps.bind(impl));
  if (impl.refreshResumeToken) mux.unary(TailnetMethods.RefreshResumeToken, RefreshResumeTokenRequest, RefreshResumeTokenResponse, impl.refreshResumeToken.bind(impl));
  if (impl.coordinate) mux.bidi(TailnetMethods.Coordinate, CoordinateRequest, CoordinateResponse, impl.coordinate.bind(impl));
  if (impl.workspaceUpdates) mux.serverStream(TailnetMethods.WorkspaceUpdates, WorkspaceUpdatesRequest, WorkspaceUpdate, impl.workspaceUpdates.bind(impl));
  return mux;
}
