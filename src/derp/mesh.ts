/**
 * Mesh link to another DERP server of the same region (derper's --mesh-with):
 *
 *   this server ──DerpClient(meshKey, WatchConns)──▶ peer server
 *        ▲  PeerPresent(k) → addPacketForwarder(k, link)
 *        │  PeerGone(k)    → removePacketForwarder(k, link)
 *        └─ packets for k  → link.forwardPacket → ForwardPacket frame on the link
 *
 * On any connection loss every learned key is dropped (derper's
 * MeshConnBroke), and the link reconnects after `retryMs`. A link that turns
 * out to point at this very server (same DERP key) stops for good.
 */
import type { Logger } from 'pino';
import type { DerpServer, PacketForwarder } from './server.js';
import { DerpClient, type DerpClientOptions } from './client.js';

export interface MeshLinkOptions {
  /** Peer DERP URL, e.g. https://replica-2.internal/derp. */
  url: string;
  meshKey: string;
  /** Our server's private key (derper dials mesh peers with its own key). */
  privateKey: Buffer;
  logger: Logger;
  retryMs?: number;
  client?: Omit<DerpClientOptions, 'meshKey'>;
}

export interface MeshLink {
  /** Keys currently reachable through this link. */
  readonly keys: number;
  readonly connected: boolean;
  close(): void;
}

export function startMeshLink(server: DerpServer, opts: MeshLinkOptions): MeshLink {
  const retryMs = opts.retryMs ?? 5000;
  const learned = new Map<string, Buffer>();
  let client: DerpClient | null = null;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  const fwd: PacketForwarder = {
    forwardPacket(src, dst, packet) {
      client?.forwardPacket(src, dst, packet);
    },
  };

  const forgetAll = (): void => {
    for (const k of learned.values()) server.removePacketForwarder(k, fwd);
    learned.clear();
  };

  const schedule = (): void => {
    if (stopped || timer) return;
    timer = setTimeout(() => {
      timer = null;
      void run();
    }, retryMs);
    timer.unref();
  };

  const run = async (): Promise<void> => {
    if (stopped) return;
    let c: DerpClient;
    try {
      c = await DerpClient.connect(opts.url, opts.privateKey, { ...opts.client, meshKey: opts.meshKey });
    } catch (err) {
      opts.logger.warn({ err, url: opts.url }, 'derp mesh: connect failed');
      schedule();
      return;
    }
    if (stopped) {
      c.close();
      return;
    }
    if (c.serverPublicKey?.equals(server.publicKey)) {
      opts.logger.info({ url: opts.url }, 'derp mesh: peer is this server; not meshing with itself');
      c.close();
      stopped = true;
      return;
    }
    client = c;
    c.onMessage = (m) => {
      if (m.type === 'peerPresent') {
        const id = m.key.toString('hex');
        if (!learned.has(id)) {
          learned.set(id, m.key);
          server.addPacketForwarder(m.key, fwd);
        }
      } else if (m.type === 'peerGone') {
        const id = m.key.toString('hex');
        if (learned.delete(id)) server.removePacketForwarder(m.key, fwd);
      }
    };
    c.watchConns();
    opts.logger.info({ url: opts.url }, 'derp mesh: connected');
    await c.closed;
    if (client === c) client = null;
    forgetAll();
    if (!stopped) {
      opts.logger.warn({ url: opts.url, err: c.closeError }, 'derp mesh: connection lost');
      schedule();
    }
  };

  void run();
  return {
    get keys() {
      return learned.size;
    },
    get connected() {
      return client !== null;
    },
    close() {
      stopped = true;
      if (timer) clearTimeout(timer);
      client?.close();
      client = null;
      forgetAll();
    },
  };
}
