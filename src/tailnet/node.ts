/**
 * The Node tailnetd's own peer announces through the v1 coordinator, and how
 * it reads an agent's node (spec §2.5–§2.7). Pure; the JSON codec itself is
 * the coordinator's (encodeNode/decodeNode), so our node is byte-identical
 * to what any client would send.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { encodeNode, type Node } from '../coordinator/node.js';
import { formatIpv6, parseIpv6, parsePrefix6, prefixContains } from '../wireguard/allowed-ips.js';
import { formatDiscoKey, formatNodeKey, isZeroKey, parseDiscoKey, parseNodeKey } from '../wireguard/keys.js';
import { tailnetError } from './errors.js';

/** codersdk.WorkspaceAgentIP: every Coder agent has this address. */
export const AGENT_IP = 'fd7a:115c:a1e0:49d6:b259:b7ac:b1b2:48f4';
export const AGENT_PORT_SSH = 1;
export const AGENT_PORT_RECONNECTING_PTY = 2;
export const AGENT_PORT_SPEEDTEST = 3;
export const AGENT_PORT_HTTP_API = 4;

const TAILNET_PREFIX = Uint8Array.of(0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0);
const RESERVED = [
  `${AGENT_IP}/128`,
  'fd7a:115c:a1e0::53/128',
  'fd7a:115c:a1e0:b1a::/64',
  'fd7a:115c:a1e0:ab12:4843:cd96:6200::/104',
  'fd7a:115c:a1e0:efe3::/64',
].map(parsePrefix6);

/**
 * A random /128 inside fd7a:115c:a1e0::/48 the way Coder's tailnet.IP() makes
 * one (a v4 UUID with its first six bytes replaced), avoiding reserved ranges.
 */
export function generateTailnetAddress(uuid: () => string = randomUUID): string {
  for (;;) {
    const b = new Uint8Array(Buffer.from(uuid().replace(/-/g, ''), 'hex'));
    b.set(TAILNET_PREFIX, 0);
    if (!RESERVED.some((p) => prefixContains(p, b))) return formatIpv6(b);
  }
}

/** A random non-zero positive int64 node id. */
export function randomNodeId(): bigint {
  for (;;) {
    const id = randomBytes(8).readBigUInt64BE(0) & 0x7fffffffffffffffn;
    if (id !== 0n) return id;
  }
}

export interface OwnNodeInput {
  id: bigint;
  nodeKey: Uint8Array;
  discoKey: Uint8Array;
  /** DERP region the peer is attached to; must be in the agent's DERP map. */
  preferredDerp: number;
  /** Our /128 address, without prefix length. */
  address: string;
  asOf: Date;
}

/** Builds and validates our Node: every rule the agent needs to accept it (spec §2.6). */
export function ownNode(i: OwnNodeInput): Node {
  if (i.id <= 0n || i.id > 0x7fffffffffffffffn) throw tailnetError('EINVAL', 'node id must be a positive int64');
  if (i.nodeKey.length !== 32 || isZeroKey(i.nodeKey)) throw tailnetError('EINVAL', 'node key must be 32 non-zero bytes');
  if (i.discoKey.length !== 32 || isZeroKey(i.discoKey)) throw tailnetError('EINVAL', 'disco key must be non-zero (the agent ignores zero-disco nodes)');
  if (!Number.isInteger(i.preferredDerp) || i.preferredDerp <= 0) throw tailnetError('EINVAL', 'preferred_derp must be a region id > 0');
  let addr: Uint8Array;
  try {
    addr = parseIpv6(i.address);
  } catch {
    throw tailnetError('EINVAL', `not an IPv6 address: ${i.address}`);
  }
  const prefix = `${formatIpv6(addr)}/128`;
  return {
    id: i.id,
    asOf: i.asOf.toISOString(),
    key: formatNodeKey(i.nodeKey),
    disco: formatDiscoKey(i.discoKey),
    preferredDerp: i.preferredDerp,
    derpLatency: {},
    derpForcedWebsockets: null,
    addresses: [prefix],
    allowedIps: [prefix],
    endpoints: [],
  };
}

/** Our node as the JSON object the coordinator forwards (63-bit id kept exact). */
export function ownNodeJson(i: OwnNodeInput): string {
  return encodeNode(ownNode(i));
}

/** What the TS peer needs from an agent's node. */
export interface AgentPeerInfo {
  nodeKey: Uint8Array;
  discoKey: Uint8Array;
  preferredDerp: number;
  /** The agent's /128 (always AGENT_IP for Coder agents). */
  address: string;
}

/**
 * Reads an agent node the way tailnet.Conn.UpdateNodes would accept it:
 * null while preferred_derp is 0 (netcheck not done) or the keys are unusable.
 */
export function agentPeerFromNode(n: Node): AgentPeerInfo | null {
  if (n.preferredDerp <= 0) return null;
  let nodeKey: Uint8Array;
  let discoKey: Uint8Array;
  try {
    nodeKey = parseNodeKey(n.key.toLowerCase());
    discoKey = parseDiscoKey(n.disco.toLowerCase());
  } catch {
    return null;
  }
  if (isZeroKey(nodeKey) || isZeroKey(discoKey)) return null;
  const first = n.addresses?.[0];
  let address = AGENT_IP;
  if (first) {
    try {
      address = formatIpv6(parsePrefix6(first).addr);
    } catch {
      return null;
    }
  }
  return { nodeKey, discoKey, preferredDerp: n.preferredDerp, address };
}
