/**
 * coder.tailnet.v2.Node ⇄ the coordinator's v1-shaped Node (Coder's
 * tailnet/convert.go rules): key = "np" + 32 bytes ⇄ "nodekey:" + hex, disco
 * text unchanged, prefixes validated, forced-websocket keys int ⇄ decimal
 * text. Empty collections map to the JSON spellings Coder produced: `{}` for
 * forced websockets, `[]` for addresses/allowed_ips, null for derp_latency
 * and endpoints.
 */
import { isPrefixText } from '../../coordinator/netparse.js';
import type { Node as CoordNode } from '../../coordinator/node.js';
import type { Node as ProtoNode } from '../proto/tailnet.js';
import { convertError } from './errors.js';
import { rfc3339ToTimestamp, timestampToRfc3339 } from './time.js';

const HEX64 = /^[0-9a-fA-F]{64}$/;
const NP0 = 0x6e; // 'n'
const NP1 = 0x70; // 'p'

/** tailscale key.NodePublic.MarshalBinary: "np" + 32 raw bytes. */
export function nodeKeyToProto(text: string): Uint8Array {
  const hex = text.startsWith('nodekey:') ? text.slice(8) : '';
  if (!HEX64.test(hex)) throw convertError('bad_node_key', `invalid node key ${JSON.stringify(text)}`);
  const out = new Uint8Array(34);
  out[0] = NP0;
  out[1] = NP1;
  out.set(Buffer.from(hex, 'hex'), 2);
  return out;
}

export function nodeKeyFromProto(b: Uint8Array): string {
  if (b.length !== 34 || b[0] !== NP0 || b[1] !== NP1) throw convertError('bad_node_key', `invalid node key (${b.length} bytes)`);
  return `nodekey:${Buffer.from(b.subarray(2)).toString('hex')}`;
}

function checkDisco(d: string): string {
  if (!d.startsWith('discokey:') || !HEX64.test(d.slice(9))) throw convertError('bad_disco_key', `invalid disco key ${JSON.stringify(d)}`);
  return d;
}

function checkPrefixes(list: readonly string[], field: string): string[] {
  for (const p of list) if (!isPrefixText(p)) throw convertError('bad_prefix', `invalid ${field} prefix ${JSON.stringify(p)}`);
  return [...list];
}

export function nodeFromProto(p: ProtoNode): CoordNode {
  const forced: Record<string, string> = {};
  for (const [k, v] of p.derpForcedWebsocket) forced[String(k)] = v;
  return {
    id: p.id,
    asOf: timestampToRfc3339(p.asOf),
    key: nodeKeyFromProto(p.key),
    disco: checkDisco(p.disco),
    preferredDerp: p.preferredDerp,
    derpLatency: p.derpLatency.size > 0 ? Object.fromEntries(p.derpLatency) : null,
    derpForcedWebsockets: forced,
    addresses: checkPrefixes(p.addresses, 'address'),
    allowedIps: checkPrefixes(p.allowedIps, 'allowed IP'),
    endpoints: p.endpoints.length > 0 ? [...p.endpoints] : null,
  };
}

export function nodeToProto(n: CoordNode): ProtoNode {
  const forced = new Map<number, string>();
  for (const [k, v] of Object.entries(n.derpForcedWebsockets ?? {})) forced.set(Number(k) | 0, v);
  return {
    id: n.id,
    asOf: rfc3339ToTimestamp(n.asOf),
    key: nodeKeyToProto(n.key),
    disco: n.disco,
    preferredDerp: n.preferredDerp,
    derpLatency: new Map(Object.entries(n.derpLatency ?? {})),
    derpForcedWebsocket: forced,
    addresses: [...(n.addresses ?? [])],
    allowedIps: [...(n.allowedIps ?? [])],
    endpoints: [...(n.endpoints ?? [])],
  };
}
