import { describe, expect, it } from 'vitest';
import { DrpcServerConn } from '../../src/rpc/drpc/server-conn.js';
import { RpcMux } from '../../src/rpc/drpc/mux.js';
import { Kind, decodeErrorBody } from '../../src/rpc/drpc/wire.js';
import * as agent from '../../src/rpc/proto/agent.js';
import * as tailnet from '../../src/rpc/proto/tailnet.js';
import { registerAgentService, registerTailnetService } from '../../src/rpc/services/index.js';
import { TestDrpcClient, pipedSessions } from './helpers.js';

const te = new TextEncoder();

function serve(mux: RpcMux): TestDrpcClient {
  const p = pipedSessions({ onStream: (s) => new DrpcServerConn(s, mux) });
  return new TestDrpcClient(p.client);
}

describe('typed service registration', () => {
  it('serves GetManifest and UpdateStats with the agent codecs; unregistered RPCs answer code 12', async () => {
    const mux = registerAgentService(new RpcMux(), {
      getManifest: () => agent.Manifest.create({ agentId: new Uint8Array(16).fill(1), derpMap: { homeParams: { regionScore: new Map() }, regions: new Map() } }),
      updateStats: (req) => ({ reportInterval: { seconds: req.stats ? 30 : 1, nanos: 0 } }),
    });
    const rpc = serve(mux);
    const [m] = await rpc.unary(agent.AgentMethods.GetManifest, new Uint8Array(0));
    expect(agent.Manifest.decode(m!.data).agentId).toEqual(new Uint8Array(16).fill(1));
    const [s] = await rpc.unary(agent.AgentMethods.UpdateStats, agent.UpdateStatsRequest.encode({}));
    expect(agent.UpdateStatsResponse.decode(s!.data).reportInterval).toEqual({ seconds: 1, nanos: 0 });
    const [u] = await rpc.unary(agent.AgentMethods.PushContextState, new Uint8Array(0));
    expect(u!.kind).toBe(Kind.Error);
    expect(decodeErrorBody(u!.data).code).toBe(12);
  });

  it('Coordinate is a bidi stream of CoordinateRequest → CoordinateResponse; StreamDERPMaps a server stream', async () => {
    const mux = registerTailnetService(new RpcMux(), {
      async coordinate(stream) {
        for await (const req of stream) {
          if (req.disconnect) return;
          await stream.send({ peerUpdates: [{ id: req.addTunnel?.id ?? new Uint8Array(0), kind: tailnet.PeerUpdateKind.NODE, reason: 'add tunnel' }], error: '' });
        }
      },
      async streamDERPMaps(_req, send) {
        await send({ homeParams: { regionScore: new Map() }, regions: new Map() });
      },
    });
    const rpc = serve(mux);
    const call = rpc.open();
    await call.send([
      { kind: Kind.Invoke, data: te.encode(tailnet.TailnetMethods.Coordinate) },
      { kind: Kind.Message, data: tailnet.CoordinateRequest.encode({ addTunnel: { id: new Uint8Array(16).fill(5) }, readyForHandshake: [] }) },
    ]);
    const [resp] = await call.until((p) => p.kind === Kind.Message);
    const decoded = tailnet.CoordinateResponse.decode(resp!.data);
    expect(decoded.peerUpdates[0]).toMatchObject({ id: new Uint8Array(16).fill(5), kind: 1, reason: 'add tunnel' });
    await call.send([{ kind: Kind.Message, data: tailnet.CoordinateRequest.encode({ disconnect: {}, readyForHandshake: [] }) }]);
    const end = await call.until((p) => p.kind === Kind.CloseSend);
    expect(end.at(-1)!.kind).toBe(Kind.CloseSend);

    const maps = await rpc.unary(tailnet.TailnetMethods.StreamDERPMaps, new Uint8Array(0));
    expect(maps.map((p) => p.kind)).toEqual([Kind.Message, Kind.CloseSend]);
    expect(maps[0]!.data[0]).toBe(0x0a); // home_params first and present
    const [rt] = await rpc.unary(tailnet.TailnetMethods.RefreshResumeToken, new Uint8Array(0));
    expect(decodeErrorBody(rt!.data).code).toBe(12);
  });
});
