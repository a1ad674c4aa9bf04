/**
 * A lean v2 coordinate peer for the load generator, built on the src/rpc
 * stack the server uses (the client halves of it):
 *
 *   ws client ─► WsByteStream ─► YamuxSession (client role) ─► one yamux stream
 *     ─► dRPC Invoke "/coder.tailnet.v2.Tailnet/Coordinate", then one Message per CoordinateRequest
 *     ◄─ PacketReassembler ◄─ Message packets = CoordinateResponse (decoded only when sampled)
 *
 * Clients (/{agent}/coordinate?version=2.0) send add_tunnel to their agent on
 * open; agents (/me/rpc?version=2.x) only update_self, at the /128 derived from
 * their UUID as the server's authorization requires. Node contents match the
 * v1 generator's ~420 B JSON node (wire.ts), with the send time in `id`.
 */
import { pino } from 'pino';
import WebSocket from 'ws';
import { decodeNode } from '../../src/coordinator/node.js';
import { agentAddresses } from '../../src/coordinator/v2/auth.js';
import { nodeToProto } from '../../src/rpc/convert/node.js';
import { uuidToBytes } from '../../src/rpc/convert/uuid.js';
import { PacketReassembler } from '../../src/rpc/drpc/reassembler.js';
import { Kind, encodePacket } from '../../src/rpc/drpc/wire.js';
import * as tp from '../../src/rpc/proto/tailnet.js';
import { WsByteStream } from '../../src/rpc/ws-stream.js';
import { YamuxSession } from '../../src/rpc/yamux/session.js';
import type { YamuxStream } from '../../src/rpc/yamux/stream.js';
import { nowMicros, stampedNode } from './wire.js';

const silent = pino({ level: 'silent' });

/** IPv6 text of 16 bytes (eight groups, no zero compression: valid and parseable everywhere). */
function ipv6Text(b: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((b[i] as number) << 8) | (b[i + 1] as number)).toString(16));
  return groups.join(':');
}

/** The v1 bench node converted to proto once; agents get their own address. */
function nodeTemplate(agentId: string | null): tp.Node {
  const n = nodeToProto(decodeNode(stampedNode()).node);
  if (agentId !== null) {
    const addr = `${ipv6Text(agentAddresses(agentId)[0] as Uint8Array)}/128`;
    n.addresses = [addr];
    n.allowedIps = [addr];
  }
  return n;
}

let seq = 0;

/** Payload sizes of one bench update: v1 JSON node text and v2 CoordinateRequest{update_self} (client node). */
export function updateSizes(): { json: number; proto: number } {
  const node = nodeTemplate(null);
  node.id = BigInt(nowMicros()) * 1000n;
  return { json: stampedNode().length, proto: tp.CoordinateRequest.encode({ updateSelf: { node }, readyForHandshake: [] }).length };
}

/** Send time (µs) carried in a NODE update's id, or -1. */
export function updateSentMicros(u: tp.PeerUpdate): number {
  return u.node ? Number(u.node.id / 1000n) : -1;
}

export interface V2Target {
  role: 'agent' | 'client';
  agentId: string;
}

/** Role and agent from a bench URL (the proto server's routes). */
export function targetOf(url: string): V2Target {
  const u = new URL(url);
  if (u.pathname.endsWith('/me/rpc')) return { role: 'agent', agentId: u.searchParams.get('agent') ?? '' };
  const m = /\/workspaceagents\/([0-9a-fA-F-]{36})\/coordinate$/.exec(u.pathname);
  if (!m) throw new Error(`not a v2 coordinate URL: ${url}`);
  return { role: 'client', agentId: m[1] as string };
}

export class V2Peer {
  private messageId = 1;
  private readonly reasm = new PacketReassembler();
  private readonly node: tp.Node;

  private constructor(
    readonly ws: WebSocket,
    readonly session: YamuxSession,
    readonly stream: YamuxStream,
    target: V2Target,
    /** Each CoordinateResponse packet; `decode` gives the message (only called when needed). */
    onResponse: (decode: () => tp.CoordinateResponse) => void,
  ) {
    this.node = nodeTemplate(target.role === 'agent' ? target.agentId : null);
    stream.onReadable = () => {
      for (let c = stream.read(); c; c = stream.read()) this.reasm.push(c);
      for (let p = this.reasm.next(); p; p = this.reasm.next()) {
        if (p.kind !== Kind.Message) continue;
        const data = p.data;
        onResponse(() => tp.CoordinateResponse.decode(data));
      }
    };
  }

  /** Dials, opens the Coordinate stream and (clients) adds the tunnel to the URL's agent. */
  static async open(url: string, localAddress: string, onResponse: (decode: () => tp.CoordinateResponse) => void): Promise<V2Peer> {
    const target = targetOf(url);
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 << 20, localAddress });
    ws.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
    // Go clients keep yamux's 30 s keepalive on; so does this one.
    const session = new YamuxSession(new WsByteStream(ws), { role: 'client', logger: silent });
    const peer = new V2Peer(ws, session, session.openStream(), target, onResponse);
    const first: { kind: number; data: Uint8Array }[] = [{ kind: Kind.Invoke, data: new TextEncoder().encode(tp.TailnetMethods.Coordinate) }];
    if (target.role === 'client') first.push({ kind: Kind.Message, data: tp.CoordinateRequest.encode({ addTunnel: { id: uuidToBytes(target.agentId) }, readyForHandshake: [] }) });
    peer.write(first);
    return peer;
  }

  private write(packets: { kind: number; data: Uint8Array }[]): void {
    const parts = packets.map((p) => encodePacket({ kind: p.kind, streamId: 1, messageId: this.messageId++, control: false, data: p.data }));
    this.stream.write(parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts)).catch(() => {});
  }

  /** update_self with a node stamped with the current time. */
  sendNode(): void {
    this.node.id = BigInt(nowMicros()) * 1000n + BigInt(seq++ % 1000);
    this.write([{ kind: Kind.Message, data: tp.CoordinateRequest.encode({ updateSelf: { node: this.node }, readyForHandshake: [] }) }]);
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Drops the connection without a disconnect (the bench tears down whole fleets at once). */
  close(): void {
    this.ws.terminate();
  }
}
