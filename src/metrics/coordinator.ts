/**
 * Coordinator metrics. Hot-path counters are pre-bound children, updated once
 * per fan-out (not once per recipient); gauges are read from the core at scrape.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { CLOSE_REASONS, DROP_REASONS, type CloseReason, type DropReason } from '../coordinator/errors.js';
import type { PeerKind } from '../coordinator/types.js';

export interface CoordinatorGaugeSource {
  agentCount(): number;
  clientCount(): number;
  agentsWithClients(): number;
  tunnelCount(): number;
}

export interface CoordinatorMetrics {
  /** Nodes received from peers. */
  updateIn(kind: PeerKind, bytes: number): void;
  fanout(kind: PeerKind, delivered: number, duplicates: number, seconds: number): void;
  overflow(): void;
  /** Messages and bytes written to sockets. */
  written(messages: number, bytes: number): void;
  dropped(reason: DropReason): void;
  closed(protocol: 'v1' | 'v2', reason: CloseReason): void;
  /** Gauges read this source at scrape time. */
  bind(source: CoordinatorGaugeSource): void;
}

export function createCoordinatorMetrics(registry: Registry): CoordinatorMetrics {
  let source: CoordinatorGaugeSource | null = null;
  const peers = new Gauge({
    name: 'coordinator_peers',
    help: 'Connected coordinator peers by kind.',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.set({ kind: 'agent' }, source?.agentCount() ?? 0);
      this.set({ kind: 'client' }, source?.clientCount() ?? 0);
    },
  });
  void peers;
  new Gauge({
    name: 'coordinator_agents_with_clients',
    help: 'Connected agents that at least one client tunnels to.',
    registers: [registry],
    collect() {
      this.set(source?.agentsWithClients() ?? 0);
    },
  });
  new Gauge({
    name: 'coordinator_tunnels',
    help: 'Tunnels (source to destination) currently recorded.',
    registers: [registry],
    collect() {
      this.set(source?.tunnelCount() ?? 0);
    },
  });
  // Per-update and per-socket-write counts are summed in plain numbers and
  // folded into the counters at scrape time: a prom-client inc allocates
  // (label hash, result object), and per update that is young-generation churn.
  const pendingIn = { agent: 0, client: 0 };
  const pendingOut = { agent: 0, client: 0 };
  let pendingBytesIn = 0;
  let pendingDuplicates = 0;
  new Counter({
    name: 'coordinator_updates_received_total',
    help: 'Node updates received from peers.',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      foldByKind(this, pendingIn);
    },
  });
  new Counter({
    name: 'coordinator_received_bytes_total',
    help: 'Bytes of node JSON received from peers.',
    registers: [registry],
    collect() {
      if (pendingBytesIn > 0) this.inc(pendingBytesIn);
      pendingBytesIn = 0;
    },
  });
  new Counter({
    name: 'coordinator_updates_sent_total',
    help: 'Node updates enqueued to recipients.',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      foldByKind(this, pendingOut);
    },
  });
  new Counter({
    name: 'coordinator_updates_deduplicated_total',
    help: 'Node updates not sent because the recipient already had that node.',
    registers: [registry],
    collect() {
      if (pendingDuplicates > 0) this.inc(pendingDuplicates);
      pendingDuplicates = 0;
    },
  });
  let pendingMessages = 0;
  let pendingBytes = 0;
  new Counter({
    name: 'coordinator_messages_written_total',
    help: 'WebSocket messages written to peers.',
    registers: [registry],
    collect() {
      this.inc(pendingMessages);
      pendingMessages = 0;
    },
  });
  new Counter({
    name: 'coordinator_sent_bytes_total',
    help: 'Bytes written to peer sockets (frames included).',
    registers: [registry],
    collect() {
      this.inc(pendingBytes);
      pendingBytes = 0;
    },
  });
  const overflows = new Counter({
    name: 'coordinator_peer_queue_overflows_total',
    help: 'Peers dropped because their outbound queue was full.',
    registers: [registry],
  });
  const drops = new Counter({
    name: 'coordinator_dropped_writes_total',
    help: 'Outbound messages not written, by reason.',
    labelNames: ['reason'],
    registers: [registry],
  });
  const closes = new Counter({
    name: 'coordinator_closes_total',
    help: 'Coordinate sessions ended, by protocol and reason.',
    labelNames: ['protocol', 'reason'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'coordinator_fanout_seconds',
    help: 'Time to apply one node update and enqueue it to every recipient.',
    buckets: [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1],
    registers: [registry],
  });

  // Pre-bound children: label lookup happens once, not per update (for the
  // unlabelled histogram this also spares a closure per observation).
  const observeLatency = latency.labels().observe;
  const dropBy = Object.fromEntries(DROP_REASONS.map((r) => [r, drops.labels(r)])) as Record<DropReason, Counter.Internal>;
  const closeBy = {
    v1: Object.fromEntries(CLOSE_REASONS.map((r) => [r, closes.labels('v1', r)])) as Record<CloseReason, Counter.Internal>,
    v2: Object.fromEntries(CLOSE_REASONS.map((r) => [r, closes.labels('v2', r)])) as Record<CloseReason, Counter.Internal>,
  };
  for (const r of DROP_REASONS) dropBy[r].inc(0);

  return {
    updateIn(kind, bytes) {
      pendingIn[kind]++;
      pendingBytesIn += bytes;
    },
    fanout(kind, delivered, dup, seconds) {
      pendingOut[kind] += delivered;
      pendingDuplicates += dup;
      observeLatency(seconds);
    },
    overflow() {
      overflows.inc();
    },
    written(messages, bytes) {
      pendingMessages += messages;
      pendingBytes += bytes;
    },
    dropped(reason) {
      dropBy[reason].inc();
    },
    closed(protocol, reason) {
      closeBy[protocol][reason].inc();
    },
    bind(s) {
      source = s;
    },
  };
}

/** Adds the pending per-kind counts to a `kind`-labelled counter (only kinds that moved, as inc would) and clears them. */
function foldByKind(counter: Counter, pending: Record<PeerKind, number>): void {
  if (pending.agent > 0) counter.inc({ kind: 'agent' }, pending.agent);
  if (pending.client > 0) counter.inc({ kind: 'client' }, pending.client);
  pending.agent = 0;
  pending.client = 0;
}
