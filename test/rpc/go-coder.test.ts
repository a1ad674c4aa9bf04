/**
 * Coder's own generated Go dRPC clients and protobuf types
 * (github.com/coder/coder/v2 v2.24.1 agent/proto + tailnet/proto) against the
 * TS stack and codecs over a real WebSocket: every message crosses the wire
 * encoded by one implementation and decoded by the other.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcMux, registerAgentService, registerTailnetService, serveRpcOverWebSocket } from '../../src/rpc/index.js';
import { derpMapToProto } from '../../src/rpc/convert/derpmap.js';
import { nodeFromProto, nodeToProto } from '../../src/rpc/convert/node.js';
import * as agent from '../../src/rpc/proto/agent.js';
import * as tailnet from '../../src/rpc/proto/tailnet.js';
import { buildHarness, runHarness } from './go-harness.js';
import { silent } from './helpers.js';

const uuid = (b: number) => new Uint8Array(16).fill(b);
const derpMap = (host: string) =>
  derpMapToProto({
    Regions: { '999': { EmbeddedRelay: true, RegionID: 999, RegionCode: 'coder', RegionName: 'Coder', Nodes: [{ Name: '999a', RegionID: 999, HostName: host, STUNPort: -1, DERPPort: 443 }] } },
  });

describe("Coder's generated Go clients against the TS services", () => {
  let server: Server;
  let url: string;
  const seen: Record<string, unknown> = {};

  beforeAll(async () => {
    await buildHarness();
    const mux = new RpcMux();
    registerAgentService(mux, {
      getManifest: () =>
        agent.Manifest.create({
          agentId: uuid(0x11),
          agentName: 'main',
          ownerUsername: 'alice',
          workspaceId: uuid(0x22),
          workspaceName: 'ws',
          gitAuthConfigs: 2,
          environmentVariables: new Map([['A', 'b']]),
          directory: '/home/coder',
          motdPath: '/etc/motd',
          disableDirectConnections: true,
          derpMap: derpMap('derp.example.com'),
          scripts: [agent.WorkspaceAgentScript.create({ logSourceId: uuid(0x33), script: 'echo hi', runOnStart: true, timeout: { seconds: 60, nanos: 0 }, id: uuid(0x34), displayName: 'hello' })],
          apps: [agent.WorkspaceApp.create({ id: uuid(0x44), slug: 'code', url: 'http://localhost:8080', sharingLevel: agent.SharingLevel.OWNER, health: agent.AppHealth.HEALTHY, healthcheck: { url: 'http://localhost:8080/health', interval: { seconds: 5, nanos: 0 }, threshold: 3 } })],
          metadata: [agent.MetadataDescription.create({ key: 'cpu', displayName: 'CPU', script: 'top', interval: { seconds: 10, nanos: 0 }, timeout: { seconds: 1, nanos: 500_000_000 } })],
          devcontainers: [agent.WorkspaceAgentDevcontainer.create({ id: uuid(0x55), workspaceFolder: '/src', name: 'dev' })],
        }),
      updateStats: (req) => {
        seen.stats = req.stats;
        return { reportInterval: { seconds: 30, nanos: 0 } };
      },
      updateLifecycle: (req) => req.lifecycle ?? agent.Lifecycle.create(),
      updateStartup: (req) => req.startup ?? agent.Startup.create(),
      batchCreateLogs: (req) => {
        seen.logs = req;
        return { logLimitExceeded: true };
      },
      batchUpdateMetadata: (req) => {
        seen.metadata = req.metadata;
        return {};
      },
    });
    registerTailnetService(mux, {
      postTelemetry: (req) => {
        seen.telemetry = req.events;
        return {};
      },
      async coordinate(stream) {
        for await (const req of stream) {
          if (req.disconnect) return;
          const node = req.updateSelf?.node;
          // Through the coordinator's v1-shaped model and back, as the Tailnet service will.
          const relayed = node ? nodeToProto(nodeFromProto(node)) : undefined;
          await stream.send({ peerUpdates: [{ id: req.addTunnel?.id ?? new Uint8Array(0), node: relayed, kind: tailnet.PeerUpdateKind.NODE, reason: 'echo' }], error: '' });
        }
      },
      async streamDERPMaps(_req, send) {
        await send(derpMap('derp0.example.com'));
        await send(derpMap('derp1.example.com'));
      },
    });
    server = createServer();
    const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 8 << 20 });
    wss.on('connection', (ws) => serveRpcOverWebSocket(ws, mux, { logger: silent }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/api/v2/workspaceagents/me/rpc?version=2.6`;
  }, 300_000);

  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('round-trips every message kind between Go protobuf and the TS codecs', async () => {
    const r = await runHarness(url, 'coder');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('OK ') || l === 'DONE')).toEqual([
      'OK coder-get-manifest',
      'OK coder-update-stats',
      'OK coder-echo-lifecycle-startup',
      'OK coder-logs-metadata',
      'OK coder-unimplemented',
      'OK coder-telemetry',
      'OK coder-coordinate',
      'OK coder-derp-maps',
      'DONE',
    ]);

    // What Go's protobuf decoded from our Manifest, in protojson form.
    const man = JSON.parse(lines.find((l) => l.startsWith('JSON manifest '))!.slice('JSON manifest '.length)) as Record<string, unknown>;
    expect(man).toMatchObject({
      agentId: Buffer.from(uuid(0x11)).toString('base64'),
      agentName: 'main',
      ownerUsername: 'alice',
      workspaceName: 'ws',
      gitAuthConfigs: 2,
      environmentVariables: { A: 'b' },
      disableDirectConnections: true,
      derpMap: { homeParams: {}, regions: { '999': { regionId: '999', embeddedRelay: true, regionCode: 'coder', nodes: [{ name: '999a', regionId: '999', hostName: 'derp.example.com', stunPort: -1, derpPort: 443 }] } } },
      scripts: [{ script: 'echo hi', runOnStart: true, timeout: '60s', displayName: 'hello' }],
      apps: [{ slug: 'code', sharingLevel: 'OWNER', health: 'HEALTHY', healthcheck: { url: 'http://localhost:8080/health', interval: '5s', threshold: 3 } }],
      metadata: [{ key: 'cpu', displayName: 'CPU', interval: '10s', timeout: '1.500s' }],
      devcontainers: [{ workspaceFolder: '/src', name: 'dev' }],
    });

    // What the TS codecs decoded from Go's encodings.
    expect(seen.stats).toMatchObject({
      connectionsByProto: new Map([['ssh', 3]]),
      connectionCount: 3,
      connectionMedianLatencyMs: 12.5,
      rxPackets: 7,
      rxBytes: 2 ** 40,
      txBytes: 5,
      sessionCountSsh: 2,
      metrics: [{ name: 'm', type: agent.MetricType.GAUGE, value: 1.5, labels: [{ name: 'a', value: 'b' }] }],
    });
    expect(seen.logs).toMatchObject({
      logSourceId: uuid(0x33),
      logs: [
        { createdAt: { seconds: 1700000000, nanos: 42 }, output: 'héllo ✓', level: agent.LogLevel.WARN },
        { output: 'second', level: 0 },
      ],
    });
    expect(seen.metadata).toEqual([{ key: 'cpu', result: { collectedAt: { seconds: 1700000001, nanos: 0 }, age: -5, value: '12%', error: '' } }]);
    expect(seen.telemetry).toMatchObject([
      {
        id: uuid(0x44),
        application: 'cli',
        status: tailnet.TelemetryStatus.DISCONNECTED,
        clientType: tailnet.TelemetryClientType.AGENT,
        nodeIdSelf: (1n << 63n) + 1n,
        homeDerp: 999,
        throughputMbits: { value: 2.5 },
        connectionAge: { seconds: 90, nanos: 0 },
        latestNetcheck: { udp: true, osHasIpv6: { value: true }, preferredDerp: 999, regionV4Latency: new Map([[999, { seconds: 0, nanos: 15_000_000 }]]) },
      },
    ]);
  });
});
