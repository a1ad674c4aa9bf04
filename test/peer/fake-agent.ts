/**
 * A TS stand-in for a Coder agent, for tests only: it coordinates through
 * tailnetd's real /me/coordinate WebSocket (so the agent counts as connected),
 * logs into tailnetd's DERP relay over the network, adds every client node it
 * hears about as a WireGuard peer and runs a TCP echo responder on every port.
 * Proves the server tailnet's wiring, not the agent protocols (the Go interop
 * scenario does that with the real agent).
 */
import { decodeNode } from '../../src/coordinator/index.js';
import { AGENT_IP, DerpLink, deviceOverDerp, ownNodeJson, randomNodeId } from '../../src/tailnet/index.js';
import { type Device, type WgPeer, generateKeyPair, parseIpv6, parsePrefix6 } from '../../src/wireguard/index.js';
import { V1Peer } from '../coordinator/helpers.js';
import { EchoResponder } from '../tailnet/responder.js';

export interface FakeAgent {
  coord: V1Peer;
  link: DerpLink;
  device: Device;
  nodeKey: Uint8Array;
  peers(): number;
  /** Forgets a client peer (keys and all) until its node is delivered again, like the agent's 5-minute prune. */
  evict(nodeKeyHex: string): void;
  close(): void;
}

export async function startFakeAgent(serverUrl: string, token: string, regionId = 999): Promise<FakeAgent> {
  const kp = generateKeyPair();
  // Coordinate first: with --derp-verify-clients the relay admits only node keys the coordinator knows.
  const coord = await V1Peer.connect(`${serverUrl.replace('http', 'ws')}/api/v2/workspaceagents/me/coordinate?coder_session_token=${encodeURIComponent(token)}`);
  coord.send(ownNodeJson({ id: randomNodeId(), nodeKey: kp.publicKey, discoKey: generateKeyPair().publicKey, preferredDerp: regionId, address: AGENT_IP, asOf: new Date() }));
  let link: DerpLink | null = null;
  for (let attempt = 0; link === null; attempt++) {
    try {
      link = await DerpLink.connect(`${serverUrl}/derp`, kp.privateKey);
    } catch (e) {
      if (attempt > 50) throw e;
      await new Promise((r) => setTimeout(r, 100)); // admission cache refreshes every 250 ms
    }
  }
  const responders = new Map<WgPeer, EchoResponder>();
  const device = deviceOverDerp(link, { privateKey: kp.privateKey, deliver: (peer, pkt) => responders.get(peer)?.input(pkt) });
  const known = new Set<string>();
  const addNodes = (texts: string[]): void => {
    // Decoded through the coordinator's codec (63-bit ids stay exact).
    for (const text of texts) {
      const n = decodeNode(text).node;
      if (known.has(n.key) || !n.addresses?.[0]) continue;
      known.add(n.key);
      const addr = parsePrefix6(n.addresses[0]).addr;
      const peer = device.addPeer({ publicKey: Buffer.from(n.key.slice('nodekey:'.length), 'hex'), allowedIps: [parsePrefix6(n.addresses[0])] });
      responders.set(peer, new EchoResponder(parseIpv6(AGENT_IP), addr, (p) => peer.send(p)));
    }
  };
  for (const m of coord.messages) addNodes(m);
  // V1Peer's own listener (registered first) has already split the array into coord.messages.
  coord.ws.on('message', () => addNodes(coord.messages.at(-1) ?? []));
  const l = link;
  return {
    coord,
    link: l,
    device,
    nodeKey: kp.publicKey,
    peers: () => known.size,
    evict(nodeKeyHex) {
      known.delete(`nodekey:${nodeKeyHex}`);
      for (const p of [...responders.keys()]) {
        if (Buffer.from(p.publicKey).toString('hex') === nodeKeyHex) {
          responders.delete(p);
          device.removePeer(p.publicKey);
        }
      }
    },
    close() {
      coord.ws.close();
      device.close();
      l.close();
    },
  };
}
