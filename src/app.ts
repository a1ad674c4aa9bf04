/**
 * Composition root: config → logger → metrics → store → subsystems → HTTP.
 *
 *            ┌──────────── node:http (API, WebSockets, DERP) ─────────────┐
 *  request ─►│ Router ─► agent REST / user REST / admin / gitauth / health │
 *  upgrade ─►│ Router ─► coordinate WS ─► Coordinator ◄── GET /{agent}     │
 *            │        └► /derp (Upgrade: DERP | websocket) ─► DerpServer   │
 *            └──────────────────────────────────────────────────────────────┘
 *  UDP ─► STUN responder          metrics listener ─► prom-client Registry
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ServerConfig } from './config/schema.js';
import { createLogger } from './log/logger.js';
import { createRegistry } from './metrics/registry.js';
import { createHttpMetrics } from './metrics/http.js';
import { openStore, type Store } from './store/index.js';
import { systemClock, type Clock } from './util/clock.js';
import { MemoryPubsub, type Pubsub } from './pubsub/pubsub.js';
import { GitAuthService } from './gitauth/service.js';
import { Router } from './api/http/router.js';
import { createRequestHandler, createUpgradeHandler } from './api/http/server.js';
import { RateLimiter } from './api/http/rate-limit.js';
import type { ApiDeps } from './api/deps.js';
import { agentMeRoutes } from './api/routes/agent-me.js';
import { agentUserRoutes } from './api/routes/agent-user.js';
import { adminRoutes } from './api/routes/admin.js';
import { gitAuthWebRoutes } from './api/routes/gitauth-web.js';
import { healthRoutes } from './api/routes/health.js';
import { coordinateRoutes } from './api/routes/coordinate.js';
import { rpcEndpoints, type RpcConnections } from './api/routes/rpc.js';
import { ResumeTokenProvider } from './coordinator/v2/index.js';
import { createRpcMetrics } from './metrics/rpc.js';
import { identityRoutes } from './api/routes/identity.js';
import { derpRoutes } from './api/routes/derp.js';
import { debugRoutes } from './api/routes/debug.js';
import { listeningPortsRoutes } from './api/routes/listening-ports.js';
import { ptyRoutes } from './api/routes/pty.js';
import { agentMetadataWatchRoutes } from './api/routes/agent-metadata-watch.js';
import { externalAuthRoutes } from './api/routes/external-auth.js';
import { startServerTailnet } from './peer/index.js';
import { buildOpenApi } from './api/openapi.js';
import { DerpMapProvider } from './derpmap/index.js';
import { createCoordinator, type Coordinator } from './coordinator/index.js';
import { Shard } from './coordinator/shard/shard.js';
import { DerpMeshManager } from './coordinator/shard/derp-mesh.js';
import { txClient } from './coordinator/shard/bus.js';
import { ClusterRouter } from './coordinator/shard/cluster-router.js';
import { Redis } from 'ioredis';
import { DerpServer, createDerpHttpHandlers, loadOrCreateServerKey, startStunServer, type StunServer } from './derp/index.js';
import { createIdentityVerifiers, createInstanceIdentityHandlers, identityRateLimit } from './identity/index.js';
import { VERSION } from './version.js';
import { loadOrCreateSecret } from './util/secret-file.js';

export interface AppOptions {
  logger?: Logger;
  clock?: Clock;
  registry?: Registry;
}

export interface Listening {
  url: string;
  port: number;
  metricsUrl: string | null;
  stunPort: number | null;
}

function splitHostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i).replace(/^\[|\]$/g, '');
  return { host: host || '0.0.0.0', port: Number(addr.slice(i + 1)) };
}

/**
 * DERP admission: a node key may connect only if some coordinated peer announced it.
 * The set is rebuilt from the coordinator at most once a second and on a miss, so a peer that
 * just announced itself is admitted; unknown keys are refused (fail closed).
 */
function knownNodeKeys(coordinator: Coordinator, clock: Clock): (nodeKey: Buffer) => boolean {
  let keys = new Set<string>();
  let builtAt = -Infinity;
  const rebuild = (): void => {
    const next = new Set<string>();
    for (const peer of coordinator.core.allPeers()) {
      const node = coordinator.node(peer.id);
      if (node) next.add(node.key.toLowerCase());
    }
    keys = next;
    builtAt = clock.monotonic();
  };
  return (nodeKey) => {
    const text = `nodekey:${nodeKey.toString('hex')}`;
    if (keys.has(text)) return true;
    if (clock.monotonic() - builtAt < 250) return false;
    rebuild();
    return keys.has(text);
  };
}

/** A replica's relay URL (Coder's CODER_DERP_SERVER_RELAY_URL is a base URL) → its DERP endpoint. */
export function derpUrlOf(relayUrl: string): string {
  const u = new URL(relayUrl);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/derp';
  return u.toString();
}

export class App {
  readonly replicaId: string;
  private httpServer: Server | null = null;
  private metricsServer: Server | null = null;
  private stun: StunServer | null = null;
  private serverTailnet: { close(): void } | null = null;
  private derpMesh: DerpMeshManager | null = null;
  /** Signs v2 resume tokens; kept across restarts so reconnecting clients keep their peer ID. */
  private resumeTokenKey!: Buffer;
  private meshRedis: Redis | ClusterRouter | null = null;
  private rpcConnections: RpcConnections | null = null;
  private draining = false;
  private stopped = false;
  accessUrl!: URL;

  private constructor(
    readonly config: ServerConfig,
    readonly logger: Logger,
    readonly registry: Registry,
    readonly clock: Clock,
    readonly store: Store,
    readonly pubsub: Pubsub,
    readonly coordinator: Coordinator,
    readonly derp: DerpServer | null,
    private derpMap: DerpMapProvider | null,
    readonly router: Router,
    replicaId: string,
    /** Set when Redis is configured: the coordinator is one shard of several replicas. */
    readonly shard: Shard | null,
    private readonly derpPrivateKey: Buffer | null,
  ) {
    this.replicaId = replicaId;
  }

  static async create(config: ServerConfig, opts: AppOptions = {}): Promise<App> {
    const logger = opts.logger ?? createLogger(config.logLevel);
    const registry = opts.registry ?? createRegistry();
    const clock = opts.clock ?? systemClock;
    const store = await openStore(
      config.postgresUrl
        ? { kind: 'postgres', url: config.postgresUrl, ...(config.postgresSchema ? { schema: config.postgresSchema } : {}) }
        : { kind: 'sqlite', path: join(config.dataDir, 'tailnetd.db') },
      clock,
      config.readCacheTtlMs,
    );
    const pubsub = new MemoryPubsub();
    const updateMs = config.agentUpdateFrequencyMs;
    const inactiveMs = config.agentInactiveDisconnectTimeoutMs ?? Math.max(2000, 2 * updateMs);
    const replicaId = config.replicaId ?? randomUUID();
    const coordinatorOptions = { logger: logger.child({ component: 'coordinator' }), registry, clock, agentConnection: { updateFrequencyMs: updateMs, inactiveTimeoutMs: inactiveMs } };
    let shard: Shard | null = null;
    let coordinator: Coordinator;
    if (config.redisUrl) {
      shard = new Shard({ ...coordinatorOptions, redisUrl: config.redisUrl, redisCluster: config.redisCluster, prefix: config.redisPrefix, shardId: replicaId, heartbeatMs: config.shardHeartbeatMs });
      await shard.start();
      coordinator = shard.coordinator;
    } else {
      coordinator = createCoordinator(coordinatorOptions);
    }
    let derp: DerpServer | null = null;
    let derpPrivateKey: Buffer | null = null;
    if (config.derpMap.serverEnable) {
      derpPrivateKey = (await loadOrCreateServerKey(join(config.dataDir, 'derp.key'))).privateKey;
      derp = new DerpServer({
        privateKey: derpPrivateKey,
        meshKey: config.derpMeshKey,
        logger: logger.child({ component: 'derp' }),
        registry,
        clock,
        ...(config.derpVerifyClients ? { admit: knownNodeKeys(coordinator, clock) } : {}),
      });
    }
    const app = new App(config, logger, registry, clock, store, pubsub, coordinator, derp, null, new Router(), replicaId, shard, derpPrivateKey);
    app.resumeTokenKey = config.resumeTokenKey ? Buffer.from(config.resumeTokenKey, 'hex') : loadOrCreateSecret(join(config.dataDir, 'resume-token.key'), 64);
    app.replicaIdCheck();
    return app;
  }

  private replicaIdCheck(): void {
    this.logger.debug({ replica_id: this.replicaId }, 'replica identity');
  }

  /** Binds the listeners, builds the DERP map from the (possibly port-0-resolved) access URL, mounts routes. */
  async start(): Promise<Listening> {
    const { config, logger } = this;
    const httpMetrics = createHttpMetrics(this.registry);
    const rateLimiter = config.apiRateLimit > 0 ? new RateLimiter(config.apiRateLimit, 60_000, this.clock) : undefined;
    const dispatch = { router: this.router, logger, metrics: httpMetrics, acceptingUpgrades: () => !this.draining, rateLimiter };
    const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0, headersTimeout: 30_000 }, createRequestHandler(dispatch));
    server.on('upgrade', createUpgradeHandler(dispatch));
    // Like Node's default: answer 400 and destroy, so junk (e.g. a TLS ClientHello sent to the
    // plain-HTTP DERP port by old clients' latency checks) never leaves a half-open socket behind.
    server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.write('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      socket.destroy();
    });
    const { host, port } = splitHostPort(config.httpAddress);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // A deep accept backlog: the default 511 makes connect storms (agents reconnecting after a
      // restart) fall into SYN retransmits.
      server.listen({ port, host, backlog: 4096 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.httpServer = server;
    const bound = server.address() as AddressInfo;
    const displayHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
    const url = `http://${displayHost === '0.0.0.0' ? '127.0.0.1' : displayHost}:${bound.port}`;
    this.accessUrl = new URL(config.accessUrl ?? url);

    await this.mountIdentity();
    this.derpMap = await DerpMapProvider.create({ config: config.derpMap, accessUrl: this.accessUrl, clock: this.clock, logger: logger.child({ component: 'derpmap' }) });
    this.mountRoutes(httpMetrics.websockets);

    if (this.derp && this.derpPrivateKey && config.derpMeshKey && (config.redisUrl || config.derpMeshWith)) {
      // Discovery is one zset (one slot): the same commands work on a single node and on a cluster.
      if (config.redisUrl) {
        if (config.redisCluster) {
          const router = new ClusterRouter(config.redisUrl, { node: { commandTimeout: 2000 }, logger: logger.child({ component: 'derp-mesh' }) });
          // Discovery retries every interval: start with whatever the cluster answers now.
          await router.connect().catch((err: unknown) => logger.warn({ err: String(err) }, 'derp mesh: redis cluster not reachable yet'));
          this.meshRedis = router;
        } else {
          const redis = new Redis(config.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
          redis.on('error', (err: Error) => logger.debug({ err: err.message }, 'derp mesh redis error'));
          this.meshRedis = redis;
        }
      }
      this.derpMesh = new DerpMeshManager({
        derp: this.derp,
        meshKey: config.derpMeshKey,
        privateKey: this.derpPrivateKey,
        ...(config.derpRelayUrl ? { selfUrl: derpUrlOf(config.derpRelayUrl) } : {}),
        staticUrls: config.derpMeshWith.split(',').map((u) => u.trim()).filter(Boolean).map(derpUrlOf),
        ...(this.meshRedis ? { redis: txClient(this.meshRedis) } : {}),
        prefix: config.redisPrefix,
        logger: logger.child({ component: 'derp-mesh' }),
      });
      await this.derpMesh.start();
    }

    if (this.derp && config.stunAddress) {
      const stunAddr = splitHostPort(config.stunAddress);
      this.stun = await startStunServer({ host: stunAddr.host, port: stunAddr.port, stats: this.derp.stats });
    }

    let metricsUrl: string | null = null;
    if (config.prometheusEnable) {
      const m = splitHostPort(config.prometheusAddress);
      const metricsServer = createServer((req, res) => {
        if ((req.url ?? '').split('?')[0] !== '/metrics') {
          res.writeHead(404).end();
          return;
        }
        this.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'Content-Type': this.registry.contentType });
            res.end(text);
          },
          (err: unknown) => {
            res.writeHead(500).end(String(err));
          },
        );
      });
      await new Promise<void>((resolve, reject) => {
        metricsServer.once('error', reject);
        metricsServer.listen(m.port, m.host, () => resolve());
      });
      this.metricsServer = metricsServer;
      const ma = metricsServer.address() as AddressInfo;
      metricsUrl = `http://${m.host}:${ma.port}/metrics`;
    }
    logger.info({ url, access_url: this.accessUrl.toString(), metrics_url: metricsUrl, stun_port: this.stun?.port ?? null, store: this.store.kind, replica_id: this.replicaId }, 'listening');
    return { url, port: bound.port, metricsUrl, stunPort: this.stun?.port ?? null };
  }

  private mountRoutes(websockets: ReturnType<typeof createHttpMetrics>['websockets']): void {
    const derpMap = this.derpMap!;
    const deps: ApiDeps = {
      store: this.store,
      clock: this.clock,
      logger: this.logger,
      pubsub: this.pubsub,
      accessUrl: this.accessUrl,
      wildcardAccessUrl: this.config.wildcardAccessUrl,
      statsIntervalMs: this.config.agentStatsRefreshIntervalMs,
      inactiveTimeoutMs: this.coordinator.settings.agentConnection.inactiveTimeoutMs,
      fallbackTroubleshootingUrl: this.config.agentFallbackTroubleshootingUrl,
      derpForceWebsockets: this.config.derpMap.forceWebsockets,
      disableDirectConnections: this.config.derpMap.disableStun,
      derpMap: {
        current: () => derpMap.current(),
        regionName: (id) => derpMap.current().Regions[String(id)]?.RegionName,
      },
      coordinator: {
        agentNodeJson: (agentId) => this.coordinator.nodeJson(agentId),
        agentNode: (agentId) => {
          const node = this.coordinator.node(agentId);
          return node ? { derp_latency: node.derpLatency ?? null, preferred_derp: node.preferredDerp } : undefined;
        },
      },
      gitauth: new GitAuthService(this.store, this.pubsub, this.clock, this.logger.child({ component: 'gitauth' })),
    };
    const r = this.router;
    for (const route of healthRoutes({ notReadyReason: () => this.notReadyReason() })) r.add(route);
    for (const route of agentMeRoutes(deps)) r.add(route);
    for (const route of agentUserRoutes(deps)) r.add(route);
    for (const route of agentMetadataWatchRoutes({ ...deps, websockets })) r.add(route);
    for (const route of externalAuthRoutes(deps)) r.add(route);
    const rpc = rpcEndpoints({
      ...deps, coordinatorImpl: this.coordinator, shard: this.shard, replicaId: this.replicaId, websockets, derpMapFeed: derpMap, resumeTokens: new ResumeTokenProvider(this.clock, this.resumeTokenKey),
      blockDirect: this.config.derpMap.disableStun, derpForceWebsockets: this.config.derpMap.forceWebsockets, rpcMetrics: createRpcMetrics(this.registry),
    });
    this.rpcConnections = rpc.connections;
    for (const route of rpc.routes) r.add(route);
    for (const route of coordinateRoutes({ ...deps, coordinatorImpl: this.coordinator, shard: this.shard, replicaId: this.replicaId, websockets, coordinateV2: rpc.clientCoordinateV2 })) r.add(route);
    for (const route of adminRoutes(deps)) r.add(route);
    for (const route of gitAuthWebRoutes(deps)) r.add(route);
    for (const route of debugRoutes(deps, () => this.coordinator.renderDebugPage())) r.add(route);
    if (this.derp) for (const route of derpRoutes(createDerpHttpHandlers(this.derp))) r.add(route);
    const tailnet = startServerTailnet({ derp: this.derp, coordinator: this.coordinator, regionId: this.config.derpMap.regionId, logger: this.logger, clock: this.clock, registry: this.registry });
    this.serverTailnet = tailnet;
    for (const route of listeningPortsRoutes({ ...deps, tailnet: tailnet.dialer })) r.add(route);
    for (const route of ptyRoutes({ ...deps, tailnet: tailnet.dialer, websockets })) r.add(route);
    r.add({
      kind: 'http',
      method: 'GET',
      path: '/api/v2/openapi.json',
      doc: { summary: 'This OpenAPI document', tags: ['Meta'], auth: 'none', responses: { 200: { description: 'OpenAPI 3.0 document' } } },
      handle: () => ({ status: 200, body: buildOpenApi(r.routes, { version: VERSION, serverUrl: this.accessUrl.origin }) }),
    });
    r.add({
      kind: 'http',
      method: 'GET',
      path: '/api/v2/buildinfo',
      doc: { summary: 'Server version', tags: ['Meta'], auth: 'none', responses: { 200: { description: 'OK' } } },
      handle: () => ({ status: 200, body: { external_url: 'https://github.com/tailnetd/tailnetd', version: `v${VERSION}` } }),
    });
  }

  /** Identity routes need async setup (certificates, JWKS files). */
  private async mountIdentity(): Promise<void> {
    const verifiers = await createIdentityVerifiers(this.config.identity, { clock: this.clock, registry: this.registry });
    const handlers = createInstanceIdentityHandlers({
      store: {
        findNewestAgentByInstanceId: async (id) => (await this.store.agents.newestByInstanceId(id)) ?? null,
        issueAgentToken: (agentId) => this.store.agents.issueToken(agentId),
      },
      ...verifiers,
      logger: this.logger.child({ component: 'identity' }),
      registry: this.registry,
      clock: this.clock,
      rateLimit: identityRateLimit(this.config.identity),
    });
    for (const route of identityRoutes(handlers)) this.router.add(route);
  }

  async notReadyReason(): Promise<string | null> {
    if (this.draining) return 'draining';
    if (this.shard && !this.shard.ready()) return 'coordinator shard not synced with Redis';
    try {
      await this.store.ping();
    } catch (err) {
      return `store unreachable: ${String(err)}`;
    }
    return null;
  }

  /**
   * Graceful stop: readiness 503 and upgrades refused at once, DERP clients told to reconnect
   * (Restarting), coordinate sockets closed, then listeners and the store.
   */
  async stop(graceMs = this.config.shutdownGraceMs): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.draining = true;
    this.serverTailnet?.close();
    // Tell other shards we are leaving (GOODBYE) and move our coordinate peers with jittered 1012s.
    await this.shard?.drain().catch((err: unknown) => this.logger.warn({ err: String(err) }, 'shard drain failed'));
    await this.derpMesh?.stop();
    if (this.meshRedis instanceof ClusterRouter) this.meshRedis.close();
    else this.meshRedis?.disconnect();
    const closeHttp = new Promise<void>((resolve) => {
      if (!this.httpServer) return resolve();
      this.httpServer.close(() => resolve());
      this.httpServer.closeIdleConnections();
    });
    await Promise.allSettled([
      this.derp?.close({ restarting: { reconnectInMs: 1000 + Math.floor(Math.random() * 2000), tryForMs: 30_000 }, graceMs: Math.min(graceMs, 2000) }),
      this.shard ? this.shard.stop() : this.coordinator.close(),
      this.rpcConnections?.closeAll(),
      this.stun?.close(),
    ]);
    const cut = this.clock.setTimeout(() => this.httpServer?.closeAllConnections(), graceMs);
    await closeHttp;
    cut.cancel();
    this.derpMap?.close();
    await new Promise<void>((resolve) => (this.metricsServer ? this.metricsServer.close(() => resolve()) : resolve()));
    await this.store.close();
  }
}
