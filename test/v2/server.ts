/**
 * startTestServer plus the v2 endpoints. Once src/app.ts mounts /me/rpc and
 * passes coordinateV2 to the coordinate routes this only starts the server;
 * until then it mounts the same rpcEndpoints() the app would.
 */
import { Gauge, Registry } from 'prom-client';
import { startTestServer, type TestServer, type TestServerOptions } from '../helpers/server.js';
import { rpcEndpoints, type RpcEndpoints } from '../../src/api/routes/rpc.js';
import { ResumeTokenProvider } from '../../src/coordinator/v2/index.js';
import type { DerpMapProvider } from '../../src/derpmap/index.js';
import type { UpgradeRoute } from '../../src/api/http/router.js';
import { authenticateUser, loadAgentParam } from '../../src/api/auth.js';
import { negotiateVersion } from '../../src/rpc/version.js';
import { GitAuthService } from '../../src/gitauth/service.js';
import { createRpcMetrics } from '../../src/metrics/rpc.js';

export interface V2TestServer extends TestServer {
  derpMap: DerpMapProvider;
  endpoints: RpcEndpoints | null;
}

export async function startV2TestServer(opts: TestServerOptions = {}): Promise<V2TestServer> {
  const ts = await startTestServer(opts);
  const app = ts.app;
  const derpMap = (app as unknown as { derpMap: DerpMapProvider }).derpMap;
  let endpoints: RpcEndpoints | null = null;
  if (!app.router.match('GET', '/api/v2/workspaceagents/me/rpc')) {
    const websockets = new Gauge({ name: 'test_ws', help: 'x', labelNames: ['path'], registers: [new Registry()] });
    endpoints = rpcEndpoints({
      store: app.store,
      clock: app.clock,
      logger: app.logger,
      pubsub: app.pubsub,
      accessUrl: app.accessUrl,
      wildcardAccessUrl: app.config.wildcardAccessUrl,
      statsIntervalMs: app.config.agentStatsRefreshIntervalMs,
      inactiveTimeoutMs: app.coordinator.settings.agentConnection.inactiveTimeoutMs,
      fallbackTroubleshootingUrl: app.config.agentFallbackTroubleshootingUrl,
      derpMap: { current: () => derpMap.current(), regionName: () => undefined },
      coordinator: null,
      gitauth: new GitAuthService(app.store, app.pubsub, app.clock, app.logger),
      coordinatorImpl: app.coordinator,
      replicaId: app.replicaId,
      websockets,
      derpMapFeed: derpMap,
      resumeTokens: new ResumeTokenProvider(app.clock),
      blockDirect: derpMap.disableStun,
      derpForceWebsockets: app.config.derpMap.forceWebsockets,
      rpcMetrics: createRpcMetrics(app.registry),
    });
    for (const r of endpoints.routes) app.router.add(r);
    // Route ?version=2.x on the client coordinate route to v2 (what coordinateV2 in src/app.ts does).
    const client = app.router.match('GET', '/api/v2/workspaceagents/00000000-0000-0000-0000-000000000000/coordinate')!.route as UpgradeRoute;
    const original = client.prepare.bind(client);
    const v2 = endpoints.clientCoordinateV2;
    client.prepare = async (ctx) => {
      const v = negotiateVersion('coordinate', ctx.query.get('version'));
      if (v.ok && v.version.major === 2) {
        const session = await authenticateUser(ctx, app.store, app.clock);
        const context = await loadAgentParam(ctx, app.store, session, 'execute');
        return v2(ctx, context.agent.id, v.raw);
      }
      return original(ctx);
    };
    const stop = ts.stop.bind(ts);
    const eps = endpoints;
    ts.stop = async () => {
      await eps.connections.closeAll();
      await stop();
    };
  }
  return Object.assign(ts, { derpMap, endpoints });
}
