/**
 * coder_derp_* metrics (names of coder/coder tailnet/derpmetrics, design guide
 * §B.3) plus a few derper extras. The relay's hot path increments plain
 * numbers in `DerpStats`; prom-client reads them at scrape time through
 * collect(), so a packet costs no label hashing.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export const DROP_REASONS = [
  'unknown_dest',
  'unknown_dest_on_fwd',
  'gone_disconnected',
  'queue_head',
  'queue_tail',
  'write_error',
  'dup_client',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];
export const PACKET_KINDS = ['disco', 'other'] as const;
export type PacketKind = (typeof PACKET_KINDS)[number];

/** Why a connection ended; the label of coder_derp_conn_closes_total. */
export const CLOSE_REASONS = [
  'eof',
  'stream_error',
  'handshake_timeout',
  'handshake_failed',
  'not_admitted',
  'frame_too_large',
  'protocol_error',
  'insufficient_permissions',
  'write_timeout',
  'write_error',
  'close_peer',
  'accept_rate_limited',
  'server_close',
] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

export const STUN_DISPOSITIONS = ['success', 'not_stun', 'write_error', 'read_error'] as const;
export type StunDisposition = (typeof STUN_DISPOSITIONS)[number];

export interface DerpStats {
  accepts: number;
  websocketAccepts: number;
  bytesReceived: number;
  bytesSent: number;
  packetsReceived: number;
  packetsSent: number;
  packetsReceivedDisco: number;
  packetsReceivedOther: number;
  packetsForwardedIn: number;
  packetsForwardedOut: number;
  homeMovesIn: number;
  homeMovesOut: number;
  gotPing: number;
  sentPong: number;
  peerGoneDisconnected: number;
  peerGoneNotHere: number;
  unknownFrames: number;
  writeTimeouts: number;
  dupClientConnsTotal: number;
  rateLimitWaits: number;
  /** [reason index * 2 + kind index] */
  droppedPackets: Float64Array;
  droppedBytes: Float64Array;
  closes: Float64Array;
  stun: Float64Array;
  // gauges
  connections: number;
  homeConnections: number;
  clientsLocal: number;
  clientsRemote: number;
  watchers: number;
  dupClientKeys: number;
  dupClientConns: number;
  averageQueueDurationMs: number;
}

export function newDerpStats(): DerpStats {
  return {
    accepts: 0,
    websocketAccepts: 0,
    bytesReceived: 0,
    bytesSent: 0,
    packetsReceived: 0,
    packetsSent: 0,
    packetsReceivedDisco: 0,
    packetsReceivedOther: 0,
    packetsForwardedIn: 0,
    packetsForwardedOut: 0,
    homeMovesIn: 0,
    homeMovesOut: 0,
    gotPing: 0,
    sentPong: 0,
    peerGoneDisconnected: 0,
    peerGoneNotHere: 0,
    unknownFrames: 0,
    writeTimeouts: 0,
    dupClientConnsTotal: 0,
    rateLimitWaits: 0,
    droppedPackets: new Float64Array(DROP_REASONS.length * 2),
    droppedBytes: new Float64Array(DROP_REASONS.length * 2),
    closes: new Float64Array(CLOSE_REASONS.length),
    stun: new Float64Array(STUN_DISPOSITIONS.length),
    connections: 0,
    homeConnections: 0,
    clientsLocal: 0,
    clientsRemote: 0,
    watchers: 0,
    dupClientKeys: 0,
    dupClientConns: 0,
    averageQueueDurationMs: 0,
  };
}

export const dropIndex = (reason: DropReason, disco: boolean): number =>
  DROP_REASONS.indexOf(reason) * 2 + (disco ? 0 : 1);

type NumKey = { [K in keyof DerpStats]: DerpStats[K] extends number ? K : never }[keyof DerpStats];

export interface DerpMetrics {
  readonly stats: DerpStats;
}

/** Registers the DERP metrics on `registry`; the returned stats are what the server increments. */
export function createDerpMetrics(registry: Registry, stats: DerpStats = newDerpStats()): DerpMetrics {
  const counter = (name: string, help: string, key: NumKey): void => {
    let last = 0;
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const v = stats[key];
        if (v > last) this.inc(v - last);
        last = v;
      },
    });
  };
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  };
  counter('coder_derp_accepts_total', 'DERP connections accepted.', 'accepts');
  counter('coder_derp_websocket_accepts_total', 'DERP connections accepted over WebSocket.', 'websocketAccepts');
  counter('coder_derp_bytes_received_total', 'Packet payload bytes received from clients.', 'bytesReceived');
  counter('coder_derp_bytes_sent_total', 'Packet payload bytes sent to clients.', 'bytesSent');
  counter('coder_derp_packets_received_total', 'Packets received from clients.', 'packetsReceived');
  counter('coder_derp_packets_sent_total', 'Packets sent to clients.', 'packetsSent');
  counter('coder_derp_packets_forwarded_in_total', 'Packets received from mesh peers.', 'packetsForwardedIn');
  counter('coder_derp_packets_forwarded_out_total', 'Packets handed to mesh forwarders.', 'packetsForwardedOut');
  counter('coder_derp_home_moves_in_total', 'Connections that made this server their home.', 'homeMovesIn');
  counter('coder_derp_home_moves_out_total', 'Connections that stopped using this server as home.', 'homeMovesOut');
  counter('coder_derp_got_ping_total', 'Ping frames received.', 'gotPing');
  counter('coder_derp_sent_pong_total', 'Pong frames sent.', 'sentPong');
  counter('coder_derp_peer_gone_disconnected_total', 'PeerGone(Disconnected) frames sent.', 'peerGoneDisconnected');
  counter('coder_derp_peer_gone_not_here_total', 'PeerGone(NotHere) frames sent.', 'peerGoneNotHere');
  counter('coder_derp_unknown_frames_total', 'Frames of unknown type skipped.', 'unknownFrames');
  counter('coder_derp_write_timeouts_total', 'Connections closed because a write stalled.', 'writeTimeouts');
  counter('coder_derp_rate_limit_waits_total', 'Times a client was paused by the receive rate limit.', 'rateLimitWaits');
  counter('coder_derp_dup_client_conns_total', 'Connections accepted for an already connected key.', 'dupClientConnsTotal');

  const sum = (a: Float64Array, pick: (i: number) => boolean): number => {
    let s = 0;
    for (let i = 0; i < a.length; i++) if (pick(i)) s += a[i]!;
    return s;
  };
  const labelled = (
    name: string,
    help: string,
    labelName: string,
    labels: readonly string[],
    read: (i: number) => number,
  ): void => {
    const last = new Float64Array(labels.length);
    const c = new Counter({
      name,
      help,
      labelNames: [labelName],
      registers: [registry],
      collect() {
        for (let i = 0; i < labels.length; i++) {
          const v = read(i);
          if (v > last[i]!) this.inc({ [labelName]: labels[i]! }, v - last[i]!);
          last[i] = v;
        }
      },
    });
    for (const l of labels) c.inc({ [labelName]: l }, 0);
  };
  let lastDropped = 0;
  new Counter({
    name: 'coder_derp_packets_dropped_total',
    help: 'Packets dropped.',
    registers: [registry],
    collect() {
      const v = sum(stats.droppedPackets, () => true);
      if (v > lastDropped) this.inc(v - lastDropped);
      lastDropped = v;
    },
  });
  labelled('coder_derp_packets_dropped_reason_total', 'Packets dropped, by reason.', 'reason', DROP_REASONS, (r) =>
    sum(stats.droppedPackets, (i) => i >> 1 === r),
  );
  labelled('coder_derp_packets_dropped_type_total', 'Packets dropped, by type.', 'type', PACKET_KINDS, (k) =>
    sum(stats.droppedPackets, (i) => (i & 1) === k),
  );
  labelled('coder_derp_packets_received_kind_total', 'Packets received, by kind.', 'kind', PACKET_KINDS, (k) =>
    k === 0 ? stats.packetsReceivedDisco : stats.packetsReceivedOther,
  );
  // derper's derp_bytes_dropped{reason,kind} under our prefix.
  const pairs = DROP_REASONS.flatMap((r) => PACKET_KINDS.map((k) => ({ reason: r, kind: k })));
  const lastBytes = new Float64Array(pairs.length);
  const bytesDropped = new Counter({
    name: 'coder_derp_bytes_dropped_total',
    help: 'Packet bytes dropped, by reason and kind.',
    labelNames: ['reason', 'kind'],
    registers: [registry],
    collect() {
      for (let i = 0; i < pairs.length; i++) {
        const v = stats.droppedBytes[i]!;
        if (v > lastBytes[i]!) this.inc(pairs[i]!, v - lastBytes[i]!);
        lastBytes[i] = v;
      }
    },
  });
  for (const p of pairs) bytesDropped.inc(p, 0);
  labelled('coder_derp_conn_closes_total', 'DERP connections ended, by reason.', 'reason', CLOSE_REASONS, (i) =>
    stats.closes[i]!,
  );
  labelled('coder_derp_stun_requests_total', 'STUN datagrams, by disposition.', 'disposition', STUN_DISPOSITIONS, (i) =>
    stats.stun[i]!,
  );

  gauge('coder_derp_connections', 'Current DERP connections.', () => stats.connections);
  gauge('coder_derp_home_connections', 'Current connections that marked this server home.', () => stats.homeConnections);
  gauge('coder_derp_clients', 'Keys reachable through this server (local + mesh).', () => stats.clientsLocal + stats.clientsRemote);
  gauge('coder_derp_clients_local', 'Keys connected locally.', () => stats.clientsLocal);
  gauge('coder_derp_clients_remote', 'Keys reachable only through mesh peers.', () => stats.clientsRemote);
  gauge('coder_derp_watchers', 'Mesh peers watching connections.', () => stats.watchers);
  gauge('coder_derp_dup_client_keys', 'Keys connected more than once.', () => stats.dupClientKeys);
  gauge('coder_derp_dup_client_conns', 'Connections belonging to duplicated keys.', () => stats.dupClientConns);
  gauge('coder_derp_average_queue_duration_ms', 'EWMA of the time packets wait in send queues.', () =>
    stats.averageQueueDurationMs,
  );
  return { stats };
}
