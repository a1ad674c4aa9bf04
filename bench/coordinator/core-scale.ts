/**
 * C5 (core only): per-update cost of decode + fan-out + v1 encoding with N
 * peers registered in one CoordinatorCore and sinks that accept everything.
 * Isolates the O(degree) claim from socket and fd limits.
 */
import { CoordinatorCore, type Peer } from '../../src/coordinator/core.js';
import { decodeNode } from '../../src/coordinator/node.js';
import { CoordinateResponse, type PeerSink } from '../../src/coordinator/types.js';
import { encodeV1Frames } from '../../src/coordinator/v1/codec.js';
import { stampedNode } from './wire.js';

const TEXTS = 1009;

class NullSink implements PeerSink {
  lastWriteAt = 0;
  bytes = 0;
  enqueue(resp: CoordinateResponse): boolean {
    const frames = (resp.v1Frames ??= encodeV1Frames(resp));
    for (const f of frames) this.bytes += f.length;
    return true;
  }
  close(): void {}
}

/**
 * `settle`: collect fully before and after the measured updates (needs
 * --expose-gc). The instruction count uses it: a run then pays for the
 * scavenges, promotions and sweeping its own updates caused, and not for
 * whether one major GC of the whole live set happened to fall inside its
 * window (that marking cost per update does not grow with N: V8 sizes the
 * next major GC's trigger in proportion to the live heap, so major GCs get
 * rarer as the heap grows, but a short window sees zero or one of them).
 */
export function coreCostPerUpdate(n: number, updates: number, settle = false): { nsPerUpdate: number; heapPerPeer: number } {
  const g = (globalThis as { gc?: () => void }).gc;
  g?.();
  const heap0 = process.memoryUsage().heapUsed;
  const counts = { delivered: 0, duplicates: 0 };
  const core = new CoordinatorCore({
    stats: {
      fanout(_kind, delivered, duplicates) {
        counts.delivered += delivered;
        counts.duplicates += duplicates;
      },
      overflow() {},
    },
  });
  const agents: Peer[] = [];
  const all: Peer[] = [];
  for (let i = 0; i < n / 2; i++) {
    const a = core.connect(`a-${i}`, 'agent', 'agent', new NullSink()) as Peer;
    agents.push(a);
    all.push(a);
    const c = core.connect(`c-${i}`, 'client', 'client', new NullSink()) as Peer;
    core.addTunnel(c, a.id);
    all.push(c);
  }
  for (const p of all) core.updateSelf(p, decodeNode(stampedNode()));
  g?.();
  const heapPerPeer = (process.memoryUsage().heapUsed - heap0) / n;
  // A prime count of distinct nodes: a peer's next update (N updates later,
  // N a multiple of 1000) always carries a node other than its last one, so
  // every size does a real delivery, never the duplicate-suppression path.
  // Warm-up uses its own nodes, so the first measured update of a peer is no repeat either.
  const texts = Array.from({ length: TEXTS }, () => Buffer.from(stampedNode()));
  const warmTexts = Array.from({ length: TEXTS }, () => Buffer.from(stampedNode()));
  // The same warm-up at every size, so the JIT reaches the measured loop in the same state.
  for (let i = 0; i < 40_000; i++) core.updateSelf(all[i % all.length] as Peer, decodeNode(warmTexts[i % TEXTS] as Buffer));
  if (settle) g?.();
  counts.delivered = 0;
  counts.duplicates = 0;
  // CPU time, not wall time: the machine is shared, and descheduling is not our cost.
  const c0 = process.cpuUsage();
  for (let i = 0; i < updates; i++) {
    const p = all[(i * 7919) % all.length] as Peer;
    core.updateSelf(p, decodeNode(texts[i % TEXTS] as Buffer));
  }
  if (settle) g?.();
  const c1 = process.cpuUsage(c0);
  // Keeps the peer set alive through the last collection (otherwise it is already dead there and gets swept with the garbage).
  if (core.nodeCount() !== n) throw new Error('C5 core: peers lost');
  const ns = ((c1.user + c1.system) * 1000) / updates;
  // Each update has exactly one tunnel partner: anything else means the run measured another path.
  if (counts.delivered !== updates || counts.duplicates !== 0) throw new Error(`C5 core: ${counts.delivered} delivered, ${counts.duplicates} duplicates for ${updates} updates`);
  return { nsPerUpdate: ns, heapPerPeer };
}
