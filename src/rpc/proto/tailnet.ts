/** coder.tailnet.v2 messages (tailnet/proto/tailnet.proto, current field numbers). */
import { BoolValue, Duration, FloatValue, Timestamp } from './google.js';
import { map, message, msg, msgs, repeated, scalar } from './schema.js';

// ---- DERP map --------------------------------------------------------------

export interface DERPHomeParams {
  regionScore: Map<number, number>;
}
export const DERPHomeParams = message<DERPHomeParams>('coder.tailnet.v2.DERPMap.HomeParams', [map(1, 'regionScore', 'int64', 'double')]);

export interface DERPNode {
  name: string;
  regionId: number;
  hostName: string;
  certName: string;
  ipv4: string;
  ipv6: string;
  stunPort: number;
  stunOnly: boolean;
  derpPort: number;
  insecureForTests: boolean;
  forceHttp: boolean;
  stunTestIp: string;
  canPort80: boolean;
}
export const DERPNode = message<DERPNode>('coder.tailnet.v2.DERPMap.Region.Node', [
  scalar(1, 'name', 'string'),
  scalar(2, 'regionId', 'int64'),
  scalar(3, 'hostName', 'string'),
  scalar(4, 'certName', 'string'),
  scalar(5, 'ipv4', 'string'),
  scalar(6, 'ipv6', 'string'),
  scalar(7, 'stunPort', 'int32'),
  scalar(8, 'stunOnly', 'bool'),
  scalar(9, 'derpPort', 'int32'),
  scalar(10, 'insecureForTests', 'bool'),
  scalar(11, 'forceHttp', 'bool'),
  scalar(12, 'stunTestIp', 'string'),
  scalar(13, 'canPort80', 'bool'),
]);

export interface DERPRegion {
  regionId: number;
  embeddedRelay: boolean;
  regionCode: string;
  regionName: string;
  avoid: boolean;
  nodes: DERPNode[];
}
export const DERPRegion = message<DERPRegion>('coder.tailnet.v2.DERPMap.Region', [
  scalar(1, 'regionId', 'int64'),
  scalar(2, 'embeddedRelay', 'bool'),
  scalar(3, 'regionCode', 'string'),
  scalar(4, 'regionName', 'string'),
  scalar(5, 'avoid', 'bool'),
  msgs(6, 'nodes', () => DERPNode),
]);

/**
 * Go's DERPMapFromProto dereferences home_params unconditionally: always set
 * it (an empty one is fine) when sending. The encoder does not add it for you.
 */
export interface DERPMap {
  homeParams?: DERPHomeParams;
  regions: Map<number, DERPRegion>;
}
export const DERPMap = message<DERPMap>('coder.tailnet.v2.DERPMap', [msg(1, 'homeParams', () => DERPHomeParams), map(2, 'regions', 'int64', () => DERPRegion)]);

export type StreamDERPMapsRequest = Record<string, never>;
export const StreamDERPMapsRequest = message<StreamDERPMapsRequest>('coder.tailnet.v2.StreamDERPMapsRequest', []);

// ---- Node and coordination -------------------------------------------------

export interface Node {
  /** 64-bit node id; exceeds 2^53, hence bigint. */
  id: bigint;
  asOf?: Timestamp;
  /** "np" + 32 raw key bytes (34 bytes). */
  key: Uint8Array;
  /** "discokey:" + 64 hex. */
  disco: string;
  preferredDerp: number;
  derpLatency: Map<string, number>;
  derpForcedWebsocket: Map<number, string>;
  addresses: string[];
  allowedIps: string[];
  endpoints: string[];
}
export const Node = message<Node>('coder.tailnet.v2.Node', [
  scalar(1, 'id', 'int64big'),
  msg(2, 'asOf', () => Timestamp),
  scalar(3, 'key', 'bytes'),
  scalar(4, 'disco', 'string'),
  scalar(5, 'preferredDerp', 'int32'),
  map(6, 'derpLatency', 'string', 'double'),
  map(7, 'derpForcedWebsocket', 'int32', 'string'),
  repeated(8, 'addresses', 'string'),
  repeated(9, 'allowedIps', 'string'),
  repeated(10, 'endpoints', 'string'),
]);

export interface UpdateSelf {
  node?: Node;
}
export const UpdateSelf = message<UpdateSelf>('coder.tailnet.v2.CoordinateRequest.UpdateSelf', [msg(1, 'node', () => Node)]);

export type Disconnect = Record<string, never>;
export const Disconnect = message<Disconnect>('coder.tailnet.v2.CoordinateRequest.Disconnect', []);

export interface Tunnel {
  /** 16-byte UUID. */
  id: Uint8Array;
}
export const Tunnel = message<Tunnel>('coder.tailnet.v2.CoordinateRequest.Tunnel', [scalar(1, 'id', 'bytes')]);

export interface ReadyForHandshake {
  id: Uint8Array;
}
export const ReadyForHandshake = message<ReadyForHandshake>('coder.tailnet.v2.CoordinateRequest.ReadyForHandshake', [scalar(1, 'id', 'bytes')]);

export interface CoordinateRequest {
  updateSelf?: UpdateSelf;
  disconnect?: Disconnect;
  addTunnel?: Tunnel;
  removeTunnel?: Tunnel;
  readyForHandshake: ReadyForHandshake[];
}
export const CoordinateRequest = message<CoordinateRequest>('coder.tailnet.v2.CoordinateRequest', [
  msg(1, 'updateSelf', () => UpdateSelf),
  msg(2, 'disconnect', () => Disconnect),
  msg(3, 'addTunnel', () => Tunnel),
  msg(4, 'removeTunnel', () => Tunnel),
  msgs(5, 'readyForHandshake', () => ReadyForHandshake),
]);

export const PeerUpdateKind = { KIND_UNSPECIFIED: 0, NODE: 1, DISCONNECTED: 2, LOST: 3, READY_FOR_HANDSHAKE: 4 } as const;

export interface PeerUpdate {
  id: Uint8Array;
  node?: Node;
  /** PeerUpdateKind; unknown values are kept as numbers. */
  kind: number;
  reason: string;
}
export const PeerUpdate = message<PeerUpdate>('coder.tailnet.v2.CoordinateResponse.PeerUpdate', [
  scalar(1, 'id', 'bytes'),
  msg(2, 'node', () => Node),
  scalar(3, 'kind', 'enum'),
  scalar(4, 'reason', 'string'),
]);

export interface CoordinateResponse {
  peerUpdates: PeerUpdate[];
  error: string;
}
export const CoordinateResponse = message<CoordinateResponse>('coder.tailnet.v2.CoordinateResponse', [
  msgs(1, 'peerUpdates', () => PeerUpdate),
  scalar(2, 'error', 'string'),
]);

// ---- Resume tokens ---------------------------------------------------------

export type RefreshResumeTokenRequest = Record<string, never>;
export const RefreshResumeTokenRequest = message<RefreshResumeTokenRequest>('coder.tailnet.v2.RefreshResumeTokenRequest', []);

export interface RefreshResumeTokenResponse {
  token: string;
  refreshIn?: Duration;
  expiresAt?: Timestamp;
}
export const RefreshResumeTokenResponse = message<RefreshResumeTokenResponse>('coder.tailnet.v2.RefreshResumeTokenResponse', [
  scalar(1, 'token', 'string'),
  msg(2, 'refreshIn', () => Duration),
  msg(3, 'expiresAt', () => Timestamp),
]);

// ---- Telemetry (decoded to be discarded; current numbering) ----------------

export const IPClass = { PUBLIC: 0, PRIVATE: 1, LINK_LOCAL: 2, LOOPBACK: 3 } as const;

export interface IPFields {
  version: number;
  class: number;
}
export const IPFields = message<IPFields>('coder.tailnet.v2.IPFields', [scalar(1, 'version', 'int32'), scalar(2, 'class', 'enum')]);

export interface NetcheckIP {
  hash: string;
  fields?: IPFields;
}
export const NetcheckIP = message<NetcheckIP>('coder.tailnet.v2.Netcheck.NetcheckIP', [scalar(1, 'hash', 'string'), msg(2, 'fields', () => IPFields)]);

export interface Netcheck {
  udp: boolean;
  ipv6: boolean;
  ipv4: boolean;
  ipv6CanSend: boolean;
  ipv4CanSend: boolean;
  icmpv4: boolean;
  osHasIpv6?: BoolValue;
  mappingVariesByDestIp?: BoolValue;
  hairPinning?: BoolValue;
  upnp?: BoolValue;
  pmp?: BoolValue;
  pcp?: BoolValue;
  preferredDerp: number;
  regionV4Latency: Map<number, Duration>;
  regionV6Latency: Map<number, Duration>;
  globalV4?: NetcheckIP;
  globalV6?: NetcheckIP;
}
export const Netcheck = message<Netcheck>('coder.tailnet.v2.Netcheck', [
  scalar(1, 'udp', 'bool'),
  scalar(2, 'ipv6', 'bool'),
  scalar(3, 'ipv4', 'bool'),
  scalar(4, 'ipv6CanSend', 'bool'),
  scalar(5, 'ipv4CanSend', 'bool'),
  scalar(6, 'icmpv4', 'bool'),
  msg(7, 'osHasIpv6', () => BoolValue),
  msg(8, 'mappingVariesByDestIp', () => BoolValue),
  msg(9, 'hairPinning', () => BoolValue),
  msg(10, 'upnp', () => BoolValue),
  msg(11, 'pmp', () => BoolValue),
  msg(12, 'pcp', () => BoolValue),
  scalar(13, 'preferredDerp', 'int64'),
  map(14, 'regionV4Latency', 'int64', () => Duration),
  map(15, 'regionV6Latency', 'int64', () => Duration),
  msg(17, 'globalV4', () => NetcheckIP),
  msg(18, 'globalV6', () => NetcheckIP),
]);

export interface P2PEndpoint {
  hash: string;
  port: number;
  fields?: IPFields;
}
export const P2PEndpoint = message<P2PEndpoint>('coder.tailnet.v2.TelemetryEvent.P2PEndpoint', [
  scalar(1, 'hash', 'string'),
  scalar(2, 'port', 'int32'),
  msg(3, 'fields', () => IPFields),
]);

export const TelemetryStatus = { CONNECTED: 0, DISCONNECTED: 1 } as const;
export const TelemetryClientType = { CLI: 0, AGENT: 1, CODERD: 2, WSPROXY: 3 } as const;

export interface TelemetryEvent {
  id: Uint8Array;
  time?: Timestamp;
  application: string;
  status: number;
  clientType: number;
  nodeIdSelf: bigint;
  nodeIdRemote: bigint;
  p2pEndpoint?: P2PEndpoint;
  homeDerp: number;
  derpMap?: DERPMap;
  latestNetcheck?: Netcheck;
  connectionAge?: Duration;
  connectionSetup?: Duration;
  p2pSetup?: Duration;
  derpLatency?: Duration;
  p2pLatency?: Duration;
  throughputMbits?: FloatValue;
  clientVersion: string;
}
export const TelemetryEvent = message<TelemetryEvent>('coder.tailnet.v2.TelemetryEvent', [
  scalar(1, 'id', 'bytes'),
  msg(2, 'time', () => Timestamp),
  scalar(3, 'application', 'string'),
  scalar(4, 'status', 'enum'),
  scalar(6, 'clientType', 'enum'),
  scalar(7, 'nodeIdSelf', 'uint64big'),
  scalar(8, 'nodeIdRemote', 'uint64big'),
  msg(9, 'p2pEndpoint', () => P2PEndpoint),
  scalar(10, 'homeDerp', 'int32'),
  msg(11, 'derpMap', () => DERPMap),
  msg(12, 'latestNetcheck', () => Netcheck),
  msg(13, 'connectionAge', () => Duration),
  msg(14, 'connectionSetup', () => Duration),
  msg(15, 'p2pSetup', () => Duration),
  msg(16, 'derpLatency', () => Duration),
  msg(17, 'p2pLatency', () => Duration),
  msg(18, 'throughputMbits', () => FloatValue),
  scalar(19, 'clientVersion', 'string'),
]);

export interface TelemetryRequest {
  events: TelemetryEvent[];
}
export const TelemetryRequest = message<TelemetryRequest>('coder.tailnet.v2.TelemetryRequest', [msgs(1, 'events', () => TelemetryEvent)]);

export type TelemetryResponse = Record<string, never>;
export const TelemetryResponse = message<TelemetryResponse>('coder.tailnet.v2.TelemetryResponse', []);

// ---- WorkspaceUpdates (API 2.3) --------------------------------------------

export interface WorkspaceUpdatesRequest {
  workspaceOwnerId: Uint8Array;
}
export const WorkspaceUpdatesRequest = message<WorkspaceUpdatesRequest>('coder.tailnet.v2.WorkspaceUpdatesRequest', [scalar(1, 'workspaceOwnerId', 'bytes')]);

export const WorkspaceStatus = {
  UNKNOWN: 0, PENDING: 1, STARTING: 2, RUNNING: 3, STOPPING: 4, STOPPED: 5, FAILED: 6, CANCELING: 7, CANCELED: 8, DELETING: 9, DELETED: 10,
} as const;

export interface Workspace {
  id: Uint8Array;
  name: string;
  status: number;
}
export const Workspace = message<Workspace>('coder.tailnet.v2.Workspace', [scalar(1, 'id', 'bytes'), scalar(2, 'name', 'string'), scalar(3, 'status', 'enum')]);

export interface WorkspaceAgent {
  id: Uint8Array;
  name: string;
  workspaceId: Uint8Array;
}
export const WorkspaceAgent = message<WorkspaceAgent>('coder.tailnet.v2.Agent', [scalar(1, 'id', 'bytes'), scalar(2, 'name', 'string'), scalar(3, 'workspaceId', 'bytes')]);

export interface WorkspaceUpdate {
  upsertedWorkspaces: Workspace[];
  upsertedAgents: WorkspaceAgent[];
  deletedWorkspaces: Workspace[];
  deletedAgents: WorkspaceAgent[];
}
export const WorkspaceUpdate = message<WorkspaceUpdate>('coder.tailnet.v2.WorkspaceUpdate', [
  msgs(1, 'upsertedWorkspaces', () => Workspace),
  msgs(2, 'upsertedAgents', () => WorkspaceAgent),
  msgs(3, 'deletedWorkspaces', () => Workspace),
  msgs(4, 'deletedAgents', () => WorkspaceAgent),
]);

/** dRPC method names of the Tailnet service. */
export const TailnetMethods = {
  PostTelemetry: '/coder.tailnet.v2.Tailnet/PostTelemetry',
  StreamDERPMaps: '/coder.tailnet.v2.Tailnet/StreamDERPMaps',
  RefreshResumeToken: '/coder.tailnet.v2.Tailnet/RefreshResumeToken',
  Coordinate: '/coder.tailnet.v2.Tailnet/Coordinate',
  WorkspaceUpdates: '/coder.tailnet.v2.Tailnet/WorkspaceUpdates',
} as const;
