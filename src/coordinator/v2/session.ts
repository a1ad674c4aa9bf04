/**
 * v2 Coordinate adapter: one bidirectional dRPC stream ↔ one core peer
 * (tailnet-v2.md §3.5).
 *
 *   stream.recv ─► authorize (fatal: LOST to partners, error to self, end)
 *               ─► update_self / add_tunnel / remove_tunnel / disconnect / ready_for_handshake ─► core
 *   core ─► enqueue(resp) (bounded queue, never blocks) ─► toProto + encode (memoised per fan-out) ─► stream.sendEncoded
 *
 * The handler returns (CloseSend) once the peer is gone from the core and the
 * queue is flushed. Request-side failures are counted by close reason.
 */
import type { RpcContext, ServerStream } from '../../rpc/drpc/mux.js';
import type { TimerHandle } from '../../util/clock.js';
import { nodeFromProto, nodeToProto } from '../../rpc/convert/node.js';
import { uuidFromBytes, uuidToBytes } from '../../rpc/convert/uuid.js';
import * as tp from '../../rpc/proto/tailnet.js';
import type { Coordinator } from '../coordinator.js';
import type { Peer } from '../core.js';
import type { CloseReason } from '../errors.js';
import { MAX_NODE_JSON, nodeRecord } from '../node.js';
import type { CoordinateResponse, PeerId, PeerKind, PeerSink, UpdateKind } from '../types.js';
import { authorizeRequest, type TunnelAuth } from './auth.js';

export interface ServeCoordinateV2Options {
  peerId: PeerId;
  /** Debug name: "<owner>-<workspace>-<agent>" for agents, "client" for clients. */
  name: string;
  auth: TunnelAuth;
}

const KIND: Record<UpdateKind, number> = {
  NODE: tp.PeerUpdateKind.NODE,
  DISCONNECTED: tp.PeerUpdateKind.DISCONNECTED,
  LOST: tp.PeerUpdateKind.LOST,
  READY_FOR_HANDSHAKE: tp.PeerUpdateKind.READY_FOR_HANDSHAKE,
};

/** One proto conversion and one encoding per fan-out, shared by every v2 recipient of the same response. */
const protoMemo = new WeakMap<CoordinateResponse, tp.CoordinateResponse>();
const bytesMemo = new WeakMap<CoordinateResponse, Uint8Array>();

function encodedResponse(resp: CoordinateResponse): Uint8Array {
  let bytes = bytesMemo.get(resp);
  if (bytes === undefined) {
    bytes = tp.CoordinateResponse.encode(responseToProto(resp));
    bytesMemo.set(resp, bytes);
  }
  return bytes;
}

export function responseToProto(resp: CoordinateResponse): tp.CoordinateResponse {
  let out = protoMemo.get(resp);
  if (out === undefined) {
    out = {
      peerUpdates: resp.updates.map((u) => {
        const pu: tp.PeerUpdate = { id: uuidToBytes(u.id), kind: KIND[u.kind], reason: u.reason };
        if (u.node !== null) pu.node = nodeToProto(u.node.node);
        return pu;
      }),
      error: resp.error ?? '',
    };
    protoMemo.set(resp, out);
  }
  return out;
}

/** Serves one Coordinate call until the peer leaves; never rejects. */
export function serveCoordinateV2(
  coord: Coordinator,
  stream: ServerStream<tp.CoordinateRequest, tp.CoordinateResponse>,
  ctx: RpcContext,
  opts: ServeCoordinateV2Options,
): Promise<void> {
  const kind: PeerKind = opts.auth.kind;
  return coord.track(new V2Session(coord, stream, ctx, kind, opts).run());
}

class V2Session implements PeerSink {
  private peer: Peer | null = null;
  /** Encoded CoordinateResponse messages waiting for the stream. */
  private readonly queue: Uint8Array[] = [];
  private writing = false;
  private ended = false;
  private reason: CloseReason | null = null;
  lastWriteAt = 0;
  private wake: (() => void) | null = null;
  private readonly done: Promise<void>;
  private flushed: (() => void) | null = null;

  constructor(
    private readonly coord: Coordinator,
    private readonly stream: ServerStream<tp.CoordinateRequest, tp.CoordinateResponse>,
    private readonly ctx: RpcContext,
    private readonly kind: PeerKind,
    private readonly opts: ServeCoordinateV2Options,
  ) {
    this.done = new Promise<void>((r) => (this.wake = r));
  }

  // ---- PeerSink ----

  enqueue(resp: CoordinateResponse): boolean {
    if (this.ended) return true;
    if (this.queue.length >= this.coord.settings.queueSize) {
      this.coord.metrics.dropped('queue_overflow');
      return false;
    }
    this.queue.push(encodedResponse(resp));
    this.pump();
    return true;
  }

  close(reason: CloseReason, _message: string): void {
    // The core already removed the peer; flush what it queued for us (e.g. the overwrite notice) and
    // end. A peer dropped for overflow is not reading: nothing more is written to it.
    if (reason === 'queue_overflow') this.queue.length = 0;
    this.finish(reason);
  }

  // ---- stream ----

  async run(): Promise<void> {
    this.peer = this.coord.core.connect(this.opts.peerId, this.kind, this.opts.name, this);
    if (this.peer === null) {
      if (!this.ended) {
        this.queue.push(tp.CoordinateResponse.encode({ peerUpdates: [], error: 'coordinator closed' }));
        this.finish('coordinator_closed');
      }
    } else {
      void this.readLoop(this.peer);
    }
    await this.done;
    if (this.reason !== 'queue_overflow') {
      // A peer that stopped reading must not hold up the handler (or coordinator shutdown) forever.
      let timer: TimerHandle | null = null;
      const timeout = new Promise<void>((r) => (timer = this.coord.clock.setTimeout(r, this.coord.settings.writeTimeoutMs)));
      await Promise.race([this.drain(), timeout]);
      (timer as TimerHandle | null)?.cancel();
    }
    this.coord.metrics.closed('v2', this.reason ?? 'peer_closed');
  }

  private async readLoop(peer: Peer): Promise<void> {
    for (;;) {
      let req: tp.CoordinateRequest | null;
      try {
        req = await this.stream.recv();
      } catch (err) {
        // Malformed protobuf: the peer is lost to its partners and told why.
        this.fatal(peer, 'bad_node', `failed to decode request: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
      if (this.ended) return;
      if (req === null) {
        // CloseSend, FIN/RST or session end without a goodbye.
        this.coord.core.lost(peer);
        this.finish('peer_closed');
        return;
      }
      if (!this.handle(peer, req)) return;
    }
  }

  /** Applies one request in the §3.5.1 order; false once the session ended. */
  private handle(peer: Peer, req: tp.CoordinateRequest): boolean {
    const core = this.coord.core;
    const denied = authorizeRequest(this.opts.auth, req);
    if (denied !== null) {
      this.fatal(peer, 'unauthorized', `authorization: ${denied}`);
      return false;
    }
    if (req.updateSelf) {
      if (!req.updateSelf.node) {
        this.fatal(peer, 'bad_node', 'failed to convert node: update_self without a node');
        return false;
      }
      let record;
      try {
        record = nodeRecord(nodeFromProto(req.updateSelf.node));
      } catch (err) {
        this.fatal(peer, 'bad_node', `failed to convert node: ${err instanceof Error ? err.message : String(err)}`);
        return false;
      }
      // v1 peers read at most 32 KiB per message: a node they could not receive is refused here.
      if (record.json.length > MAX_NODE_JSON) {
        this.fatal(peer, 'bad_node', `failed to convert node: node too large (${record.json.length} bytes of JSON)`);
        return false;
      }
      this.coord.metrics.updateIn(this.kind, record.json.length);
      core.updateSelf(peer, record);
    }
    if (req.addTunnel) core.addTunnel(peer, uuidFromBytes(req.addTunnel.id));
    if (req.removeTunnel) core.removeTunnel(peer, uuidFromBytes(req.removeTunnel.id));
    if (req.disconnect) {
      core.disconnect(peer);
      this.finish('graceful_disconnect');
      return false;
    }
    for (const rfh of req.readyForHandshake) {
      if (rfh.id.length !== 16) {
        this.fatal(peer, 'bad_node', `ready for handshake error: invalid peer id (${rfh.id.length} bytes)`);
        return false;
      }
      const e = core.readyForHandshake(peer, uuidFromBytes(rfh.id));
      if (e !== null && !this.enqueueRaw({ peerUpdates: [], error: `ready for handshake error: ${e}` })) {
        core.lost(peer);
        this.finish('queue_overflow');
        return false;
      }
    }
    return !this.ended;
  }

  /** Fatal request error: partners see LOST, the peer gets the error text, the stream ends. */
  private fatal(peer: Peer, reason: CloseReason, text: string): void {
    this.coord.core.lost(peer);
    this.enqueueRaw({ peerUpdates: [], error: text });
    this.finish(reason);
  }

  private enqueueRaw(m: tp.CoordinateResponse): boolean {
    if (this.ended) return true;
    if (this.queue.length >= this.coord.settings.queueSize) return false;
    this.queue.push(tp.CoordinateResponse.encode(m));
    this.pump();
    return true;
  }

  private finish(reason: CloseReason): void {
    if (this.ended) return;
    this.ended = true;
    this.reason = reason;
    this.wake?.();
  }

  private pump(): void {
    if (this.writing) return;
    this.writing = true;
    void (async () => {
      try {
        while (this.queue.length > 0) {
          if (this.ctx.signal.aborted) {
            this.queue.length = 0;
            break;
          }
          const m = this.queue.shift()!;
          await this.stream.sendEncoded(m);
          this.lastWriteAt = this.coord.clock.now();
          this.coord.metrics.written(1, 0);
        }
      } catch {
        // The call was cancelled or the transport died: the read side sees the end.
        this.queue.length = 0;
      } finally {
        this.writing = false;
        this.flushed?.();
      }
    })();
  }

  /** Resolves once the queue is written (or the call is gone). */
  private drain(): Promise<void> {
    if (!this.writing && this.queue.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.flushed = () => {
        if (!this.writing && this.queue.length === 0) resolve();
        else if (!this.writing) this.pump();
      };
      if (!this.writing) this.pump();
    });
  }
}
