/**
 * Carries WireGuard datagrams over a DERP connection (spec §2.2): one
 * datagram = one SendPacket to the peer's node key; RecvPacket payloads go to
 * the Device with their authenticated DERP source key, which the Device
 * checks against the peer the datagram authenticates as. The DERP login key
 * must be the WireGuard static key (spec §2.1).
 *
 *   Device.send(peer, d) ─► DerpLink.send(peer.publicKey, d) ─► DERP SendPacket
 *   DERP RecvPacket(src, d) ─► classify ─► Device.receive(d, src)   (disco/junk dropped)
 */
import { DerpClient, type DerpClientOptions } from '../derp/client.js';
import { Device, type DeviceOptions } from '../wireguard/device.js';
import { classify } from '../wireguard/messages.js';
import { publicKey as publicKeyOf } from '../wireguard/primitives.js';
import { tailnetError } from './errors.js';
import { TailnetPeer, type TailnetPeerOptions } from './session.js';

export interface DerpLinkStats {
  sent: number;
  received: number;
  disco: number;
  junk: number;
}

export class DerpLink {
  /** WireGuard datagram from `src` (a node key). */
  onDatagram: ((src: Uint8Array, datagram: Uint8Array) => void) | null = null;
  /** The relay says `key` is not connected to it (any more). */
  onPeerGone: ((key: Uint8Array, reason: number) => void) | null = null;
  readonly stats: DerpLinkStats = { sent: 0, received: 0, disco: 0, junk: 0 };

  constructor(readonly client: DerpClient) {
    client.onPacket = (src, data) => this.receive(src, data);
    client.onMessage = (m) => {
      if (m.type === 'peerGone') this.onPeerGone?.(new Uint8Array(m.key), m.reason);
    };
  }

  /** Logs into the DERP server at `url` with the peer's node (= WireGuard) private key. */
  static async connect(url: string, nodePrivateKey: Uint8Array, opts: DerpClientOptions = {}): Promise<DerpLink> {
    return new DerpLink(await DerpClient.connect(url, Buffer.from(nodePrivateKey), opts));
  }

  get publicKey(): Uint8Array {
    return this.client.publicKey;
  }

  get closed(): Promise<void> {
    return this.client.closed;
  }

  send(dst: Uint8Array, datagram: Uint8Array): void {
    if (this.client.closeError) return; // WireGuard and TCP retry; the owner reconnects
    this.stats.sent++;
    this.client.send(dst, datagram);
  }

  private receive(src: Buffer, data: Buffer): void {
    const d = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const kind = classify(d);
    if (kind === 'disco') {
      this.stats.disco++;
      return;
    }
    if (kind === 'junk') {
      this.stats.junk++;
      return;
    }
    this.stats.received++;
    this.onDatagram?.(new Uint8Array(src), d);
  }

  close(): void {
    this.client.close();
  }
}

/** A WireGuard Device whose datagrams travel over `link` (its private key must be the link's). */
export function deviceOverDerp(link: DerpLink, opts: Omit<DeviceOptions, 'send'>): Device {
  const dev = new Device({ ...opts, send: (peer, d) => link.send(peer.publicKey, d) });
  if (!Buffer.from(dev.publicKey).equals(Buffer.from(link.publicKey))) {
    dev.close();
    throw tailnetError('EINVAL', 'DERP login key and WireGuard static key differ: the agent would drop every packet');
  }
  link.onDatagram = (src, d) => {
    dev.receive(d, src);
  };
  return dev;
}

/** A TailnetPeer whose datagrams travel over `link`; PeerGone fails pending dials to that agent. */
export function tailnetPeerOverDerp(link: DerpLink, opts: Omit<TailnetPeerOptions, 'send'>): TailnetPeer {
  if (!Buffer.from(publicKeyOf(opts.privateKey)).equals(Buffer.from(link.publicKey))) {
    throw tailnetError('EINVAL', 'DERP login key and WireGuard static key differ: the agent would drop every packet');
  }
  const peer = new TailnetPeer({ ...opts, send: (dst, d) => link.send(dst, d) });
  link.onDatagram = (src, d) => peer.receive(src, d);
  link.onPeerGone = (key) => peer.peerGone(key);
  return peer;
}
