/**
 * DERP relay: public surface for the composition root.
 *
 *   const derp = new DerpServer({ privateKey, meshKey, logger, registry, admit });
 *   const { handleRequest, handleUpgrade } = createDerpHttpHandlers(derp);
 *   http.on('request', (q, s) => handleRequest(q, s) || next(q, s));
 *   http.on('upgrade', (q, sock, head) => handleUpgrade(q, sock, head) || other(q, sock, head));
 *   const stun = await startStunServer({ port: 3478, stats: derp.stats });
 *   …  await derp.close({ restarting: { reconnectInMs: 1000, tryForMs: 30000 } }); await stun.close();
 */
export { DerpServer, DEFAULT_LIMITS } from './server.js';
export type { DerpServerOptions, DerpLimits, PacketForwarder, CloseOptions, DerpServerEvents } from './server.js';
export type { ConnInfo } from './conn.js';
export { createDerpHttpHandlers, serveGenerate204, serveProbe } from './http.js';
export type { DerpHttpOptions, DerpHttpHandlers } from './http.js';
export { SocketStream, WsStream } from './stream.js';
export type { DerpStream, StreamSink } from './stream.js';
export { startStunServer } from './stun.js';
export type { StunServer, StunServerOptions } from './stun.js';
export { DerpClient } from './client.js';
export type { DerpClientOptions, DerpMessage } from './client.js';
export {
  loadOrCreateServerKey,
  generatePrivateKey,
  publicFromPrivate,
  keyPair,
  formatNodePublic,
  parseNodePublic,
  formatPrivate,
  parsePrivate,
  shortKey,
} from './key.js';
export type { NodeKeyPair } from './key.js';
export { DerpError, isDerpError } from './errors.js';
export type { DerpErrorCode } from './errors.js';
export { FrameType, PeerGoneReason, PeerPresentFlags, MAX_PACKET_SIZE, PROTOCOL_VERSION } from './frame.js';
export { startMeshLink } from './mesh.js';
export type { MeshLink, MeshLinkOptions } from './mesh.js';
export { derpTlsServerOptions, derpMetaCertificate, selfSignedCertificate, derToPem } from './metacert.js';
export type { DerpTlsOptions } from './metacert.js';
export { duplexPair } from './pipe.js';
