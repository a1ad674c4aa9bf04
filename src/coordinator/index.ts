/** Public surface of the tailnet coordinator (see coordinator.ts for the layout). */
export { Coordinator, createCoordinator, type CoordinatorOptions, type CoordinatorSettings } from './coordinator.js';
export { CoordinatorCore, Peer, type CoreObserver, type CoreOptions, type CoreStats } from './core.js';
export { serveAgentV1, serveClientV1, COORDINATE_WS_SERVER_OPTIONS, type ServeAgentOptions, type ServeClientOptions } from './v1/session.js';
export {
  AgentConnectionMonitor,
  DEFAULT_AGENT_CONNECTION_TIMING,
  type AgentConnectionRecorder,
  type AgentConnectionTiming,
} from './agent-connection.js';
export { CLOSE_REASONS, DROP_REASONS, CoordinatorError, coordError, type CloseReason, type DropReason } from './errors.js';
export { decodeNode, encodeNode, nodeRecord, type Node, type NodeRecord } from './node.js';
export { CoordinateResponse, type PeerId, type PeerKind, type PeerSink, type PeerUpdate, type UpdateKind, type PeerInfo } from './types.js';
export { renderDebugPage, type DebugSnapshot } from './debug-page.js';
