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

export function coreCostPerUpdate(n: number, updates: number): { nsPerUpdate: number; heapPerPeer: number } {
  const g = (globalThis as { gc?: () => void }).gc;
  g?.();
  const heap0 = process.memoryUsage().heapUsed;
  const core = new CoordinatorCore();
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
  const texts = Array.from({ length: 1000 }, () => Buffer.from(stampedNode()));
  // warm-up
  for (let i = 0; i < 20_000; i++) core.updateSelf(all[i % all.length] as Peer, decodeNode(texts[i % 1000] as Buffer));
  // CPU time, not wall time: the machine is shared, and descheduling is not our cost.
  const c0 = process.cpuUsage();
  for (let i = 0; i < updates; i++) {
    const p = all[(i * 7919) % all.length] as Peer;
    core.updateSelf(p, decodeNode(texts[i % 1000] as Buffer));
  }
  const c1 = process.cpuUsage(c0);
  const ns = ((c1.user + c1.system) * 1000) / updates;
  return { nsPerUpdate: ns, heapPerPeer };
}
