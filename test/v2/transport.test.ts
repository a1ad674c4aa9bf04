/**
 * Transport conformance through the real /me/rpc endpoint (tailnet-v2.md §7.2 cases 1, 3, 5, 6,
 * 10, 11, 12): binary-only, pings answered, no server message above 32 KiB, yamux split across
 * tiny WebSocket messages, InvokeMetadata ignored, a broken dRPC stream leaves the others alone,
 * sequential RPCs on one yamux stream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ap from '../../src/rpc/proto/agent.js';
import { Kind } from '../../src/rpc/drpc/wire.js';
import { RpcClient } from './client.js';
import { startV2TestServer, type V2TestServer } from './server.js';

const RPC = '/api/v2/workspaceagents/me/rpc';
const enc = (s: string) => new TextEncoder().encode(s);

describe('v2 transport through /me/rpc', () => {
  let s: V2TestServer;
  let token: string;
  let agentId: string;
  beforeAll(async () => {
    s = await startV2TestServer();
    const owner = await s.user();
    // A large environment makes the manifest ~200 KiB: it must arrive in ≤ 32 KiB messages.
    const env: Record<string, string> = {};
    for (let i = 0; i < 100; i++) env[`VAR_${i}`] = 'v'.repeat(2000);
    const b = await s.workspace(owner.username, [{ name: 'main', env }]);
    token = b.agents[0]!.token!;
    agentId = b.agents[0]!.id;
  });
  afterAll(async () => {
    await s.stop();
  });

  it('large responses arrive in binary messages of at most 32 KiB; pings are answered meanwhile', async () => {
    const rpc = await RpcClient.dial(s.url, RPC, { token, query: { version: '2.0' } });
    let max = 0;
    let text = 0;
    rpc.ws.on('message', (d: Buffer, isBinary: boolean) => {
      max = Math.max(max, d.length);
      if (!isBinary) text++;
    });
    const [m, rtt] = await Promise.all([rpc.unary(ap.AgentMethods.GetManifest, ap.GetManifestRequest, ap.Manifest, {}), rpc.session.ping()]);
    expect(m.environmentVariables.size).toBe(100);
    expect(rtt).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(32 * 1024);
    expect(text).toBe(0);
    rpc.close();
  });

  it('yamux and dRPC parse across one-byte WebSocket messages', async () => {
    const rpc = await RpcClient.dial(s.url, RPC, { token, splitWrites: 1 });
    const m = await rpc.unary(ap.AgentMethods.GetManifest, ap.GetManifestRequest, ap.Manifest, {});
    expect(m.agentName).toBe('main');
    rpc.close();
  });

  it('a text frame closes the connection with 1003', async () => {
    const rpc = await RpcClient.dial(s.url, RPC, { token });
    rpc.ws.send('hello');
    expect((await rpc.closed).code).toBe(1003);
  });

  it('InvokeMetadata is ignored; two sequential RPCs on one yamux stream are both served', async () => {
    const rpc = await RpcClient.dial(s.url, RPC, { token });
    const call = rpc.open();
    const meta = Uint8Array.from([0x0a, 0x06, 0x0a, 0x01, 0x6b, 0x12, 0x01, 0x76]); // {k: v}
    await call.sendPackets([
      { kind: Kind.InvokeMetadata, data: meta, streamId: 1, messageId: 1 },
      { kind: Kind.Invoke, data: enc(ap.AgentMethods.GetAnnouncementBanners), streamId: 1, messageId: 2 },
      { kind: Kind.Message, data: new Uint8Array(0), streamId: 1, messageId: 3 },
      { kind: Kind.CloseSend, data: new Uint8Array(0), streamId: 1, messageId: 4 },
    ]);
    expect((await call.next())?.kind).toBe(Kind.Message);
    expect((await call.next())?.kind).toBe(Kind.CloseSend);
    await call.sendPackets([
      { kind: Kind.Invoke, data: enc(ap.AgentMethods.UpdateStats), streamId: 2, messageId: 1 },
      { kind: Kind.Message, data: new Uint8Array(0), streamId: 2, messageId: 2 },
      { kind: Kind.CloseSend, data: new Uint8Array(0), streamId: 2, messageId: 3 },
    ]);
    const p = await call.next();
    expect(p?.kind).toBe(Kind.Message);
    expect(p?.streamId).toBe(2);
    expect(ap.UpdateStatsResponse.decode(p!.data).reportInterval!.seconds).toBe(30);
    call.fin();
    rpc.close();
  });

  it('a monotonicity violation kills that yamux stream only', async () => {
    const rpc = await RpcClient.dial(s.url, RPC, { token });
    const bad = rpc.open();
    await bad.sendPackets([
      { kind: Kind.Invoke, data: enc(ap.AgentMethods.GetManifest), streamId: 1, messageId: 5 },
      { kind: Kind.Message, data: new Uint8Array(0), streamId: 1, messageId: 3 },
    ]);
    for (let p = await bad.next(2000); p; p = await bad.next(2000)) expect(p.kind).not.toBe(Kind.Message);
    expect(bad.eof).toBe(true);
    const m = await rpc.unary(ap.AgentMethods.GetManifest, ap.GetManifestRequest, ap.Manifest, {});
    expect(m.agentName).toBe('main');
    expect(agentId).toBeTruthy();
    expect(await s.app.registry.getSingleMetricAsString('tailnetd_rpc_protocol_errors_total')).toMatch(/tailnetd_rpc_protocol_errors_total\{code="[a-z_]+"\} [1-9]/);
    expect(await s.app.registry.getSingleMetricAsString('tailnetd_rpc_calls_total')).toMatch(/method="\/coder.agent.v2.Agent\/GetManifest",outcome="ok"\} [1-9]/);
    rpc.close();
  });
});
