/**
 * One transport session: keys, send counter, replay filter (spec §1.10).
 * Encrypt/decrypt are pure over the keypair's own state.
 */
import { SIZE_TRANSPORT_HEADER } from './constants.js';
import { encodeTransportHeader } from './messages.js';
import { aeadOpen, aeadSealInto } from './primitives.js';
import { ReplayFilter } from './replay.js';

const EMPTY = new Uint8Array(0);

export class Keypair {
  sendCounter = 0n;
  readonly replay = new ReplayFilter();

  constructor(
    readonly sendKey: Uint8Array,
    readonly recvKey: Uint8Array,
    readonly isInitiator: boolean,
    readonly created: number,
    readonly localIndex: number,
    readonly remoteIndex: number,
  ) {}

  /** Seals `packet` plus `pad` zero bytes with counter `n` into a full transport datagram. */
  seal(n: bigint, packet: Uint8Array, pad = 0): Uint8Array {
    const header = new Uint8Array(SIZE_TRANSPORT_HEADER);
    encodeTransportHeader(header, this.remoteIndex, n);
    return aeadSealInto(header, this.sendKey, n, packet, pad);
  }

  /** Opens the body of a transport datagram; null on authentication failure. No replay check here. */
  open(counter: bigint, datagram: Uint8Array): Uint8Array | null {
    return aeadOpen(this.recvKey, counter, datagram.subarray(SIZE_TRANSPORT_HEADER), EMPTY);
  }
}

/** Zero bytes to append so the packet is a multiple of 16, never beyond the MTU (wireguard-go calculatePaddingSize). */
export function paddingSize(packetSize: number, mtu: number): number {
  let last = packetSize;
  if (mtu === 0) return ((last + 15) & ~15) - last;
  if (last > mtu) last %= mtu;
  let padded = (last + 15) & ~15;
  if (padded > mtu) padded = mtu;
  return padded - last;
}
