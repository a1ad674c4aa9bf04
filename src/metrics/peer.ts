/**
 * tailnetd_peer_* metrics: the server's own tailnet presence (src/peer).
 * Sessions are read at scrape time; dials and bytes are plain counters.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export const DIAL_RESULTS = ['ok', 'no_agent_node', 'timeout', 'refused', 'unreachable', 'error'] as const;
export type DialResult = (typeof DIAL_RESULTS)[number];

export interface PeerMetrics {
  dial(port: number, result: DialResult): void;
  bytes(direction: 'tx' | 'rx', n: number): void;
  /** Called at scrape time for the open-sessions gauge. */
  setSessionSource(fn: () => { sessions: number; connections: number }): void;
}

export function createPeerMetrics(registry: Registry): PeerMetrics {
  let source: () => { sessions: number; connections: number } = () => ({ sessions: 0, connections: 0 });
  new Gauge({
    name: 'tailnetd_peer_sessions',
    help: 'Agent sessions (WireGuard peer + TCP stack) the server tailnet holds open.',
    registers: [registry],
    collect() {
      this.set(source().sessions);
    },
  });
  new Gauge({
    name: 'tailnetd_peer_connections',
    help: 'TCP connections to agents currently open through the server tailnet.',
    registers: [registry],
    collect() {
      this.set(source().connections);
    },
  });
  const dials = new Counter({
    name: 'tailnetd_peer_dials_total',
    help: 'Dials to agent ports through the server tailnet, by agent port and result.',
    labelNames: ['port', 'result'] as const,
    registers: [registry],
  });
  const bytes = new Counter({
    name: 'tailnetd_peer_derp_bytes_total',
    help: 'WireGuard datagram bytes the server tailnet sent (tx) and received (rx) over DERP.',
    labelNames: ['direction'] as const,
    registers: [registry],
  });
  return {
    dial: (port, result) => dials.inc({ port: String(port), result }),
    bytes: (direction, n) => bytes.inc({ direction }, n),
    setSessionSource(fn) {
      source = fn;
    },
  };
}
