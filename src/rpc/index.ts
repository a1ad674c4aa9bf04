/**
 * Coder's v2 transport stack, server side:
 *
 *   WebSocket (binary) ─► WsByteStream ─► YamuxSession (server) ─► one yamux stream per RPC
 *        ─► DrpcServerConn (drpcwire packets) ─► RpcMux handler ─► proto message codecs
 *
 * The HTTP layer authenticates, runs negotiateVersion() and upgrades (no
 * compression, maxPayload ≥ 4 MiB) before calling serveRpcOverWebSocket():
 *
 *   const v = negotiateVersion('agent-rpc', url.searchParams.get('version'));
 *   if (!v.ok) return reply(v.status, v.body);            // before the upgrade
 *   const mux = new RpcMux();
 *   registerAgentService(mux, agentImpl);                  // /me/rpc only
 *   registerTailnetService(mux, tailnetImpl);              // every v2 route
 *   const conn = serveRpcOverWebSocket(ws, mux, { logger, onPingRtt });
 *   conn.closed.then(...)                                  // session over
 */
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { systemClock, type Clock } from '../util/clock.js';
import type { ByteStream } from './byte-stream.js';
import { DrpcServerConn, type DrpcServerConnOptions } from './drpc/server-conn.js';
import type { RpcMux } from './drpc/mux.js';
import type { YamuxError } from './yamux/errors.js';
import { YamuxSession } from './yamux/session.js';
import { WsByteStream } from './ws-stream.js';

export interface ServeRpcOptions {
  logger: Logger;
  /** RTT of each successful yamux keepalive ping (ms); the /me/rpc monitor records liveness from it. */
  onPingRtt?: (rttMs: number) => void;
  clock?: Clock;
  /** yamux keepalive period (default 30 s, as Go); null disables. */
  keepaliveIntervalMs?: number | null;
  /** Unanswered-ping limit (default 10 s). */
  pingTimeoutMs?: number;
  /** Concurrent RPC (yamux stream) cap per connection (default 1024). */
  maxStreams?: number;
  onCallEnd?: DrpcServerConnOptions['onCallEnd'];
  onProtocolError?: DrpcServerConnOptions['onProtocolError'];
  /**
   * WebSocket-level ping period (Coder pings client /coordinate sockets every
   * 15 s via httpapi.Heartbeat). Off by default; yamux keepalive covers liveness.
   */
  wsHeartbeatMs?: number;
}

export interface RpcConnection {
  readonly session: YamuxSession;
  /** yamux ping; resolves with the RTT in ms, rejects on timeout or close. */
  ping(): Promise<number>;
  /** Sends GoAway(normal), flushes, then closes the WebSocket with `code`/`reason`. */
  close(code?: number, reason?: string): void;
  /** Resolves when the session ends: null for a clean close, else the cause. */
  readonly closed: Promise<YamuxError | null>;
}

/** Serves `mux` over an already-upgraded WebSocket. */
export function serveRpcOverWebSocket(ws: WebSocket, mux: RpcMux, opts: ServeRpcOptions): RpcConnection {
  const conn = serveRpc(new WsByteStream(ws), mux, opts);
  if (opts.wsHeartbeatMs) {
    const clock = opts.clock ?? systemClock;
    const timer = clock.setInterval(() => {
      if (ws.readyState === ws.OPEN) ws.ping();
    }, opts.wsHeartbeatMs);
    void conn.closed.then(() => timer.cancel());
  }
  return conn;
}

/** Same over any ByteStream (tests, other transports). */
export function serveRpc(transport: ByteStream, mux: RpcMux, opts: ServeRpcOptions): RpcConnection {
  let resolveClosed!: (e: YamuxError | null) => void;
  const closed = new Promise<YamuxError | null>((r) => (resolveClosed = r));
  const connOpts: DrpcServerConnOptions = { logger: opts.logger, onCallEnd: opts.onCallEnd, onProtocolError: opts.onProtocolError };
  const session = new YamuxSession(transport, {
    role: 'server',
    logger: opts.logger,
    clock: opts.clock,
    keepaliveIntervalMs: opts.keepaliveIntervalMs,
    pingTimeoutMs: opts.pingTimeoutMs,
    onPingRtt: opts.onPingRtt,
    maxStreams: opts.maxStreams,
    onStream: (stream) => new DrpcServerConn(stream, mux, connOpts),
    onClose: (err) => resolveClosed(err),
  });
  return {
    session,
    ping: () => session.ping(),
    close: (code = 1000, reason = '') => {
      session.goAway();
      session.close(code, reason);
    },
    closed,
  };
}

export type { ByteStream, ByteStreamHandlers } from './byte-stream.js';
export { MAX_WRITE_CHUNK } from './byte-stream.js';
export { WsByteStream } from './ws-stream.js';
export { RpcMux, type RpcContext, type ServerStream, type RawCall, type RawHandler } from './drpc/mux.js';
export { RpcError, DrpcCode, DrpcProtocolError } from './drpc/errors.js';
export { DrpcServerConn } from './drpc/server-conn.js';
export * as drpcWire from './drpc/wire.js';
export { PacketReassembler } from './drpc/reassembler.js';
export * as yamux from './yamux/index.js';
export * from './version.js';
export * as proto from './proto/index.js';
export type { MessageCodec } from './proto/schema.js';
export { tailnet, agent, google } from './proto/index.js';
export * as convert from './convert/index.js';
export { registerAgentService, registerTailnetService, type AgentServiceImpl, type TailnetServiceImpl } from './services/index.js';
