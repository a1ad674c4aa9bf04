/**
 * Tailnet v2 conformance over real WebSockets (tailnet-v2.md §7.2 cases 8–9, 13–26):
 * /me/rpc and /{agent}/coordinate?version=2.x, v1 and v2 peers in one coordinator,
 * exact reason and error texts, resume tokens, StreamDERPMaps, bad input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kind } from '../../src/rpc/drpc/wire.js';
import * as tp from '../../src/rpc/proto/tailnet.js';
import { V1Peer, eventually, nodeJson } from '../coordinator/helpers.js';
import { HttpRejection, RpcCallError, RpcClient, type CoordinateCall } from './client.js';
import { agentPrefix, idBytes, idText, protoNode } from './fixtures.js';
import { startV2TestServer, type V2TestServer } from './server.js';

const K = tp.PeerUpdateKind;
const RPC = '/api/v2/workspaceagents/me/rpc';
const coordPath = (agentId: string): string => `/api/v2/workspaceagents/${agentId}/coordinate`;

describe('tailnet v2 coordinate', () => {
  let s: V2TestServer;
  let owner: { id: string; username: string; key: string };
  beforeAll(async () => {
    s = await startV2TestServer({ env: { TAILNETD_AGENT_CONNECTION_UPDATE_FREQUENCY_MS: '200' } });
    owner = await s.user();
  });
  afterAll(async () => {
    await s.stop();
  });

  const newAgent = async (): Promise<{ id: string; token: string }> => {
    const b = await s.workspace(owner.username, [{ name: 'main' }]);
    return { id: b.agents[0]!.id, token: b.agents[0]!.token! };
  };
  const dialAgent = (token: string, query: Record<string, string> = { version: '2.4' }): Promise<RpcClient> => RpcClient.dial(s.url, RPC, { token, query });
  const dialClient = (agentId: string, query: Record<string, string> = { version: '2.0' }): Promise<RpcClient> =>
    RpcClient.dial(s.url, coordPath(agentId), { token: owner.key, query });
  const rejection = async (p: Promise<RpcClient>): Promise<HttpRejection> => {
    try {
      (await p).close();
    } catch (e) {
      if (e instanceof HttpRejection) return e;
      throw e;
    }
    throw new Error('upgrade unexpectedly succeeded');
  };

  /** An agent connected over /me/rpc with its node published. */
  const agentPeer = async (a: { id: string; token: string }) => {
    const rpc = await dialAgent(a.token);
    const coord = await rpc.coordinate();
    const node = protoNode({ address: agentPrefix(a.id) });
    await coord.send({ updateSelf: { node } });
    return { rpc, coord, node };
  };

  it('checks auth, then the version, before upgrading /me/rpc (exact texts)', async () => {
    const a = await newAgent();
    const none = await rejection(RpcClient.dial(s.url, RPC, { query: { version: '2.0' } }));
    expect(none.status).toBe(401);
    expect(none.body.message).toBe('Cookie "coder_session_token" must be provided.');
    const bad = await rejection(dialAgent('not-a-uuid', { version: 'abc' }));
    expect(bad.status).toBe(401);
    expect(bad.body.message).toBe('Workspace agent token invalid.');
    for (const [v, detail] of [
      ['3.0', 'server is at version 2.10, behind requested major version 3.0'],
      ['2.11', 'server is at version 2.10, behind requested minor version 2.11'],
      ['1.0', 'version 1.0 is no longer supported'],
      ['abc', 'invalid version string: abc'],
      ['2', 'invalid version string: 2'],
      ['2.x', 'invalid minor version: 2.x'],
    ] as const) {
      const r = await rejection(dialAgent(a.token, { version: v }));
      expect(r.status).toBe(400);
      expect(r.body).toEqual({ message: 'Unknown or unsupported API version', validations: [{ field: 'version', detail }] });
    }
    // No version = 2.0 (v2.7.x agents).
    const ok = await RpcClient.dial(s.url, RPC, { token: a.token });
    ok.close();
  });

  it('refuses an agent of a superseded build with 401', async () => {
    const b = await s.workspace(owner.username, [{ name: 'main' }]);
    await s.provisioning.createBuild(b.workspace_id, { transition: 'start', agents: [] });
    const r = await rejection(dialAgent(b.agents[0]!.token!));
    expect(r.status).toBe(401);
    expect(r.body.message).toBe('Workspace agent not authorized.');
  });

  it('client coordinate: 2.x is dRPC, bad version 400, garbage resume token 401 with the resume_token validation', async () => {
    const a = await newAgent();
    const r = await rejection(dialClient(a.id, { version: '2.11' }));
    expect(r.status).toBe(400);
    expect(r.body.validations).toEqual([{ field: 'version', detail: 'server is at version 2.10, behind requested minor version 2.11' }]);
    const t = await rejection(dialClient(a.id, { version: '2.0', resume_token: 'garbage' }));
    expect(t.status).toBe(401);
    expect(t.body.message).toBe('Invalid resume token');
    expect(t.body.validations).toEqual([{ field: 'resume_token', detail: 'Invalid resume token' }]);
    const other = await s.user();
    const nf = await rejection(RpcClient.dial(s.url, coordPath(a.id), { token: other.key, query: { version: '2.0' } }));
    expect(nf.status).toBe(404);
  });

  it('agent first, then client: add tunnel, node update, ready for handshake, graceful disconnect', async () => {
    const a = await newAgent();
    const ag = await agentPeer(a);
    const cl = await dialClient(a.id);
    const cc = await cl.coordinate();
    await cc.send({ addTunnel: { id: idBytes(a.id) } });
    const got = await cc.until((u) => u.kind === K.NODE);
    expect(idText(got.id)).toBe(a.id);
    expect(got.reason).toBe('add tunnel');
    expect(got.node!.id).toBe(ag.node.id);
    expect(Buffer.from(got.node!.key).equals(Buffer.from(ag.node.key))).toBe(true);

    const cnode = protoNode();
    await cc.send({ updateSelf: { node: cnode } });
    const atAgent = await ag.coord.until((u) => u.kind === K.NODE);
    expect(atAgent.reason).toBe('node update');
    expect(atAgent.node!.id).toBe(cnode.id);
    const clientId = idText(atAgent.id);

    await ag.coord.send({ readyForHandshake: [{ id: idBytes(clientId) }] });
    const rfh = await cc.until((u) => u.kind === K.READY_FOR_HANDSHAKE);
    expect(idText(rfh.id)).toBe(a.id);

    await cc.send({ disconnect: {} });
    expect(await cc.ended()).toBe(true);
    const gone = await ag.coord.until((u) => u.kind === K.DISCONNECTED);
    expect(gone.reason).toBe('graceful disconnect');
    expect(idText(gone.id)).toBe(clientId);
    cl.close();
    ag.rpc.close();
  });

  it('client first, then agent: the agent gets the waiting client in one "init" batch; RFH to a stranger is a non-fatal error', async () => {
    const a = await newAgent();
    const cl = await dialClient(a.id);
    const cc = await cl.coordinate();
    const cnode = protoNode();
    await cc.send({ addTunnel: { id: idBytes(a.id) }, updateSelf: { node: cnode } });
    await eventually(() => s.app.coordinator.core.tunnelCount() > 0, 'tunnel recorded');

    const rpc = await dialAgent(a.token);
    const ac = await rpc.coordinate();
    const init = await ac.until((u) => u.kind === K.NODE);
    expect(init.reason).toBe('init');
    expect(init.node!.id).toBe(cnode.id);

    await ac.send({ readyForHandshake: [{ id: idBytes('11111111-2222-4333-8444-555555555555') }] });
    expect(await ac.untilError()).toBe('ready for handshake error: you do not share a tunnel with "11111111-2222-4333-8444-555555555555"');
    // Not fatal: the agent's node still reaches the client.
    await ac.send({ updateSelf: { node: protoNode({ address: agentPrefix(a.id) }) } });
    const n = await cc.until((u) => u.kind === K.NODE);
    expect(n.reason).toBe('node update');
    cl.close();
    rpc.close();
  });

  it('tunnels belong to the client: they survive an agent reconnect; abrupt close is LOST; remove_tunnel is DISCONNECTED both ways', async () => {
    const a = await newAgent();
    const ag = await agentPeer(a);
    const cl = await dialClient(a.id);
    const cc = await cl.coordinate();
    await cc.send({ addTunnel: { id: idBytes(a.id) }, updateSelf: { node: protoNode() } });
    await cc.until((u) => u.kind === K.NODE);
    await ag.coord.until((u) => u.kind === K.NODE);

    // Agent's stream breaks (FIN on the yamux stream): client sees LOST "lost".
    ag.coord.call.fin();
    const lost = await cc.until((u) => u.kind === K.LOST);
    expect(lost.reason).toBe('lost');
    ag.rpc.close();

    // The agent comes back: the tunnel is still there.
    const ag2 = await agentPeer(a);
    const init = await ag2.coord.until((u) => u.kind === K.NODE);
    expect(init.reason).toBe('init');
    const back = await cc.until((u) => u.kind === K.NODE);
    expect(back.reason).toBe('node update');

    await cc.send({ removeTunnel: { id: idBytes(a.id) } });
    expect((await cc.until((u) => u.kind === K.DISCONNECTED)).reason).toBe('remove tunnel');
    expect((await ag2.coord.until((u) => u.kind === K.DISCONNECTED)).reason).toBe('remove tunnel');
    cl.close();
    ag2.rpc.close();
  });

  it('identical update_self twice reaches the partner once', async () => {
    const a = await newAgent();
    const ag = await agentPeer(a);
    const cl = await dialClient(a.id);
    const cc = await cl.coordinate();
    await cc.send({ addTunnel: { id: idBytes(a.id) } });
    await cc.until((u) => u.kind === K.NODE);
    await ag.coord.send({ updateSelf: { node: ag.node } });
    expect(await cc.call.quiet(300)).toBe(true);
    cl.close();
    ag.rpc.close();
  });

  describe('authorization (fatal: error text, stream ends, partners see LOST)', () => {
    it('agents cannot open tunnels', async () => {
      const a = await newAgent();
      const cl = await dialClient(a.id);
      const cc = await cl.coordinate();
      await cc.send({ addTunnel: { id: idBytes(a.id) }, updateSelf: { node: protoNode() } });
      const ag = await agentPeer(a);
      await cc.until((u) => u.kind === K.NODE);
      await ag.coord.send({ addTunnel: { id: idBytes('11111111-2222-4333-8444-555555555555') } });
      expect(await ag.coord.untilError()).toBe('authorization: agents cannot open tunnels');
      expect(await ag.coord.ended()).toBe(true);
      expect((await cc.until((u) => u.kind === K.LOST)).reason).toBe('lost');
      // The connection itself survives: other RPCs still work.
      const maps = await ag.rpc.derpMaps();
      expect(await maps.next()).not.toBeNull();
      cl.close();
      ag.rpc.close();
    });

    it('a client may only tunnel to its agent and may not send ready_for_handshake', async () => {
      const a = await newAgent();
      const foreign = await newAgent();
      const cl = await dialClient(a.id);
      const cc = await cl.coordinate();
      await cc.send({ addTunnel: { id: idBytes(foreign.id) } });
      expect(await cc.untilError()).toBe(`authorization: invalid agent id, expected ${a.id}, got ${foreign.id}`);
      const cc2 = await cl.coordinate();
      await cc2.send({ readyForHandshake: [{ id: idBytes(a.id) }] });
      expect(await cc2.untilError()).toBe('authorization: clients may not send ready_for_handshake');
      cl.close();
    });

    it('addresses must be /128s and agents must use their derived address', async () => {
      const a = await newAgent();
      const cl = await dialClient(a.id);
      const cc = await cl.coordinate();
      await cc.send({ updateSelf: { node: protoNode({ address: 'fd7a:115c:a1e0:ab12::/64' }) } });
      expect(await cc.untilError()).toBe('authorization: invalid address bits, expected 128, got 64');
      cl.close();
      const rpc = await dialAgent(a.token);
      const ac = await rpc.coordinate();
      await ac.send({ updateSelf: { node: protoNode({ address: 'fd7a:115c:a1e0::1/128' }) } });
      expect(await ac.untilError()).toBe('authorization: invalid node address, got fd7a:115c:a1e0::1/128');
      rpc.close();
    });

    it('a node too large for v1 peers (32 KiB of JSON) is refused', async () => {
      const a = await newAgent();
      const cl = await dialClient(a.id);
      const cc = await cl.coordinate();
      const n = protoNode();
      n.endpoints = Array.from({ length: 2000 }, (_, i) => `192.0.2.${i % 250}:${10000 + i}`);
      await cc.send({ updateSelf: { node: n } });
      expect(await cc.untilError()).toMatch(/^failed to convert node: node too large/);
      cl.close();
    });

    it('malformed protobuf ends only that stream, with an error, and is counted', async () => {
      const a = await newAgent();
      const ag = await agentPeer(a);
      const bad = await dialClient(a.id);
      const bc = await bad.coordinate();
      await bc.call.message(Uint8Array.from([0x0a, 0xff])); // field 1, length 255, truncated
      expect(await bc.untilError()).toMatch(/^failed to decode request: /);
      expect(await bc.ended()).toBe(true);
      // Others unaffected.
      const good = await dialClient(a.id);
      const gc = await good.coordinate();
      await gc.send({ addTunnel: { id: idBytes(a.id) } });
      expect((await gc.until((u) => u.kind === K.NODE)).reason).toBe('add tunnel');
      const text = await s.app.registry.metrics();
      expect(text).toMatch(/coordinator_closes_total\{protocol="v2",reason="bad_node"\} [1-9]/);
      bad.close();
      good.close();
      ag.rpc.close();
    });
  });

  it('a second stream for the same agent overwrites the first without LOST to partners', async () => {
    const a = await newAgent();
    const ag = await agentPeer(a);
    const cl = await dialClient(a.id);
    const cc = await cl.coordinate();
    await cc.send({ addTunnel: { id: idBytes(a.id) }, updateSelf: { node: protoNode() } });
    await cc.until((u) => u.kind === K.NODE);
    await ag.coord.until((u) => u.kind === K.NODE);

    const ag2 = await dialAgent(a.token);
    const c2 = await ag2.coordinate();
    expect((await c2.until((u) => u.kind === K.NODE)).reason).toBe('init');
    expect(await ag.coord.untilError()).toBe('peer ID overwritten by new connection');
    expect(await ag.coord.ended()).toBe(true);
    expect(await cc.call.quiet(300)).toBe(true);
    cl.close();
    ag.rpc.close();
    ag2.close();
  });

  it('v1 JSON client of a v2 agent, and v2 client of a v1 agent', async () => {
    const a = await newAgent();
    const ag = await agentPeer(a);
    const wsBase = s.url.replace('http', 'ws');
    const v1 = await V1Peer.connect(`${wsBase}${coordPath(a.id)}?coder_session_token=${owner.key}`);
    await v1.until(() => v1.nodes.some((n) => n.includes(`"id":${ag.node.id}`)), 'v1 client sees the v2 agent node');
    v1.send(nodeJson({ id: 4242n }));
    const seen = await ag.coord.until((u) => u.kind === K.NODE && u.node!.id === 4242n);
    expect(seen.reason).toBe('node update');
    await v1.close();
    ag.rpc.close();

    const b = await newAgent();
    const v1agent = await V1Peer.connect(`${wsBase}/api/v2/workspaceagents/me/coordinate?coder_session_token=${b.token}`);
    v1agent.send(nodeJson({ id: 777n, address: agentPrefix(b.id) }));
    await eventually(() => s.app.coordinator.node(b.id) !== null, 'v1 agent node held');
    const cl = await dialClient(b.id);
    const cc = await cl.coordinate();
    await cc.send({ addTunnel: { id: idBytes(b.id) }, updateSelf: { node: protoNode({ id: 888n }) } });
    const n = await cc.until((u) => u.kind === K.NODE);
    expect(n.node!.id).toBe(777n);
    await v1agent.until(() => v1agent.nodes.some((x) => x.includes('"id":888')), 'v1 agent sees the v2 client node');
    cl.close();
    await v1agent.close();
  });

  it('resume tokens keep the client peer ID; agents get Unimplemented for RefreshResumeToken', async () => {
    const a = await newAgent();
    const ag = await agentPeer(a);
    const cl = await dialClient(a.id);
    const res = await cl.unary(tp.TailnetMethods.RefreshResumeToken, tp.RefreshResumeTokenRequest, tp.RefreshResumeTokenResponse, {});
    expect(res.token).not.toBe('');
    expect(res.refreshIn!.seconds).toBe(12 * 3600);
    expect(res.expiresAt!.seconds * 1000).toBeGreaterThan(Date.now() + 23 * 3600 * 1000);
    const cc = await cl.coordinate();
    await cc.send({ addTunnel: { id: idBytes(a.id) }, updateSelf: { node: protoNode() } });
    const first = idText((await ag.coord.until((u) => u.kind === K.NODE)).id);
    cl.close();
    await ag.coord.until((u) => u.kind === K.LOST);

    const elsewhere = await newAgent();
    const wrong = await rejection(dialClient(elsewhere.id, { version: '2.0', resume_token: res.token }));
    expect(wrong.status).toBe(401);
    expect(wrong.body.detail).toBe('token issued for another agent');
    const cl2 = await dialClient(a.id, { version: '2.0', resume_token: res.token });
    const cc2 = await cl2.coordinate();
    await cc2.send({ addTunnel: { id: idBytes(a.id) }, updateSelf: { node: protoNode() } });
    expect(idText((await ag.coord.until((u) => u.kind === K.NODE)).id)).toBe(first);
    cl2.close();

    await expect(ag.rpc.unary(tp.TailnetMethods.RefreshResumeToken, tp.RefreshResumeTokenRequest, tp.RefreshResumeTokenResponse, {})).rejects.toMatchObject({ code: 12 });
    ag.rpc.close();
  });

  it('PostTelemetry is accepted; StreamDERPMaps sends the map at once, with home_params, and again on change', async () => {
    const a = await newAgent();
    const cl = await dialClient(a.id);
    await expect(cl.unary(tp.TailnetMethods.PostTelemetry, tp.TelemetryRequest, tp.TelemetryResponse, { events: [] })).resolves.toEqual({});
    const maps = await cl.derpMaps();
    const m = await maps.next();
    expect(m).not.toBeNull();
    expect(m!.homeParams).toBeDefined();
    expect(m!.regions.size).toBeGreaterThan(0);
    // Unchanged map: nothing more.
    expect(await maps.call.quiet(200)).toBe(true);
    cl.close();
  });

  it('Unimplemented and unknown methods answer code 12', async () => {
    const a = await newAgent();
    const rpc = await dialAgent(a.token);
    // Every Agent RPC up to 2.10 is served; a name from a newer API is unknown here.
    const err = await rpc.unaryRaw('/coder.agent.v2.Agent/NotYetInvented', new Uint8Array(0)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcCallError);
    expect((err as RpcCallError).code).toBe(12);
    const call = rpc.open();
    await call.invoke('/coder.tailnet.v2.Tailnet/WorkspaceUpdates');
    await call.message(new Uint8Array(0));
    await call.closeSend();
    const p = await call.next();
    expect(p?.kind).toBe(Kind.Error);
    rpc.close();
  });
});
