/**
 * tailnetd's own tailnet peer.
 *
 *   TailnetPeer (session.ts) ── one identity, AgentSession per agent node key
 *     ├─ wireguard Device ── datagrams ── DerpLink (derp-link.ts) ── tailnetd DERP
 *     └─ TcpStack (stack.ts) ── TcpConnection (tcp.ts) ── TailnetSocket (Duplex)
 *   codecs: ipv6.ts, tcp-segment.ts, checksum.ts; announcement: node.ts
 *
 * Everything but DerpLink is pure: packets in, packets out, time from a Clock.
 */
export { TailnetError, tailnetError, type TailnetErrorCode } from './errors.js';
export { IPV6_HEADER_LEN, IPV6_MIN_MTU, NEXT_HEADER_TCP, NEXT_HEADER_UDP, type Ipv6Packet, decodeIpv6, encodeIpv6, equalAddr } from './ipv6.js';
export { upperLayerChecksum, verifyUpperLayer, pseudoHeaderSum } from './checksum.js';
export {
  ACK,
  CWR,
  ECE,
  FIN,
  PSH,
  RST,
  SYN,
  URG,
  TCP_HEADER_LEN,
  type TcpSegment,
  decodeTcp,
  encodeTcp,
  segLen,
  seqAdd,
  seqDiff,
  seqGe,
  seqGt,
  seqLe,
  seqLt,
} from './tcp-segment.js';
export { DEFAULT_MSS, TcpConnection, type TcpEvents, type TcpOptions, type TcpState } from './tcp.js';
export { TailnetSocket, type TailnetSocketInit } from './tcp-socket.js';
export { TcpStack, systemStackRandom, type ConnectOptions, type TcpStackOptions, type TcpStackRandom } from './stack.js';
export { parseIpv6, formatIpv6 } from '../wireguard/allowed-ips.js';
export {
  AGENT_IP,
  AGENT_PORT_SSH,
  AGENT_PORT_RECONNECTING_PTY,
  AGENT_PORT_SPEEDTEST,
  AGENT_PORT_HTTP_API,
  type AgentPeerInfo,
  type OwnNodeInput,
  agentPeerFromNode,
  generateTailnetAddress,
  ownNode,
  ownNodeJson,
  randomNodeId,
} from './node.js';
export { DerpLink, deviceOverDerp, tailnetPeerOverDerp, type DerpLinkStats } from './derp-link.js';
export { AgentSession, TailnetPeer, type TailnetPeerEvent, type TailnetPeerOptions } from './session.js';
