/**
 * State owner for one remote WireGuard peer: the handshake slot, the
 * previous/current/next keypairs, the staged-packet queue and the timers of
 * wireguard-go's timers.go (spec §1.10–§1.11). No I/O: datagrams leave through
 * the DeviceContext, decrypted IP packets through deliver().
 *
 *   send(ip) ─► staged ─► current keypair ─► seal ─► ctx.send(datagram)
 *                  │ none/expired
 *                  └────► initiation (retransmit timer) … response ─► keypair
 *   ctx.receive ─► handshake | transport ─► replay ─► timers ─► deliver(ip)
 */
import type { Clock } from '../util/clock.js';
import type { Prefix6 } from './allowed-ips.js';
import { prefixContains } from './allowed-ips.js';
import {
  HANDSHAKE_INITIATION_RATE_MS,
  KEEPALIVE_TIMEOUT_MS,
  MAX_TIMER_HANDSHAKES,
  QUEUE_STAGED_SIZE,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME_MS,
  REKEY_AFTER_MESSAGES,
  REKEY_AFTER_TIME_MS,
  REKEY_TIMEOUT_MS,
} from './constants.js';
import { CookieGenerator } from './cookie.js';
import type { WgErrorCode } from './errors.js';
import { Keypair, paddingSize } from './keypair.js';
import type { CookieReply } from './messages.js';
import {
  type ConsumedInitiation,
  type InitiatorState,
  type StaticKeys,
  consumeResponse,
  createInitiation,
  createResponse,
} from './noise.js';
import { dh } from './primitives.js';
import { compareTai64n, monotonicTai64n } from './tai64n.js';
import { PeerTimer } from './timer.js';

export type PeerEvent =
  | { type: 'initiation-sent'; retry: boolean }
  | { type: 'response-sent' }
  | { type: 'handshake-complete' }
  | { type: 'handshake-failed' }
  | { type: 'keys-zeroed' }
  | { type: 'drop'; reason: WgErrorCode };

/** What a peer needs from its device. */
export interface DeviceContext {
  readonly clock: Clock;
  readonly local: StaticKeys;
  readonly mtu: number;
  newEphemeral(): Uint8Array;
  /** Allocates a fresh local index bound to this peer (keypair null = handshake). */
  allocIndex(peer: WgPeer): number;
  bindIndex(index: number, peer: WgPeer, keypair: Keypair | null): void;
  freeIndex(index: number): void;
  jitterMs(): number;
  send(peer: WgPeer, datagram: Uint8Array): void;
  deliver(peer: WgPeer, packet: Uint8Array): void;
  event(peer: WgPeer, e: PeerEvent): void;
}

export interface PeerConfig {
  publicKey: Uint8Array;
  allowedIps: Prefix6[];
  /** Persistent keepalive interval in ms (0 = off). */
  persistentKeepaliveMs?: number;
  /**
   * Quick retries of the first handshake (spec §1.11 deviation), in ms.
   * Empty disables; the default is wireguard-go's plain 5 s retransmit.
   */
  firstContactRetriesMs?: number[];
}

type HandshakeSlot =
  | { state: 'none' }
  | { state: 'created'; init: InitiatorState }
  | { state: 'consumed'; consumed: ConsumedInitiation };

const MIN_FAST_RETRY_GAP_MS = 50;

export class WgPeer {
  readonly publicKey: Uint8Array;
  readonly cookies: CookieGenerator;
  allowedIps: Prefix6[];
  private readonly staticShared: Uint8Array;

  private handshake: HandshakeSlot = { state: 'none' };
  private handshakeIndex = -1;
  private lastSentHandshake = -Infinity;
  private lastSentTimestamp: Uint8Array | null = null;
  private lastReceivedTimestamp: Uint8Array | null = null;
  private lastInitiationConsumed = -Infinity;
  /** Wall time of the last completed handshake (ms since the epoch, clock.now()), or 0. Ages use clock.monotonic(). */
  lastHandshakeAt = 0;

  previous: Keypair | null = null;
  current: Keypair | null = null;
  next: Keypair | null = null;
  private staged: Uint8Array[] = [];

  private handshakeAttempts = 0;
  private fastRetryIndex = 0;
  private everCompleted = false;
  private needAnotherKeepalive = false;
  private sentLastMinuteHandshake = false;
  private persistentKeepaliveMs: number;
  private readonly firstContactRetriesMs: number[];

  private readonly retransmitHandshake: PeerTimer;
  private readonly sendKeepaliveTimer: PeerTimer;
  private readonly newHandshake: PeerTimer;
  private readonly zeroKeyMaterial: PeerTimer;
  private readonly persistentKeepalive: PeerTimer;
  private closed = false;

  constructor(
    private readonly ctx: DeviceContext,
    cfg: PeerConfig,
  ) {
    this.publicKey = new Uint8Array(cfg.publicKey);
    this.staticShared = dh(ctx.local.priv, this.publicKey);
    this.cookies = new CookieGenerator(this.publicKey);
    this.allowedIps = cfg.allowedIps;
    this.persistentKeepaliveMs = cfg.persistentKeepaliveMs ?? 0;
    this.firstContactRetriesMs = cfg.firstContactRetriesMs ?? [];
    const c = ctx.clock;
    this.retransmitHandshake = new PeerTimer(c, () => this.expiredRetransmitHandshake());
    this.sendKeepaliveTimer = new PeerTimer(c, () => this.expiredSendKeepalive());
    this.newHandshake = new PeerTimer(c, () => this.sendHandshakeInitiation(false));
    this.zeroKeyMaterial = new PeerTimer(c, () => this.zeroAndFlushAll());
    this.persistentKeepalive = new PeerTimer(c, () => {
      if (this.persistentKeepaliveMs > 0) this.sendKeepalive();
    });
  }

  /** DH(own static, peer static), precomputed for the initiation/consumption steps. */
  staticSharedSecret(): Uint8Array {
    return this.staticShared;
  }

  /** Staged packets waiting for a session (for tests and metrics). */
  get stagedCount(): number {
    return this.staged.length;
  }

  get handshakeState(): HandshakeSlot['state'] {
    return this.handshake.state;
  }

  /** True when a current keypair can send right now. */
  get hasSession(): boolean {
    return this.usableCurrent() !== null;
  }

  setPersistentKeepalive(ms: number): void {
    this.persistentKeepaliveMs = ms;
    if (ms > 0) {
      this.persistentKeepalive.mod(ms);
      if (this.current) this.sendKeepalive();
    } else {
      this.persistentKeepalive.del();
    }
  }

  // ---------------------------------------------------------------- sending

  /** Queues an IP packet and sends what can be sent. */
  send(packet: Uint8Array): void {
    if (this.closed) return;
    this.stage(packet);
    this.sendStaged();
  }

  sendKeepalive(): void {
    if (this.closed) return;
    if (this.staged.length === 0) this.stage(new Uint8Array(0));
    this.sendStaged();
  }

  /** Starts a handshake now (e.g. to establish a session before any data). */
  connect(): void {
    this.sendHandshakeInitiation(false);
  }

  private stage(packet: Uint8Array): void {
    if (this.staged.length >= QUEUE_STAGED_SIZE) {
      this.staged.shift();
      this.ctx.event(this, { type: 'drop', reason: 'queue_full' });
    }
    this.staged.push(packet);
  }

  private usableCurrent(): Keypair | null {
    const kp = this.current;
    if (!kp) return null;
    if (kp.sendCounter >= REJECT_AFTER_MESSAGES) return null;
    if (this.ctx.clock.monotonic() - kp.created >= REJECT_AFTER_TIME_MS) return null;
    return kp;
  }

  private sendStaged(): void {
    while (this.staged.length > 0) {
      const kp = this.usableCurrent();
      if (!kp) {
        this.sendHandshakeInitiation(false);
        return;
      }
      const packets = this.staged;
      this.staged = [];
      for (let i = 0; i < packets.length; i++) {
        if (kp.sendCounter >= REJECT_AFTER_MESSAGES) {
          this.staged = packets.slice(i).concat(this.staged);
          break;
        }
        const n = kp.sendCounter++;
        this.encryptAndSend(kp, n, packets[i]!);
      }
    }
  }

  private encryptAndSend(kp: Keypair, n: bigint, packet: Uint8Array): void {
    const pad = packet.length === 0 ? 0 : paddingSize(packet.length, this.ctx.mtu);
    const datagram = kp.seal(n, packet, pad);
    this.anyAuthenticatedPacketTraversal();
    this.anyAuthenticatedPacketSent();
    if (packet.length !== 0) this.dataSent();
    this.ctx.send(this, datagram);
    this.keepKeyFreshSending();
  }

  private keepKeyFreshSending(): void {
    const kp = this.current;
    if (!kp) return;
    if (kp.sendCounter > REKEY_AFTER_MESSAGES || (kp.isInitiator && this.ctx.clock.monotonic() - kp.created > REKEY_AFTER_TIME_MS)) {
      this.sendHandshakeInitiation(false);
    }
  }

  // -------------------------------------------------------------- handshake

  /** wireguard-go SendHandshakeInitiation(isRetry). */
  sendHandshakeInitiation(isRetry: boolean, minGapMs?: number): void {
    if (this.closed) return;
    if (!isRetry) this.handshakeAttempts = 0;
    const now = this.ctx.clock.monotonic();
    // Data-triggered initiations keep wireguard-go's 5 s spacing; only the first-contact timer retries faster.
    const gap = minGapMs ?? REKEY_TIMEOUT_MS;
    if (now - this.lastSentHandshake < gap) return;
    this.lastSentHandshake = now;
    this.resetHandshakeIndex();
    const index = this.ctx.allocIndex(this);
    this.handshakeIndex = index;
    const timestamp = monotonicTai64n(this.ctx.clock.now(), this.lastSentTimestamp);
    this.lastSentTimestamp = timestamp;
    const { message, state } = createInitiation({
      local: this.ctx.local,
      remotePub: this.publicKey,
      staticShared: this.staticShared,
      ephemeralPriv: this.ctx.newEphemeral(),
      localIndex: index,
      timestamp,
    });
    this.handshake = { state: 'created', init: state };
    this.cookies.addMacs(message, now);
    this.anyAuthenticatedPacketTraversal();
    this.anyAuthenticatedPacketSent();
    // Timers before the send: a synchronous transport may deliver the answer re-entrantly.
    this.handshakeInitiated();
    this.ctx.event(this, { type: 'initiation-sent', retry: isRetry });
    this.ctx.send(this, message);
  }

  private inFastRetry(): boolean {
    return !this.everCompleted && this.fastRetryIndex < this.firstContactRetriesMs.length;
  }

  private resetHandshakeIndex(): void {
    if (this.handshakeIndex >= 0) this.ctx.freeIndex(this.handshakeIndex);
    this.handshakeIndex = -1;
  }

  /**
   * Called by the device after it decrypted an initiation from this peer.
   * Applies the replay and flood rules, then answers with a response.
   */
  consumeInitiation(consumed: ConsumedInitiation): WgErrorCode | null {
    if (this.closed) return 'unknown_peer';
    const now = this.ctx.clock.monotonic();
    if (this.lastReceivedTimestamp && compareTai64n(consumed.timestamp, this.lastReceivedTimestamp) <= 0) {
      return 'replayed_timestamp';
    }
    if (now - this.lastInitiationConsumed <= HANDSHAKE_INITIATION_RATE_MS) return 'flood';
    this.lastReceivedTimestamp = consumed.timestamp;
    this.lastInitiationConsumed = now;
    this.handshake = { state: 'consumed', consumed };
    this.anyAuthenticatedPacketTraversal();
    this.anyAuthenticatedPacketReceived();
    this.sendHandshakeResponse();
    return null;
  }

  private sendHandshakeResponse(): void {
    if (this.handshake.state !== 'consumed') return;
    const now = this.ctx.clock.monotonic();
    this.lastSentHandshake = now;
    this.resetHandshakeIndex();
    const index = this.ctx.allocIndex(this);
    const r = createResponse({ consumed: this.handshake.consumed, ephemeralPriv: this.ctx.newEphemeral(), localIndex: index });
    const remoteIndex = this.handshake.consumed.remoteIndex;
    this.handshake = { state: 'none' };
    this.cookies.addMacs(r.message, now);
    const kp = new Keypair(r.keys.send, r.keys.recv, false, now, index, remoteIndex);
    this.ctx.bindIndex(index, this, kp);
    // Responder: the new keypair waits in `next` until the initiator confirms it.
    if (this.next) this.ctx.freeIndex(this.next.localIndex);
    this.next = kp;
    if (this.previous) this.ctx.freeIndex(this.previous.localIndex);
    this.previous = null;
    this.sessionDerived();
    this.anyAuthenticatedPacketTraversal();
    this.anyAuthenticatedPacketSent();
    this.ctx.send(this, r.message);
    this.ctx.event(this, { type: 'response-sent' });
  }

  /** Called by the device with a response whose receiver index is our handshake index. */
  consumeResponse(message: Uint8Array): WgErrorCode | null {
    if (this.handshake.state !== 'created') return 'wrong_state';
    const r = consumeResponse(this.ctx.local, this.handshake.init, message);
    if (!r) return 'decrypt_failed';
    const now = this.ctx.clock.monotonic();
    const index = this.handshakeIndex;
    this.handshakeIndex = -1;
    this.handshake = { state: 'none' };
    const kp = new Keypair(r.keys.send, r.keys.recv, true, now, index, r.remoteIndex);
    this.ctx.bindIndex(index, this, kp);
    this.anyAuthenticatedPacketTraversal();
    this.anyAuthenticatedPacketReceived();
    // Initiator: the new keypair is current at once.
    if (this.next) {
      if (this.previous) this.ctx.freeIndex(this.previous.localIndex);
      this.previous = this.next;
      this.next = null;
      if (this.current) this.ctx.freeIndex(this.current.localIndex);
    } else {
      if (this.previous) this.ctx.freeIndex(this.previous.localIndex);
      this.previous = this.current;
    }
    this.current = kp;
    this.sessionDerived();
    this.handshakeComplete();
    this.sendKeepalive();
    return null;
  }

  consumeCookieReply(reply: CookieReply): WgErrorCode | null {
    return this.cookies.consumeReply(reply, this.ctx.clock.monotonic()) ? null : 'decrypt_failed';
  }

  // -------------------------------------------------------------- receiving

  /** Called by the device with a transport datagram addressed to one of our keypairs. */
  receiveTransport(kp: Keypair, counter: bigint, datagram: Uint8Array): WgErrorCode | null {
    if (this.closed) return 'unknown_index';
    const now = this.ctx.clock.monotonic();
    if (now - kp.created >= REJECT_AFTER_TIME_MS) return 'expired_keypair';
    const plain = kp.open(counter, datagram);
    if (!plain) return 'decrypt_failed';
    if (!kp.replay.validate(counter)) return 'replayed_counter';
    if (this.next === kp) {
      if (this.previous) this.ctx.freeIndex(this.previous.localIndex);
      this.previous = this.current;
      this.current = kp;
      this.next = null;
      this.handshakeComplete();
      this.sendStaged();
    }
    this.keepKeyFreshReceiving();
    this.anyAuthenticatedPacketTraversal();
    this.anyAuthenticatedPacketReceived();
    if (plain.length === 0) return null;
    this.dataReceived();
    return this.deliverPlaintext(plain);
  }

  private deliverPlaintext(plain: Uint8Array): WgErrorCode | null {
    if (plain.length < 40 || plain[0]! >> 4 !== 6) return 'bad_packet';
    const total = 40 + ((plain[4]! << 8) | plain[5]!);
    if (total > plain.length) return 'bad_packet';
    const src = plain.subarray(8, 24);
    if (!this.allowedIps.some((p) => prefixContains(p, src))) return 'bad_source';
    this.ctx.deliver(this, plain.subarray(0, total));
    return null;
  }

  private keepKeyFreshReceiving(): void {
    if (this.sentLastMinuteHandshake) return;
    const kp = this.current;
    if (kp && kp.isInitiator && this.ctx.clock.monotonic() - kp.created > REJECT_AFTER_TIME_MS - KEEPALIVE_TIMEOUT_MS - REKEY_TIMEOUT_MS) {
      this.sentLastMinuteHandshake = true;
      this.sendHandshakeInitiation(false);
    }
  }

  // ----------------------------------------------------------------- timers

  private dataSent(): void {
    if (!this.newHandshake.pending) this.newHandshake.mod(KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS + this.ctx.jitterMs());
  }

  private dataReceived(): void {
    if (!this.sendKeepaliveTimer.pending) this.sendKeepaliveTimer.mod(KEEPALIVE_TIMEOUT_MS);
    else this.needAnotherKeepalive = true;
  }

  private anyAuthenticatedPacketSent(): void {
    this.sendKeepaliveTimer.del();
  }

  private anyAuthenticatedPacketReceived(): void {
    this.newHandshake.del();
  }

  private anyAuthenticatedPacketTraversal(): void {
    if (this.persistentKeepaliveMs > 0) this.persistentKeepalive.mod(this.persistentKeepaliveMs);
  }

  private handshakeInitiated(): void {
    let delay = REKEY_TIMEOUT_MS + this.ctx.jitterMs();
    if (this.inFastRetry()) delay = this.firstContactRetriesMs[this.fastRetryIndex]!;
    this.retransmitHandshake.mod(delay);
  }

  private handshakeComplete(): void {
    this.retransmitHandshake.del();
    this.handshakeAttempts = 0;
    this.sentLastMinuteHandshake = false;
    this.everCompleted = true;
    this.lastHandshakeAt = this.ctx.clock.now();
    this.ctx.event(this, { type: 'handshake-complete' });
  }

  private sessionDerived(): void {
    this.zeroKeyMaterial.mod(REJECT_AFTER_TIME_MS * 3);
  }

  private expiredRetransmitHandshake(): void {
    if (this.inFastRetry()) {
      this.fastRetryIndex++;
      this.sendHandshakeInitiation(true, MIN_FAST_RETRY_GAP_MS);
      return;
    }
    if (this.handshakeAttempts > MAX_TIMER_HANDSHAKES) {
      this.sendKeepaliveTimer.del();
      this.staged = [];
      if (!this.zeroKeyMaterial.pending) this.zeroKeyMaterial.mod(REJECT_AFTER_TIME_MS * 3);
      this.ctx.event(this, { type: 'handshake-failed' });
      return;
    }
    this.handshakeAttempts++;
    this.sendHandshakeInitiation(true);
  }

  private expiredSendKeepalive(): void {
    this.sendKeepalive();
    if (this.needAnotherKeepalive) {
      this.needAnotherKeepalive = false;
      this.sendKeepaliveTimer.mod(KEEPALIVE_TIMEOUT_MS);
    }
  }

  /** Erases all keypairs and handshake state and drops staged packets. */
  zeroAndFlushAll(): void {
    for (const kp of [this.previous, this.current, this.next]) if (kp) this.ctx.freeIndex(kp.localIndex);
    this.previous = this.current = this.next = null;
    this.resetHandshakeIndex();
    this.handshake = { state: 'none' };
    this.staged = [];
    this.ctx.event(this, { type: 'keys-zeroed' });
  }

  /** Stops all timers and forgets all key material. */
  close(): void {
    if (this.closed) return;
    for (const t of [this.retransmitHandshake, this.sendKeepaliveTimer, this.newHandshake, this.zeroKeyMaterial, this.persistentKeepalive]) t.del();
    this.zeroAndFlushAll();
    this.closed = true;
  }
}
