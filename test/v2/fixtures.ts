/** Proto nodes and addresses for v2 tests. */
import { randomBytes } from 'node:crypto';
import type * as tp from '../../src/rpc/proto/tailnet.js';
import { agentAddresses } from '../../src/coordinator/v2/auth.js';
import { uuidFromBytes, uuidToBytes } from '../../src/rpc/convert/uuid.js';

export function v6Text(b: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return groups.join(':');
}

/** The agent's derived tailnet /128 (Tailscale prefix). */
export function agentPrefix(agentId: string): string {
  return `${v6Text(agentAddresses(agentId)[0]!)}/128`;
}

export function clientPrefix(): string {
  return `fd7a:115c:a1e0:${randomBytes(2).toString('hex')}::${randomBytes(2).toString('hex')}/128`;
}

export function protoNode(o: { id?: bigint; derp?: number; address?: string } = {}): tp.Node {
  const key = new Uint8Array(34);
  key[0] = 0x6e;
  key[1] = 0x70;
  key.set(randomBytes(32), 2);
  const addr = o.address ?? clientPrefix();
  return {
    id: o.id ?? randomBytes(8).readBigUInt64BE() >> 1n,
    asOf: { seconds: Math.floor(Date.now() / 1000), nanos: 0 },
    key,
    disco: `discokey:${randomBytes(32).toString('hex')}`,
    preferredDerp: o.derp ?? 999,
    derpLatency: new Map([['999-v4', 0.01]]),
    derpForcedWebsocket: new Map(),
    addresses: [addr],
    allowedIps: [addr],
    endpoints: ['192.0.2.1:41641'],
  };
}

export const idBytes = uuidToBytes;
export const idText = uuidFromBytes;
