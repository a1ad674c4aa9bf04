import { describe, expect, it } from 'vitest';
import { CoordinatorCore, type Peer } from '../../src/coordinator/core.js';
import type { CloseReason } from '../../src/coordinator/errors.js';
import { decodeNode, type NodeRecord } from '../../src/coordinator/node.js';
import type { CoordinateResponse, PeerSink } from '../../src/coordinator/types.js';
import { nodeJson, uuid } from './helpers.js';

class FakeSink implements PeerSink {
  readonly got: CoordinateResponse[] = [];
  closedWith: CloseReason | null = null;
  lastWriteAt = 0;
  constructor(private capacity = Infinity) {}
  enqueue(resp: CoordinateResponse): boolean {
    if (this.got.length >= this.capacity) return false;
    this.got.push(resp);
    return true;
  }
  close(reason: CloseReason): void {
    this.closedWith = reason;
  }
  /** Flattened updates as "KIND:peer:reason". */
  get log(): string[] {
    return this.got.flatMap((r) => r.updates.map((u) => `${u.kind}:${u.id}:${u.reason}`));
  }
}

function node(): NodeRecord {
  return decodeNode(nodeJson());
}

function setup() {
  const core = new CoordinatorCore();
  const join = (kind: 'agent' | 'client', id = uuid(), capacity = Infinity) => {
    const sink = new FakeSink(capacity);
    const peer = core.connect(id, kind, kind, sink) as Peer;
    return { id, sink, peer };
  };
  return { core, join };
}

describe('CoordinatorCore (v2 semantics)', () => {
  it('add_tunnel exchanges existing nodes with reason "add tunnel"', () => {
    const { core, join } = setup();
    const a = join('agent');
    const an = node();
    core.updateSelf(a.peer, an);
    const c = join('client');
    const cn = node();
    core.updateSelf(c.peer, cn);
    core.addTunnel(c.peer, a.id);
    expect(c.sink.log).toEqual([`NODE:${a.id}:add tunnel`]);
    expect(a.sink.log).toEqual([`NODE:${c.id}:add tunnel`]);
  });

  it('update_self reaches partners in both directions with reason "node update"', () => {
    const { core, join } = setup();
    const a = join('agent');
    const c = join('client');
    core.addTunnel(c.peer, a.id);
    core.updateSelf(c.peer, node());
    core.updateSelf(a.peer, node());
    expect(a.sink.log).toEqual([`NODE:${c.id}:node update`]);
    expect(c.sink.log).toEqual([`NODE:${a.id}:node update`]);
  });

  it('a fan-out enqueues one shared response instance to every recipient', () => {
    const { core, join } = setup();
    const a = join('agent');
    const cs = [join('client'), join('client'), join('client')];
    for (const c of cs) core.addTunnel(c.peer, a.id);
    core.updateSelf(a.peer, node());
    const first = cs[0]!.sink.got[0];
    for (const c of cs) expect(c.sink.got[0]).toBe(first);
  });

  it('identical nodes are not re-sent to the same recipient', () => {
    const { core, join } = setup();
    const a = join('agent');
    const c = join('client');
    core.addTunnel(c.peer, a.id);
    const text = nodeJson();
    core.updateSelf(a.peer, decodeNode(text));
    core.updateSelf(a.peer, decodeNode(text));
    expect(c.sink.log.length).toBe(1);
  });

  it('clients never receive other clients', () => {
    const { core, join } = setup();
    const a = join('agent');
    const c1 = join('client');
    const c2 = join('client');
    core.addTunnel(c1.peer, a.id);
    core.addTunnel(c2.peer, a.id);
    core.updateSelf(c1.peer, node());
    core.updateSelf(c2.peer, node());
    expect(c1.sink.log).toEqual([]);
    expect(c2.sink.log).toEqual([]);
    expect(a.sink.log.length).toBe(2);
  });

  it('lost peer: partners that saw its node get LOST "lost"; its tunnels go, tunnels to it stay', () => {
    const { core, join } = setup();
    const a = join('agent');
    const c = join('client');
    core.addTunnel(c.peer, a.id);
    core.updateSelf(a.peer, node());
    core.updateSelf(c.peer, node());
    core.lost(a.peer);
    expect(c.sink.log.at(-1)).toBe(`LOST:${a.id}:lost`);
    expect(core.node(a.id)).toBeNull();
    expect(core.tunnelCount()).toBe(1);
    // Agent returns: init batch carries the waiting client's node.
    const a2 = join('agent', a.id);
    expect(a2.sink.log).toEqual([`NODE:${c.id}:init`]);
    core.lost(c.peer);
    expect(core.tunnelCount()).toBe(0);
    expect(a2.sink.log.at(-1)).toBe(`LOST:${c.id}:lost`);
  });

  it('DISCONNECTED/LOST only go to recipients that were sent a NODE', () => {
    const { core, join } = setup();
    const a = join('agent');
    const c = join('client');
    core.addTunnel(c.peer, a.id);
    core.updateSelf(c.peer, node());
    core.disconnect(a.peer); // a never had a node: c heard nothing about it
    expect(c.sink.log).toEqual([]);
  });

  it('graceful disconnect sends DISCONNECTED "graceful disconnect"', () => {
    const { core, join } = setup();
    const a = join('agent');
    const c = join('client');
    core.addTunnel(c.peer, a.id);
    core.updateSelf(a.peer, node());
    core.updateSelf(c.peer, node());
    core.disconnect(c.peer);
    expect(a.sink.log.at(-1)).toBe(`DISCONNECTED:${c.id}:graceful disconnect`);
  });

  it('remove_tunnel: both ends hear DISCONNECTED "remove tunnel"', () => {
    const { core, join } = setup();
    const a = join('agent');
    const c = join('client');
    core.addTunnel(c.peer, a.id);
    core.updateSelf(a.peer, node());
    core.updateSelf(c.peer, node());
    core.removeTunnel(c.peer, a.id);
    expect(a.sink.log.at(-1)).toBe(`DISCONNECTED:${c.id}:remove tunnel`);
    expect(c.sink.log.at(-1)).toBe(`DISCONNECTED:${a.id}:remove tunnel`);
    // After DISCONNECTED the next NODE is sent again.
    core.addTunnel(c.peer, a.id);
    expect(c.sink.log.at(-1)).toBe(`NODE:${a.id}:add tunnel`);
  });

  it('ready_for_handshake goes to the source, and errors without a shared tunnel', () => {
    const { core, join } = setup();
    const a = join('agent');
    const c = join('client');
    const other = uuid();
    core.addTunnel(c.peer, a.id);
    expect(core.readyForHandshake(a.peer, c.id)).toBeNull();
    expect(c.sink.log).toEqual([`READY_FOR_HANDSHAKE:${a.id}:`]);
    expect(core.readyForHandshake(a.peer, other)).toBe(`you do not share a tunnel with "${other}"`);
  });

  it('overwrite: old session is told and closed, partners hear nothing, node and count carry over', () => {
    const { core, join } = setup();
    const a1 = join('agent');
    core.updateSelf(a1.peer, node());
    const c = join('client');
    core.addTunnel(c.peer, a1.id);
    core.updateSelf(c.peer, node());
    const before = c.sink.log.length;
    const a2 = join('agent', a1.id);
    expect(a1.sink.closedWith).toBe('overwritten');
    expect(a1.sink.got.at(-1)?.error).toBe('peer ID overwritten by new connection');
    expect(a2.sink.log).toEqual([`NODE:${c.id}:init`]);
    expect(c.sink.log.length).toBe(before);
    expect(core.agentCount()).toBe(1);
    expect(core.nodeCount()).toBe(2);
    expect(core.peer(a1.id)?.overwrites).toBe(1);
    // The stale handle is inert.
    core.lost(a1.peer);
    expect(core.agentCount()).toBe(1);
    expect(core.node(a1.id)).not.toBeNull();
  });

  it('a full recipient queue drops that recipient only (DISCONNECTED "failed update" to its partners)', () => {
    const { core, join } = setup();
    const a = join('agent');
    const ok = join('client');
    const slow = join('client', uuid(), 1);
    core.addTunnel(ok.peer, a.id);
    core.addTunnel(slow.peer, a.id);
    core.updateSelf(slow.peer, node());
    core.updateSelf(a.peer, node());
    core.updateSelf(a.peer, node()); // slow's queue (1) is full now
    expect(slow.sink.closedWith).toBe('queue_overflow');
    expect(a.sink.log.at(-1)).toBe(`DISCONNECTED:${slow.id}:failed update`);
    expect(ok.sink.log.length).toBe(2);
    expect(core.clientCount()).toBe(1);
  });

  it('close: every peer gets LOST "coordinator close" + error and is closed; later connects are refused', () => {
    const { core, join } = setup();
    const a = join('agent');
    const c = join('client');
    core.addTunnel(c.peer, a.id);
    core.updateSelf(a.peer, node());
    core.close();
    expect(c.sink.got.at(-1)?.error).toBe('coordinator closed');
    expect(c.sink.log.at(-1)).toBe(`LOST:${a.id}:coordinator close`);
    expect(a.sink.closedWith).toBe('coordinator_closed');
    expect(core.connect(uuid(), 'agent', 'x', new FakeSink())).toBeNull();
  });

  it('missing destinations list tunnel targets without a connected peer', () => {
    const { core, join } = setup();
    const ghost = uuid();
    const c = join('client');
    core.addTunnel(c.peer, ghost);
    expect(core.missingDestinations().map((m) => [m.id, m.name, m.sources.length])).toEqual([[ghost, 'unknown', 1]]);
    const a = join('agent', ghost);
    core.lost(a.peer);
    expect(core.missingDestinations()[0]?.name).toBe('agent');
  });
});
