/**
 * Every server option, defined once: flag name, environment names (TAILNETD_* and, where the
 * meaning is identical, Coder's CODER_*), config-file key, default and doc line.
 * Precedence: flags > environment > config file > defaults.
 */
import { z } from 'zod';
import { identityConfigSchema, IDENTITY_ENV, type IdentityConfig } from '../identity/config.js';
import { derpMapConfigSchema, derpMapConfigEnv, type DerpMapConfig } from '../derpmap/config.js';

const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]*):\d{1,5}$/, 'must be host:port');
const durationMs = z.coerce.number().int().min(0);
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes')]);

export interface OptionDef {
  key: string; // camelCase key in the parsed config
  flag: string; // --flag-name
  env: string[]; // first is canonical
  description: string;
  secret?: boolean;
  schema: z.ZodType;
}

function opt(key: string, flag: string, env: string[], description: string, schema: z.ZodType, secret = false): OptionDef {
  return { key, flag, env, description, schema, secret };
}

export const optionDefs: OptionDef[] = [
  opt('httpAddress', 'http-address', ['TAILNETD_HTTP_ADDRESS', 'CODER_HTTP_ADDRESS'], 'Address the HTTP API, WebSockets and DERP listen on (port 0 picks a free port).', hostPort.default('127.0.0.1:3000')),
  opt('accessUrl', 'access-url', ['TAILNETD_ACCESS_URL', 'CODER_ACCESS_URL'], 'External URL agents and clients use to reach this server (defaults to http://<http-address>).', z.string().url().optional()),
  opt('dataDir', 'data-dir', ['TAILNETD_DATA_DIR'], 'Directory for the SQLite file and the DERP server key.', z.string().min(1).default('./.tailnetd')),
  opt('postgresUrl', 'postgres-url', ['TAILNETD_POSTGRES_URL', 'CODER_PG_CONNECTION_URL'], 'PostgreSQL connection URL; switches the store from SQLite to PostgreSQL.', z.string().url().optional(), true),
  opt('postgresSchema', 'postgres-schema', ['TAILNETD_POSTGRES_SCHEMA'], 'PostgreSQL schema to use (created if missing).', z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).optional()),
  opt('prometheusEnable', 'prometheus-enable', ['TAILNETD_PROMETHEUS_ENABLE', 'CODER_PROMETHEUS_ENABLE'], 'Serve Prometheus metrics on their own listener.', bool.default(true)),
  opt('prometheusAddress', 'prometheus-address', ['TAILNETD_PROMETHEUS_ADDRESS', 'CODER_PROMETHEUS_ADDRESS'], 'Address of the metrics listener.', hostPort.default('127.0.0.1:2112')),
  opt('logLevel', 'log-level', ['TAILNETD_LOG_LEVEL'], 'Log level: trace, debug, info, warn, error.', z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info')),
  opt('replicaId', 'replica-id', ['TAILNETD_REPLICA_ID'], 'Identity of this replica (random per start when unset).', z.string().uuid().optional()),
  opt('agentUpdateFrequencyMs', 'agent-connection-update-frequency', ['TAILNETD_AGENT_CONNECTION_UPDATE_FREQUENCY_MS'], 'How often a connected agent refreshes last_connected_at (ms).', durationMs.min(100).default(3000)),
  opt('agentInactiveDisconnectTimeoutMs', 'agent-inactive-disconnect-timeout', ['TAILNETD_AGENT_INACTIVE_DISCONNECT_TIMEOUT_MS'], 'Silence after which an agent counts as disconnected (ms; default 2x update frequency).', durationMs.min(100).optional()),
  opt('agentStatsRefreshIntervalMs', 'agent-stats-refresh-interval', ['TAILNETD_AGENT_STATS_REFRESH_INTERVAL_MS'], 'Interval agents report stats at (ms).', durationMs.min(1000).default(30_000)),
  opt('agentFallbackTroubleshootingUrl', 'agent-fallback-troubleshooting-url', ['TAILNETD_AGENT_FALLBACK_TROUBLESHOOTING_URL', 'CODER_AGENT_FALLBACK_TROUBLESHOOTING_URL'], 'Troubleshooting URL for agents that have none.', z.string().url().default('https://coder.com/docs/coder-oss/latest/templates#troubleshooting-templates')),
  opt('wildcardAccessUrl', 'wildcard-access-url', ['TAILNETD_WILDCARD_ACCESS_URL', 'CODER_WILDCARD_ACCESS_URL'], 'Wildcard hostname for apps (e.g. *.apps.example.com).', z.string().default('')),
  opt('resumeTokenKey', 'resume-token-key', ['TAILNETD_RESUME_TOKEN_KEY'], 'Hex key (≥ 32 bytes) signing v2 resume tokens; replicas must share it. Unset: a key kept in the data directory.', z.string().regex(/^([0-9a-fA-F]{2}){32,}$/, 'must be at least 64 hex characters').optional(), true),
  opt('apiRateLimit', 'api-rate-limit', ['TAILNETD_API_RATE_LIMIT', 'CODER_API_RATE_LIMIT'], 'Requests per minute one client address may send to one /api/v2 path (WebSocket upgrades included); 0 or less turns the limit off.', z.coerce.number().int().default(512)),
  opt('readCacheTtlMs', 'read-cache-ttl', ['TAILNETD_READ_CACHE_TTL_MS'], 'How long hot-path reads (API keys, agent rows) are served from memory (ms; 0 turns the cache off). Other replicas\' writes show within this time.', durationMs.max(60_000).default(1000)),
  opt('shutdownGraceMs', 'shutdown-grace-period', ['TAILNETD_SHUTDOWN_GRACE_PERIOD_MS'], 'How long a SIGTERM drain may take before stragglers are cut (ms).', durationMs.default(15_000)),
  opt('derpMeshKey', 'derp-mesh-key', ['TAILNETD_DERP_MESH_KEY'], 'Shared key that lets replicas mesh their DERP relays.', z.string().min(1).optional(), true),
  opt('derpVerifyClients', 'derp-verify-clients', ['TAILNETD_DERP_VERIFY_CLIENTS'], 'Only admit DERP clients whose node key the coordinator knows (fail closed).', bool.default(false)),
  opt('redisUrl', 'redis-url', ['TAILNETD_REDIS_URL'], 'Redis URL; turns on the sharded coordinator (replicas share peers over Redis pub/sub) and DERP mesh discovery.', z.string().url().optional(), true),
  opt('redisCluster', 'redis-cluster', ['TAILNETD_REDIS_CLUSTER'], 'Treat --redis-url as a seed node of a Redis Cluster (Redis ≥ 7): the shard bus uses sharded pub/sub (SPUBLISH/SSUBSCRIBE) and per-replica hash slots; credentials and TLS of the URL apply to every node.', bool.default(false)),
  opt('redisPrefix', 'redis-prefix', ['TAILNETD_REDIS_PREFIX'], 'Prefix of every Redis key and channel tailnetd uses (one per deployment).', z.string().min(1).max(64).default('tailnetd:')),
  opt('shardHeartbeatMs', 'shard-heartbeat-interval', ['TAILNETD_SHARD_HEARTBEAT_MS'], 'Coordinator shard heartbeat period (ms); 3 missed beats mark a replica lost and fence a replica cut off from Redis.', durationMs.min(100).default(2000)),
  opt('derpRelayUrl', 'derp-relay-url', ['TAILNETD_DERP_RELAY_URL', 'CODER_DERP_SERVER_RELAY_URL'], 'URL other replicas reach this replica\'s DERP relay at (announced in Redis for meshing).', z.string().url().optional()),
  opt('derpMeshWith', 'derp-mesh-with', ['TAILNETD_DERP_MESH_WITH'], 'Comma-separated DERP URLs to mesh with in addition to the replicas found in Redis.', z.string().default('')),
  opt('stunAddress', 'stun-address', ['TAILNETD_STUN_ADDRESS'], 'UDP host:port of the STUN responder; empty turns it off.', z.union([z.literal(''), hostPort]).default('127.0.0.1:3478')),
];

/** Subsystem fragments with their own schema; flags derive from their env names. */
export interface SectionDef {
  key: 'identity' | 'derpMap';
  schema: z.ZodType;
  env: Record<string, string>;
  /** Coder's env names where the meaning is identical. */
  coderAliases: Record<string, string>;
}

export const sectionDefs: SectionDef[] = [
  { key: 'identity', schema: identityConfigSchema, env: IDENTITY_ENV, coderAliases: {} },
  {
    key: 'derpMap',
    schema: derpMapConfigSchema,
    env: derpMapConfigEnv,
    coderAliases: {
      serverEnable: 'CODER_DERP_SERVER_ENABLE',
      regionId: 'CODER_DERP_SERVER_REGION_ID',
      regionCode: 'CODER_DERP_SERVER_REGION_CODE',
      regionName: 'CODER_DERP_SERVER_REGION_NAME',
      stunAddresses: 'CODER_DERP_SERVER_STUN_ADDRESSES',
      configUrl: 'CODER_DERP_CONFIG_URL',
      configPath: 'CODER_DERP_CONFIG_PATH',
      disableStun: 'CODER_BLOCK_DIRECT',
      forceWebsockets: 'CODER_DERP_FORCE_WEBSOCKETS',
    },
  },
];

/** --flag name of a section field: its env name without the prefix, kebab-cased. */
export function sectionFlag(envName: string): string {
  return envName.replace(/^TAILNETD_/, '').toLowerCase().replace(/_/g, '-');
}

export type OptionKey = (typeof optionDefs)[number]['key'];

export const configSchema = z.object(Object.fromEntries(optionDefs.map((d) => [d.key, d.schema])));

export interface ServerConfig {
  httpAddress: string;
  accessUrl?: string;
  dataDir: string;
  postgresUrl?: string;
  postgresSchema?: string;
  prometheusEnable: boolean;
  prometheusAddress: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';
  replicaId?: string;
  agentUpdateFrequencyMs: number;
  agentInactiveDisconnectTimeoutMs?: number;
  agentStatsRefreshIntervalMs: number;
  agentFallbackTroubleshootingUrl: string;
  wildcardAccessUrl: string;
  shutdownGraceMs: number;
  apiRateLimit: number;
  readCacheTtlMs: number;
  resumeTokenKey?: string;
  derpMeshKey?: string;
  redisUrl?: string;
  redisCluster: boolean;
  redisPrefix: string;
  shardHeartbeatMs: number;
  derpRelayUrl?: string;
  derpMeshWith: string;
  derpVerifyClients: boolean;
  identity: IdentityConfig;
  derpMap: DerpMapConfig;
  stunAddress: string;
}
