import { describe, expect, it } from 'vitest';
import { CoordinatorCore, type CoreObserver, type Peer } from '../../src/coordinator/core.js';
import { decodeNode } from '../../src/coordinator/node.js';
import type { CoordinateResponse, PeerSink } from '../../src/coordinator/types.js';
import { nodeJson, uuid } from './helpers.js';

const sink = (): PeerSink => ({ enqueue: (_r: CoordinateResponse) => true, close() {}, lastWriteAt: 0 });

describe('core observer hooks', () => {
  it('reports connect, node, tunnel add/remove and removal after the core applied them', () => {
    const events: string[] = [];
    let core: CoordinatorCore;
    const obs: CoreObserver = {
      connected: (p: Peer) => events.push(`connected ${p.kind} ${core.peer(p.id) === p}`),
      nodeChanged: (p) => events.push(`node ${p.node !== null}`),
      tunnelAdded: (_p, d) => events.push(`tunnel+ ${d.length}`),
      tunnelRemoved: (_p, d) => events.push(`tunnel- ${d.length}`),
      removed: (p, k) => events.push(`removed ${k} ${core.peer(p.id) === undefined}`),
    };
    core = new CoordinatorCore({ observer: obs });
    const a = core.connect(uuid(), 'agent', 'a', sink())!;
    const c = core.connect(uuid(), 'client', 'c', sink())!;
    core.addTunnel(c, a.id);
    core.updateSelf(a, decodeNode(Buffer.from(nodeJson())));
    core.removeTunnel(c, a.id);
    core.lost(c);
    core.disconnect(a);
    expect(events).toEqual([
      'connected agent true',
      'connected client true',
      'tunnel+ 36',
      'node true',
      'tunnel- 36',
      'removed LOST true',
      'removed DISCONNECTED true',
    ]);
  });
});
