/**
 * Transport-independent vocabulary of the coordinator core (Coder's tailnet v2
 * model): peers with UUID ids, tunnels src→dst owned by the source, one node
 * per peer, per-peer outbound responses.
 */
import type { CloseReason } from './errors.js';
import type { NodeRecord } from './node.js';

/** Lower-case canonical UUID text. */
export type PeerId = string;
export type PeerKind = 'agent' | 'client';
export type UpdateKind = 'NODE' | 'DISCONNECTED' | 'LOST' | 'READY_FOR_HANDSHAKE';

export interface PeerUpdate {
  /** The peer this update is about (never the recipient). */
  readonly id: PeerId;
  readonly kind: UpdateKind;
  /** Set only for NODE. */
  readonly node: NodeRecord | null;
  readonly reason: string;
}

/**
 * One outbound message for one or more recipients. A fan-out enqueues the same
 * instance to every recipient; adapters memoise their encoding on it so each
 * update is serialized once however many sockets receive it.
 */
export class CoordinateResponse {
  readonly updates: readonly PeerUpdate[];
  readonly error: string | null;
  /** v1 adapter memo: pre-framed WebSocket messages (undefined = not yet encoded). */
  v1Frames: readonly Buffer[] | undefined = undefined;

  constructor(updates: readonly PeerUpdate[], error: string | null = null) {
    this.updates = updates;
    this.error = error;
  }
}

/** Outbound side of one peer's stream, implemented by each transport adapter. */
export interface PeerSink {
  /** Never blocks. Returns false when the peer's queue is full (the core then drops the peer). */
  enqueue(resp: CoordinateResponse): boolean;
  /** The core removed this peer (overwritten, failed, coordinator closed): end the stream. */
  close(reason: CloseReason, message: string): void;
  /** Epoch ms of the last write to the transport (0 = never), for the debug page. */
  readonly lastWriteAt: number;
}

/** Read-only view of a connected peer, for debug pages and tests. */
export interface PeerInfo {
  readonly id: PeerId;
  readonly kind: PeerKind;
  readonly name: string;
  readonly node: NodeRecord | null;
  readonly createdAt: number;
  readonly overwrites: number;
  /** Epoch ms of the last write to this peer's transport (0 = never). */
  readonly lastWriteAt: number;
}
