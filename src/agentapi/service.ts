/**
 * coder.agent.v2.Agent for one authenticated agent connection (tailnet-v2.md §4.3),
 * writing the same store rows and publishing the same pubsub channels as the
 * REST routes in src/api/routes/agent-me.ts.
 *
 * Handler errors become dRPC Error packets (code 0, the message as text). Every
 * RPC of API 2.10 is served: sub-agents in subagents.ts, app statuses in
 * app-status.ts, context snapshots in context-state.ts, boundary logs in boundary.ts.
 */
import type { Logger } from 'pino';
import type { Pubsub } from '../pubsub/pubsub.js';
import type { Store } from '../store/index.js';
import type { Clock } from '../util/clock.js';
import type { AgentServiceImpl } from '../rpc/services/agent.js';
import * as ap from '../rpc/proto/agent.js';
import type { Timestamp } from '../rpc/proto/google.js';
import { durationFromMillis } from '../rpc/proto/google.js';
import { uuidFromBytes } from '../rpc/convert/uuid.js';
import { nowIso } from '../store/ids.js';
import { isSemver, workspaceChannel } from '../api/routes/agent-me.js';
import { appendAgentLogs } from './logs.js';
import { buildManifest, startupScriptIds, type ManifestOptions } from './manifest.js';
import type { DERPMap as JsonDERPMap } from '../derpmap/types.js';
import { agentApiExtras } from '../store/agent-api-extras.js';
import { createSubAgent, deleteSubAgent, listSubAgents } from './subagents.js';
import { APP_STATUS_STATES, updateAppStatus, type AppStatusState } from './app-status.js';
import { validateContextPush } from './context-state.js';
import { emitBoundaryLogs, validateBoundaryLogs } from './boundary.js';

export const METADATA_KEYS_LIMIT = 6144;
export const METADATA_VALUE_LIMIT = 2048;

export function metadataChannel(agentId: string): string {
  return `workspace_agent_metadata:${agentId}`;
}

export interface AgentApiDeps {
  store: Store;
  pubsub: Pubsub;
  clock: Clock;
  logger: Logger;
  accessUrl: URL;
  wildcardAccessUrl: string;
  statsIntervalMs: number;
  derpMap: () => JsonDERPMap;
  disableDirectConnections: boolean;
  derpForceWebsockets: boolean;
  /** Per-agent cap on total log output (default 1 MiB). */
  maxLogsLength?: number;
  /** DeleteSubAgent succeeded: close this replica's live connections of that agent. */
  onSubAgentDeleted?: (agentId: string) => void;
}

export interface AgentIdentity {
  agentId: string;
  workspaceId: string;
  /** Negotiated `version` query parameter, stored as api_version by UpdateStartup. */
  apiVersion: string;
}

const LIFECYCLE_NAMES: Record<number, string> = {
  [ap.LifecycleState.CREATED]: 'created',
  [ap.LifecycleState.STARTING]: 'starting',
  [ap.LifecycleState.START_TIMEOUT]: 'start_timeout',
  [ap.LifecycleState.START_ERROR]: 'start_error',
  [ap.LifecycleState.READY]: 'ready',
  [ap.LifecycleState.SHUTTING_DOWN]: 'shutting_down',
  [ap.LifecycleState.SHUTDOWN_TIMEOUT]: 'shutdown_timeout',
  [ap.LifecycleState.SHUTDOWN_ERROR]: 'shutdown_error',
  [ap.LifecycleState.OFF]: 'off',
};
const SUBSYSTEMS: Record<number, string> = { [ap.Subsystem.ENVBOX]: 'envbox', [ap.Subsystem.ENVBUILDER]: 'envbuilder', [ap.Subsystem.EXECTRACE]: 'exectrace' };
const LOG_LEVELS: Record<number, string> = {
  [ap.LogLevel.LEVEL_UNSPECIFIED]: 'info',
  [ap.LogLevel.TRACE]: 'trace',
  [ap.LogLevel.DEBUG]: 'debug',
  [ap.LogLevel.INFO]: 'info',
  [ap.LogLevel.WARN]: 'warn',
  [ap.LogLevel.ERROR]: 'error',
};
const APP_HEALTH: Record<number, string> = {
  [ap.AppHealth.DISABLED]: 'disabled',
  [ap.AppHealth.INITIALIZING]: 'initializing',
  [ap.AppHealth.HEALTHY]: 'healthy',
  [ap.AppHealth.UNHEALTHY]: 'unhealthy',
};
const STAGES: Record<number, string> = { [ap.TimingStage.START]: 'start', [ap.TimingStage.STOP]: 'stop', [ap.TimingStage.CRON]: 'cron' };
const STATUSES: Record<number, string> = {
  [ap.TimingStatus.OK]: 'ok',
  [ap.TimingStatus.EXIT_FAILURE]: 'exit_failure',
  [ap.TimingStatus.TIMED_OUT]: 'timed_out',
  [ap.TimingStatus.PIPES_LEFT_OPEN]: 'pipes_left_open',
};
const CONN_ACTIONS: Record<number, string> = { [ap.ConnectionAction.CONNECT]: 'connect', [ap.ConnectionAction.DISCONNECT]: 'disconnect' };
const CONN_TYPES: Record<number, string> = {
  [ap.ConnectionType.SSH]: 'ssh',
  [ap.ConnectionType.VSCODE]: 'vscode',
  [ap.ConnectionType.JETBRAINS]: 'jetbrains',
  [ap.ConnectionType.RECONNECTING_PTY]: 'reconnecting_pty',
};

function tsToIso(ts: Timestamp | undefined, fallbackMs: number): string {
  if (!ts || (ts.seconds === 0 && ts.nanos === 0)) return nowIso(fallbackMs);
  return nowIso(ts.seconds * 1000 + Math.floor(ts.nanos / 1e6));
}

function isoToTs(iso: string): Timestamp {
  const ms = Date.parse(iso);
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

function idText(b: Uint8Array, what: string): string {
  if (b.length !== 16) throw new Error(`parse ${what}: invalid UUID (got ${b.length} bytes)`);
  return uuidFromBytes(b);
}

export function createAgentService(deps: AgentApiDeps, who: AgentIdentity): AgentServiceImpl {
  const { store, pubsub, clock } = deps;
  const { agentId, workspaceId } = who;
  const publishWorkspace = (): void => pubsub.publish(workspaceChannel(workspaceId), '');
  const manifestOpts = (): ManifestOptions => ({
    accessUrl: deps.accessUrl,
    wildcardAccessUrl: deps.wildcardAccessUrl,
    derpMap: deps.derpMap(),
    disableDirectConnections: deps.disableDirectConnections,
    derpForceWebsockets: deps.derpForceWebsockets,
  });

  return {
    async getManifest() {
      const ctx = await store.agents.context(agentId);
      if (!ctx) throw new Error('get workspace agent: not found');
      return buildManifest(store, ctx, manifestOpts());
    },

    getServiceBanner() {
      return { enabled: false, message: '', backgroundColor: '' };
    },

    getAnnouncementBanners() {
      return { announcementBanners: [] };
    },

    async updateStats(req) {
      const res = { reportInterval: durationFromMillis(deps.statsIntervalMs) };
      const s = req.stats;
      if (!s) return res;
      const workspace = await store.workspaces.byId(workspaceId);
      if (!workspace) throw new Error('get workspace: not found');
      let sessions = 0;
      for (const v of s.sessionCounts.values()) sessions += v;
      if (s.sessionCounts.size === 0) sessions = s.sessionCountSsh + s.sessionCountVscode + s.sessionCountJetbrains + s.sessionCountReconnectingPty;
      // Activity bump only when someone is using the workspace; best effort, as in coderd.
      if (sessions > 0 && workspace.ttl_ms) {
        await store.workspaces.bumpDeadline(workspace.id).catch((e: unknown) => deps.logger.warn({ err: String(e), workspace_id: workspace.id }, 'activity bump failed'));
      }
      await store.stats.insert({
        agentId,
        workspaceId,
        userId: workspace.owner_id,
        connectionsByProto: Object.fromEntries(s.connectionsByProto),
        connectionCount: s.connectionCount,
        rxPackets: s.rxPackets,
        rxBytes: s.rxBytes,
        txPackets: s.txPackets,
        txBytes: s.txBytes,
      });
      return res;
    },

    async updateLifecycle(req) {
      const lc = req.lifecycle;
      const state = lc ? LIFECYCLE_NAMES[lc.state] : undefined;
      if (!lc || state === undefined) throw new Error(`unknown lifecycle state ${lc?.state ?? 0}`);
      const changedAt = tsToIso(lc.changedAt, clock.now());
      await store.agents.setLifecycle(agentId, state);
      await store.agentRuntime.recordLifecycle(agentId, state, changedAt);
      publishWorkspace();
      return { state: lc.state, changedAt: isoToTs(changedAt) };
    },

    async batchUpdateAppHealths(req) {
      if (req.updates.length === 0) return {};
      const apps = await store.agents.apps(agentId);
      const byId = new Map(apps.map((a) => [a.id, a]));
      const changes: { id: string; health: string }[] = [];
      for (const u of req.updates) {
        const id = idText(u.id, 'app id');
        const app = byId.get(id);
        if (!app) throw new Error(`workspace app ${id} not found`);
        if (!app.healthcheck_url) throw new Error(`workspace app ${id} does not have healthchecks enabled`);
        const health = APP_HEALTH[u.health];
        if (health === undefined) throw new Error(`unknown health status: ${u.health}`);
        if (app.health !== health) changes.push({ id, health });
      }
      if (changes.length === 0) return {};
      await store.agents.setAppHealths(agentId, changes);
      publishWorkspace();
      return {};
    },

    async updateStartup(req) {
      const s = req.startup;
      if (!s) throw new Error('missing startup');
      if (!isSemver(s.version)) throw new Error(`invalid agent semver version: "${s.version}"`);
      const subsystems = new Set<string>();
      for (const v of s.subsystems) {
        const name = SUBSYSTEMS[v];
        if (name === undefined) throw new Error(`invalid agent subsystem: ${v}`);
        subsystems.add(name);
      }
      await store.agents.setStartup(agentId, s.version, s.expandedDirectory);
      await store.agentRuntime.setStartup(agentId, [...subsystems].sort(), who.apiVersion);
      return s;
    },

    async batchUpdateMetadata(req) {
      const collectedAt = nowIso(clock.now()); // agent clocks are not trusted
      let keysLength = 0;
      const values = req.metadata.map((m) => {
        keysLength += Buffer.byteLength(m.key);
        let value = m.result?.value ?? '';
        let error = m.result?.error ?? '';
        const vlen = Buffer.byteLength(value);
        if (vlen > METADATA_VALUE_LIMIT) {
          value = Buffer.from(value).subarray(0, METADATA_VALUE_LIMIT).toString('utf8');
          error = `${error}value of ${vlen} bytes exceeded ${METADATA_VALUE_LIMIT} bytes`;
        }
        const elen = Buffer.byteLength(error);
        if (elen > METADATA_VALUE_LIMIT) error = `error of ${elen} bytes exceeded ${METADATA_VALUE_LIMIT} bytes`;
        return { key: m.key, value, error, collected_at: collectedAt };
      });
      await store.agentRuntime.upsertMetadata(agentId, values);
      pubsub.publish(metadataChannel(agentId), JSON.stringify({ collected_at: collectedAt, keys: values.map((v) => v.key) }));
      if (keysLength > METADATA_KEYS_LIMIT) throw new Error(`metadata keys of ${keysLength} bytes exceeded ${METADATA_KEYS_LIMIT} bytes`);
      return {};
    },

    async batchCreateLogs(req) {
      const sourceId = req.logSourceId.length === 0 ? null : idText(req.logSourceId, 'log source id');
      const now = clock.now();
      const logs = req.logs.map((l) => {
        const level = LOG_LEVELS[l.level];
        if (level === undefined) throw new Error(`unknown log level: ${l.level}`);
        return { createdAt: tsToIso(l.createdAt, now), output: l.output, level };
      });
      const ok = await appendAgentLogs(deps, { id: agentId, workspaceId }, sourceId, logs);
      return { logLimitExceeded: !ok };
    },

    async scriptCompleted(req) {
      const t = req.timing;
      if (!t) throw new Error('missing timing');
      const scriptId = idText(t.scriptId, 'script id');
      const agent = await store.agents.byId(agentId);
      if (!agent?.startup_script || startupScriptIds(agentId).scriptId !== scriptId) throw new Error(`script ${scriptId} not found`);
      const stage = STAGES[t.stage];
      const status = STATUSES[t.status];
      if (stage === undefined || status === undefined) throw new Error(`unknown timing stage ${t.stage} or status ${t.status}`);
      const now = clock.now();
      await store.agentRuntime.insertScriptTiming(agentId, { scriptId, stage, status, exitCode: t.exitCode, startedAt: tsToIso(t.start, now), endedAt: tsToIso(t.end, now) });
      return {};
    },

    getResourcesMonitoringConfiguration() {
      return { config: { numDatapoints: 20, collectionIntervalSeconds: 10 }, volumes: [] };
    },

    pushResourcesMonitoringUsage() {
      return {};
    },

    async reportConnection(req) {
      const c = req.connection;
      if (!c) throw new Error('missing connection');
      const id = idText(c.id, 'connection id');
      await store.agentRuntime.insertConnectionLog(agentId, {
        id,
        action: CONN_ACTIONS[c.action] ?? 'unspecified',
        type: CONN_TYPES[c.type] ?? 'unspecified',
        ip: c.ip === 'localhost' ? '127.0.0.1' : c.ip,
        statusCode: c.statusCode,
        reason: c.reason ?? null,
        at: tsToIso(c.timestamp, clock.now()),
      });
      return {};
    },

    createSubAgent(req) {
      return createSubAgent(deps, agentId, req);
    },

    listSubAgents() {
      return listSubAgents(deps, agentId);
    },

    deleteSubAgent(req) {
      return deleteSubAgent(deps, agentId, req);
    },

    reportBoundaryLogs(req) {
      validateBoundaryLogs(req);
      emitBoundaryLogs(deps.logger, { agentId, workspaceId }, req);
      return {};
    },

    async updateAppStatus(req) {
      const state: AppStatusState | null = APP_STATUS_STATES[req.state] ?? null;
      await updateAppStatus({ ...deps, publishWorkspace: () => publishWorkspace() }, { id: agentId, workspaceId }, { slug: req.slug, state, raw: String(req.state), message: req.message, uri: req.uri });
      return {};
    },

    async pushContextState(req) {
      const v = validateContextPush(req);
      const accepted = await agentApiExtras(store, clock).agentContext.push(agentId, {
        version: v.version,
        initial: req.initial,
        aggregateHash: v.aggregateHash,
        snapshotError: req.snapshotError,
        resources: v.resources,
      });
      return { accepted };
    },
  };
}
