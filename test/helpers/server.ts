/**
 * Starts a real tailnetd App on 127.0.0.1:0 against a chosen store backend, plus helpers to
 * provision users, workspaces and agents and to call the API.
 */
import { pino } from 'pino';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import type { ServerConfig } from '../../src/config/schema.js';
import { createRegistry } from '../../src/metrics/registry.js';
import { Provisioning } from '../../src/provisioning/service.js';
import { agentSpecSchema, type AgentSpec } from '../../src/provisioning/schema.js';
import type { ProvisionedBuild } from '../../src/store/index.js';
import type { Clock } from '../../src/util/clock.js';
import { createBackend, type BackendHandle, type BackendName } from './backends.js';
import type { z } from 'zod';

export interface TestServer {
  app: App;
  url: string;
  metricsUrl: string | null;
  backend: BackendHandle;
  provisioning: Provisioning;
  /** A site admin and its API key. */
  admin: { id: string; username: string; key: string };
  stop(): Promise<void>;
  /** Creates a (non-admin) user, returns its id and API key. */
  user(username?: string): Promise<{ id: string; username: string; key: string }>;
  /** Creates a workspace for `owner` with the given agents. */
  workspace(owner: string, agents: Partial<z.input<typeof agentSpecSchema>>[], name?: string): Promise<ProvisionedBuild>;
  /** fetch against the server with an optional session token header. */
  request(path: string, init?: RequestInit & { token?: string }): Promise<Response>;
}

export interface TestServerOptions {
  backend?: BackendName;
  env?: Record<string, string>;
  clock?: Clock;
  config?: Partial<ServerConfig>;
  /** Share this store with an existing test server (multi-replica tests; PostgreSQL). */
  joinBackend?: BackendHandle;
}

let counter = 0;

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  // A replica joins another server's store (same PostgreSQL schema); its owner cleans it up.
  const backend = opts.joinBackend ?? (await createBackend(opts.backend ?? 'sqlite'));
  const base = loadConfig({
    env: {
      TAILNETD_HTTP_ADDRESS: '127.0.0.1:0',
      TAILNETD_PROMETHEUS_ADDRESS: '127.0.0.1:0',
      TAILNETD_STUN_ADDRESS: '',
      // Each replica keeps its own data directory (its own DERP server key), as in a deployment.
      TAILNETD_DATA_DIR: opts.joinBackend ? mkdtempSync(join(tmpdir(), 'tailnetd-replica-')) : backend.dataDir,
      TAILNETD_LOG_LEVEL: 'silent',
      // Suites open hundreds of sockets on one path from 127.0.0.1; test/api/rate-limit.test.ts covers the limit.
      TAILNETD_API_RATE_LIMIT: '0',
      ...(backend.postgresUrl ? { TAILNETD_POSTGRES_URL: backend.postgresUrl, TAILNETD_POSTGRES_SCHEMA: backend.postgresSchema ?? '' } : {}),
      ...opts.env,
    },
  });
  const config: ServerConfig = { ...base, ...opts.config };
  const app = await App.create(config, { logger: pino({ level: 'silent' }), registry: createRegistry(false), ...(opts.clock ? { clock: opts.clock } : {}) });
  const listening = await app.start();
  const provisioning = new Provisioning(app.store);
  const adminUser = await provisioning.createUser({ username: `admin${++counter}`, email: 'admin@example.com', admin: true });
  const server: TestServer = {
    app,
    url: listening.url,
    metricsUrl: listening.metricsUrl,
    backend,
    provisioning,
    admin: { id: adminUser.id, username: adminUser.username, key: adminUser.api_key },
    async stop() {
      await app.stop(500);
      if (!opts.joinBackend) await backend.cleanup();
    },
    async user(username = `user${++counter}`) {
      const u = await provisioning.createUser({ username, email: `${username}@example.com`, admin: false });
      return { id: u.id, username: u.username, key: u.api_key };
    },
    async workspace(owner, agents, name = `ws${++counter}`) {
      const parsed: AgentSpec[] = agents.map((a, i) => agentSpecSchema.parse({ name: `agent${i}`, ...a }));
      return provisioning.createWorkspace({ owner, name, ttl_ms: null, agents: parsed });
    },
    request(path, init = {}) {
      const { token, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (token) headers.set('Coder-Session-Token', token);
      return fetch(new URL(path, listening.url), { ...rest, headers });
    },
  };
  return server;
}
