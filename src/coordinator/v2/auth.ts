/**
 * Coordinate request authorization (tailnet-v2.md §3.5.2), fixed per stream by
 * the endpoint: agents publish only themselves at their derived /128s and open
 * no tunnels; clients tunnel only to the URL's agent and never send
 * ready_for_handshake. Pure; returns the detail text or null.
 */
import { isIP } from 'node:net';
import { uuidFromBytes } from '../../rpc/convert/uuid.js';
import type { CoordinateRequest } from '../../rpc/proto/tailnet.js';

export type TunnelAuth = { kind: 'agent'; agentId: string } | { kind: 'client'; agentId: string };

/** Tailscale's and Coder's service prefixes (first 6 bytes of a /48). */
const TAILSCALE_PREFIX = [0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0];
const CODER_PREFIX = [0xfd, 0x60, 0x62, 0x7a, 0xa4, 0x2b];

/** 16 bytes of an IPv6 address text, or null when it is not IPv6. */
export function ipv6Bytes(text: string): Uint8Array | null {
  if (isIP(text) !== 6) return null;
  let s = text;
  let tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    tail = dotted[1]!.split('.').map(Number);
    s = s.slice(0, -dotted[1]!.length) + '0:0';
  }
  const [head, rest] = s.split('::') as [string, string | undefined];
  const hs = head ? head.split(':') : [];
  const rs = rest !== undefined && rest ? rest.split(':') : [];
  const groups = rest === undefined ? hs : [...hs, ...Array<string>(8 - hs.length - rs.length).fill('0'), ...rs];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  if (tail.length === 4) out.set(tail, 12);
  return out;
}

/** The agent's /128 addresses derived from its UUID under both service prefixes. */
export function agentAddresses(agentId: string): Uint8Array[] {
  const id = Buffer.from(agentId.replaceAll('-', ''), 'hex');
  return [TAILSCALE_PREFIX, CODER_PREFIX].map((p) => {
    const a = new Uint8Array(16);
    a.set(p, 0);
    a.set(id.subarray(6, 16), 6);
    return a;
  });
}

function prefixBits(prefix: string): { addr: string; bits: number } {
  const slash = prefix.lastIndexOf('/');
  return { addr: prefix.slice(0, slash), bits: Number(prefix.slice(slash + 1)) };
}

function checkAddresses(addresses: readonly string[], agentId: string | null): string | null {
  const allowed = agentId === null ? null : agentAddresses(agentId);
  for (const p of addresses) {
    const { addr, bits } = prefixBits(p);
    if (bits !== 128) return `invalid address bits, expected 128, got ${bits}`;
    if (allowed !== null) {
      const b = ipv6Bytes(addr);
      if (b === null || !allowed.some((a) => Buffer.from(a).equals(b))) return `invalid node address, got ${p}`;
    }
  }
  return null;
}

function tunnelTarget(id: Uint8Array, agentId: string): string | null {
  if (id.length !== 16) return `invalid agent id, expected ${agentId}, got ${id.length} bytes`;
  const got = uuidFromBytes(id);
  return got === agentId ? null : `invalid agent id, expected ${agentId}, got ${got}`;
}

/** Detail text of the first rule the request breaks (to be sent as "authorization: <detail>"), or null. */
export function authorizeRequest(auth: TunnelAuth, req: CoordinateRequest): string | null {
  if (auth.kind === 'agent') {
    if (req.addTunnel || req.removeTunnel) return 'agents cannot open tunnels';
    if (req.updateSelf?.node) return checkAddresses(req.updateSelf.node.addresses, auth.agentId);
    return null;
  }
  if (req.addTunnel) {
    const e = tunnelTarget(req.addTunnel.id, auth.agentId);
    if (e) return e;
  }
  if (req.removeTunnel) {
    const e = tunnelTarget(req.removeTunnel.id, auth.agentId);
    if (e) return e;
  }
  if (req.readyForHandshake.length > 0) return 'clients may not send ready_for_handshake';
  if (req.updateSelf?.node) return checkAddresses(req.updateSelf.node.addresses, null);
  return null;
}
