/**
 * v1 JSON adapter: one coordinate WebSocket ↔ one core peer
 * (tailnet-v2.md §3.8, coder-agents-api.md §4.2–4.6).
 *
 *   binary msgs ─► JsonObjectSplitter ─► decodeNode ─► core.updateSelf
 *   core ─► enqueue(resp) ─► encodeV1Frames (memoised per fan-out)
 *        ─► same-as-last suppression ─► FrameWriter (512 queue, 5 s timeout) ─► TCP
 *
 * A v1 agent is a peer others tunnel to; a v1 client is a peer with exactly
 * one tunnel, to its agent. LOST/DISCONNECTED/READY_FOR_HANDSHAKE and errors
 * have no v1 form and are dropped.
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { AgentConnectionMonitor, type AgentConnectionRecorder } from '../agent-connection.js';
import type { Coordinator, KeepAlive } from '../coordinator.js';
import type { Peer } from '../core.js';
import { coordError, CoordinatorError, type CloseReason } from '../errors.js';
import { FrameWriter, type FrameWriterOwner } from '../frame-writer.js';
import { JsonObjectSplitter, type ValueSink } from '../json-stream.js';
import { decodeNode } from '../node.js';
import type { CoordinateResponse, PeerKind, PeerSink } from '../types.js';
import { encodeV1Frames } from './codec.js';

/**
 * Options the caller's `ws` WebSocketServer must use for coordinate sockets:
 * 32 KiB read limit (→ 1009), no compression (frames are pre-built and shared).
 */
export const COORDINATE_WS_SERVER_OPTIONS = {
  noServer: true,
  maxPayload: 32 * 1024,
  perMessageDeflate: false,
  clientTracking: false,
} as const;

export interface ServeAgentOptions {
  agentId: string;
  /** Debug name, "<owner>-<workspace>-<agent>". */
  name: string;
  recorder?: AgentConnectionRecorder;
}

export interface ServeClientOptions {
  clientId: string;
  agentId: string;
}

/** Serves an upgraded agent socket until it ends; resolves with why it ended. Never rejects. */
export function serveAgentV1(coordinator: Coordinator, ws: WebSocket, opts: ServeAgentOptions): Promise<CloseReason> {
  const s = new V1Session(coordinator, ws, 'agent', opts.agentId.toLowerCase(), opts.name);
  return coordinator.track(s.run(null, opts.recorder ?? null));
}

/** Serves an upgraded client socket until it ends; resolves with why it ended. Never rejects. */
export function serveClientV1(coordinator: Coordinator, ws: WebSocket, opts: ServeClientOptions): Promise<CloseReason> {
  const s = new V1Session(coordinator, ws, 'client', opts.clientId.toLowerCase(), 'client');
  return coordinator.track(s.run(opts.agentId.toLowerCase(), null));
}

const kSession = Symbol('coordinator.v1Session');
type TaggedWs = WebSocket & { [kSession]?: V1Session };

// Shared socket listeners (`this` is the WebSocket): no per-socket closures.
function onWsMessage(this: TaggedWs, data: Buffer, isBinary: boolean): void {
  this[kSession]?.message(data, isBinary);
}
function onWsPong(this: TaggedWs): void {
  this[kSession]?.pong();
}
function onWsError(this: TaggedWs, err: Error & { code?: string }): void {
  // ws has already started closing (1009 for an oversize message, 1002 for protocol errors).
  const reason: CloseReason = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'message_too_big' : 'socket_error';
  this[kSession]?.finish(coordError(reason, err.message), false);
}
function onWsClose(this: TaggedWs): void {
  this[kSession]?.finish(coordError('peer_closed', ''), false);
}

class V1Session implements PeerSink, KeepAlive, ValueSink, FrameWriterOwner {
  private peer: Peer | null = null;
  private readonly splitter = new JsonObjectSplitter();
  private readonly writer: FrameWriter;
  private lastFrame: Buffer | null = null;
  private ended = false;
  private awaitingPong = false;
  private missedPongs = 0;
  private monitor: AgentConnectionMonitor | null = null;
  private resolveEnd: ((r: CloseReason) => void) | null = null;
  private endReason: CloseReason | null = null;

  constructor(
    private readonly coord: Coordinator,
    private readonly ws: TaggedWs,
    private readonly kind: PeerKind,
    private readonly id: string,
    private readonly name: string,
  ) {
    this.writer = new FrameWriter(rawSocket(ws), this, coord.writerSettings);
  }

  get lastWriteAt(): number {
    return this.writer.lastWriteAt;
  }

  async run(tunnelTo: string | null, recorder: AgentConnectionRecorder | null): Promise<CloseReason> {
    const ws = this.ws;
    const ended = new Promise<CloseReason>((resolve) => {
      this.resolveEnd = resolve;
    });
    ws.binaryType = 'nodebuffer';
    ws[kSession] = this;
    ws.on('message', onWsMessage);
    ws.on('close', onWsClose);
    ws.on('error', onWsError);
    ws.on('pong', onWsPong);
    if (ws.readyState !== ws.OPEN) {
      this.finish(coordError('peer_closed', 'socket closed before start'), false);
    } else {
      this.peer = this.coord.core.connect(this.id, this.kind, this.name, this);
      if (this.peer === null) {
        // Either closed (coordinator) or dropped at once (queue overflow); finish() is idempotent.
        this.finish(coordError('coordinator_closed', 'coordinator is closed'), false);
      } else {
        if (tunnelTo !== null) this.coord.core.addTunnel(this.peer, tunnelTo);
        this.coord.addKeepAlive(this);
        if (recorder !== null && !this.ended) {
          this.monitor = new AgentConnectionMonitor(this.id, recorder, this.coord.clock, this.coord.settings.agentConnection, (f) => {
            if (f.kind === 'not_latest_build') this.finish(coordError('not_latest_build', ''), true);
            else this.finish(coordError('recorder_error', f.message), true);
          });
          this.monitor.start();
        }
      }
    }
    const reason = this.endReason ?? (await ended);
    if (this.monitor !== null) await this.monitor.stop(reason !== 'overwritten');
    return reason;
  }

  // ---- PeerSink ----

  enqueue(resp: CoordinateResponse): boolean {
    if (this.ended) return true;
    const frames = (resp.v1Frames ??= encodeV1Frames(resp));
    for (const frame of frames) {
      const last = this.lastFrame;
      if (last !== null && (last === frame || last.equals(frame))) {
        this.coord.metrics.dropped('duplicate_write');
        continue;
      }
      if (!this.writer.send(frame)) {
        this.coord.metrics.dropped('queue_overflow');
        return false;
      }
      this.lastFrame = frame;
    }
    return true;
  }

  close(reason: CloseReason, message: string): void {
    this.finish(coordError(reason, message), false);
  }

  // ---- KeepAlive / FrameWriterOwner / ValueSink ----

  tick(): void {
    if (this.ended) return;
    if (this.awaitingPong && ++this.missedPongs >= 2) {
      this.finish(coordError('ping_timeout', 'ping timeout'), true);
      return;
    }
    this.awaitingPong = true;
    try {
      this.ws.ping();
    } catch {
      // socket already closing; the close event ends the session
    }
  }

  onWriteTimeout(): void {
    this.finish(coordError('write_timeout', 'write timeout'), true);
  }

  onValue(value: Buffer): void {
    if (this.ended || this.peer === null) return;
    const record = decodeNode(value);
    this.coord.metrics.updateIn(this.kind, value.length);
    this.coord.core.updateSelf(this.peer, record);
  }

  // ---- socket events (via the shared listeners) ----

  message(data: Buffer, isBinary: boolean): void {
    if (this.ended) return;
    if (!isBinary) {
      this.finish(coordError('text_frame', 'unsupported data: text frame'), true);
      return;
    }
    try {
      this.splitter.push(data, this);
    } catch (err) {
      this.finish(err instanceof CoordinatorError ? err : coordError('bad_node', 'read json: invalid node', err), true);
    }
  }

  pong(): void {
    this.awaitingPong = false;
    this.missedPongs = 0;
  }

  /**
   * Ends the session once. `closeSocket` = we initiate the close. The core is
   * told the peer was lost unless the core itself ended it (overwrite,
   * overflow, shutdown), in which case the peer is already gone from it.
   */
  finish(err: CoordinatorError, closeSocket: boolean): void {
    if (this.ended) return;
    this.ended = true;
    const reason = err.code;
    const coreEnded = reason === 'overwritten' || reason === 'queue_overflow' || reason === 'coordinator_closed';
    if (this.peer !== null && !coreEnded) this.coord.core.lost(this.peer);
    this.writer.end();
    this.coord.removeKeepAlive(this);
    this.coord.metrics.closed('v1', reason);
    const ws = this.ws;
    if (reason === 'write_timeout' || reason === 'queue_overflow' || reason === 'ping_timeout') {
      ws.terminate(); // the socket is not draining: a close frame would never arrive
    } else if ((closeSocket || coreEnded) && ws.readyState === ws.OPEN) {
      ws.close(err.closeCode, err.closeText);
    }
    this.endReason = reason;
    this.resolveEnd?.(reason);
  }
}

function rawSocket(ws: WebSocket): Duplex {
  // ws keeps the upgraded net.Socket in `_socket`; writing pre-built frames to it
  // skips per-recipient framing. Safe with perMessageDeflate off: ws's own
  // control frames are also written whole and synchronously.
  const sock = (ws as unknown as { _socket?: Duplex })._socket;
  if (sock === undefined || sock === null) throw new Error('coordinator: WebSocket has no underlying socket');
  return sock;
}
