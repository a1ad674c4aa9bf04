/**
 * A WireGuard device without I/O: one static identity, many peers, one index
 * table. receive() takes datagrams from the transport (DERP or UDP);
 * outbound datagrams and decrypted IP packets leave through callbacks.
 *
 *   transport ─► Device.receive ─► classify ─► index table / mac1 / noise ─► WgPeer
 *   WgPeer ─► DeviceOptions.send(peerKey, datagram) ─► transport
 *   WgPeer ─► DeviceOptions.deliver(peerKey, ipPacket) ─► tailnet stack
 */
import { systemClock, type Clock } from '../util/clock.js';
import { DEFAULT_MTU, REKEY_TIMEOUT_JITTER_MAX_MS } from './constants.js';
import { CookieChecker } from './cookie.js';
import { wgError, type WgErrorCode } from './errors.js';
import type { Keypair } from './keypair.js';
import { classify, decodeCookieReply, decodeResponse, decodeTransportHeader } from './messages.js';
import { consumeInitiation, staticKeys, type StaticKeys } from './noise.js';
import { type DeviceContext, type PeerConfig, type PeerEvent, WgPeer } from './peer.js';
import { constantTimeEqual, randomPrivateKey, randomU32 } from './primitives.js';

export interface DeviceRandom {
  /** Fresh clamped ephemeral private key. */
  ephemeral(): Uint8Array;
  /** Candidate local index (u32). */
  index(): number;
  /** Jitter added to REKEY_TIMEOUT timers, 0 ≤ j < 334. */
  jitterMs(): number;
}

export const systemRandom: DeviceRandom = {
  ephemeral: randomPrivateKey,
  index: randomU32,
  jitterMs: () => randomU32() % REKEY_TIMEOUT_JITTER_MAX_MS,
};

export interface DeviceOptions {
  privateKey: Uint8Array;
  clock?: Clock;
  mtu?: number;
  random?: DeviceRandom;
  /** Outbound datagram towards the peer with this static public key. */
  send(peer: WgPeer, datagram: Uint8Array): void;
  /** Decrypted, validated, padding-trimmed IPv6 packet from this peer. */
  deliver(peer: WgPeer, packet: Uint8Array): void;
  onEvent?(peer: WgPeer | null, e: PeerEvent): void;
}

interface IndexEntry {
  peer: WgPeer;
  keypair: Keypair | null;
}

const keyId = (k: Uint8Array): string => Buffer.from(k).toString('hex');

export class Device {
  readonly local: StaticKeys;
  readonly clock: Clock;
  private readonly mtu: number;
  private readonly random: DeviceRandom;
  private readonly peers = new Map<string, WgPeer>();
  private readonly indices = new Map<number, IndexEntry>();
  private readonly checker: CookieChecker;
  private readonly ctx: DeviceContext;

  constructor(private readonly opts: DeviceOptions) {
    this.local = staticKeys(opts.privateKey);
    this.clock = opts.clock ?? systemClock;
    this.mtu = opts.mtu ?? DEFAULT_MTU;
    this.random = opts.random ?? systemRandom;
    this.checker = new CookieChecker(this.local.pub);
    const indices = this.indices;
    const random = this.random;
    this.ctx = {
      clock: this.clock,
      local: this.local,
      mtu: this.mtu,
      newEphemeral: () => random.ephemeral(),
      jitterMs: () => random.jitterMs(),
      allocIndex(peer) {
        for (;;) {
          const i = random.index() >>> 0;
          if (!indices.has(i)) {
            indices.set(i, { peer, keypair: null });
            return i;
          }
        }
      },
      bindIndex(index, peer, keypair) {
        indices.set(index, { peer, keypair });
      },
      freeIndex(index) {
        indices.delete(index);
      },
      send: (peer, d) => opts.send(peer, d),
      deliver: (peer, p) => opts.deliver(peer, p),
      event: (peer, e) => opts.onEvent?.(peer, e),
    };
  }

  get publicKey(): Uint8Array {
    return this.local.pub;
  }

  addPeer(cfg: PeerConfig): WgPeer {
    const id = keyId(cfg.publicKey);
    if (this.peers.has(id)) throw wgError('invalid_key', 'peer already exists');
    if (constantTimeEqual(cfg.publicKey, this.local.pub)) throw wgError('invalid_key', 'peer key equals own key');
    const peer = new WgPeer(this.ctx, cfg);
    this.peers.set(id, peer);
    return peer;
  }

  peer(publicKey: Uint8Array): WgPeer | undefined {
    return this.peers.get(keyId(publicKey));
  }

  removePeer(publicKey: Uint8Array): void {
    const id = keyId(publicKey);
    const p = this.peers.get(id);
    if (!p) return;
    p.close();
    this.peers.delete(id);
  }

  /** Number of live local indices (handshakes + keypairs); for tests and metrics. */
  get indexCount(): number {
    return this.indices.size;
  }

  /**
   * Handles one inbound datagram. `from`, when known (DERP source key), must
   * match the peer the datagram authenticates as. Returns null when the
   * datagram was accepted, else the drop reason (also emitted as an event).
   */
  receive(datagram: Uint8Array, from?: Uint8Array): WgErrorCode | null {
    const reason = this.dispatch(datagram, from);
    if (reason) this.opts.onEvent?.(null, { type: 'drop', reason });
    return reason;
  }

  private dispatch(d: Uint8Array, from?: Uint8Array): WgErrorCode | null {
    const fromOk = (p: WgPeer): boolean => !from || constantTimeEqual(from, p.publicKey);
    switch (classify(d)) {
      case 'initiation': {
        if (!this.checker.checkMac1(d)) return 'bad_mac1';
        let found: WgPeer | undefined;
        const consumed = consumeInitiation(this.local, d, (pub) => {
          found = this.peers.get(keyId(pub));
          return found ? found.staticSharedSecret() : null;
        });
        if (!consumed) return found ? 'decrypt_failed' : 'unknown_peer';
        if (!found || !fromOk(found)) return 'unknown_peer';
        return found.consumeInitiation(consumed);
      }
      case 'response': {
        if (!this.checker.checkMac1(d)) return 'bad_mac1';
        const e = this.indices.get(decodeResponse(d).receiver);
        if (!e || e.keypair) return 'unknown_index';
        if (!fromOk(e.peer)) return 'unknown_peer';
        return e.peer.consumeResponse(d);
      }
      case 'cookie': {
        const reply = decodeCookieReply(d);
        const e = this.indices.get(reply.receiver);
        if (!e) return 'unknown_index';
        if (!fromOk(e.peer)) return 'unknown_peer';
        return e.peer.consumeCookieReply(reply);
      }
      case 'transport': {
        const h = decodeTransportHeader(d);
        const e = this.indices.get(h.receiver);
        if (!e || !e.keypair) return 'unknown_index';
        if (!fromOk(e.peer)) return 'unknown_peer';
        return e.peer.receiveTransport(e.keypair, h.counter, d);
      }
      case 'disco':
        return 'disco';
      default:
        return 'bad_message';
    }
  }

  /** Closes all peers (timers stopped, keys erased). */
  close(): void {
    for (const p of this.peers.values()) p.close();
    this.peers.clear();
    this.indices.clear();
  }
}
