/**
 * Cross-shard duplicate agent (Coder's TestPGCoordinator_MultiCoordinatorAgent):
 * the same agent id on two shards; a client on a third shard sees the most
 * recently updated node, and the older connection's node is reinstated when
 * the newer one leaves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startShards } from '../conformance/redis-backend.js';
import { idsOf, nodeJson, uuid, V1Peer } from '../helpers.js';

describe('cross-shard duplicate agent', () => {
  let b: Awaited<ReturnType<typeof startShards>>;
  beforeAll(async () => {
    b = await startShards(3);
  });
  afterAll(async () => {
    await b.stop();
  });

  it('newest node wins; the older is reinstated when the newest leaves', async () => {
    const agentId = uuid();
    const a1 = await V1Peer.connect(b.agentUrl(agentId, 0));
    const n1 = nodeJson();
    a1.send(n1);
    const c = await V1Peer.connect(b.clientUrl(agentId, uuid(), 2));
    await c.until(() => idsOf(c.nodes).includes(idsOf([n1])[0]!), 'first agent node');
    const a2 = await V1Peer.connect(b.agentUrl(agentId, 1));
    const n2 = nodeJson();
    a2.send(n2);
    await c.until(() => idsOf(c.nodes).at(-1) === idsOf([n2])[0], 'newer agent node');
    // The first connection was not closed (different shards: both stay, as in Coder's HA coordinator).
    expect(a1.ws.readyState).toBe(a1.ws.OPEN);
    await a2.close();
    await c.until(() => idsOf(c.nodes).at(-1) === idsOf([n1])[0], 'older node reinstated');
    const n3 = nodeJson();
    a1.send(n3);
    await c.until(() => idsOf(c.nodes).at(-1) === idsOf([n3])[0], 'update from the remaining connection');
    await a1.close();
    await c.close();
  });
});
