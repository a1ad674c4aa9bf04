/**
 * The Agent service over a real /me/rpc WebSocket against both store engines
 * (tailnet-v2.md §7.2 cases 4, 27–35): manifest fields, stats, lifecycle,
 * startup, metadata limits, logs (external source, cap), app health,
 * resources config, connection reports, script timings, the REST read side
 * and the connection monitor.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as ap from '../../src/rpc/proto/agent.js';
import { BACKENDS } from '../helpers/backends.js';
import { eventually } from '../coordinator/helpers.js';
import { RpcCallError, RpcClient } from './client.js';
import { idBytes, idText } from './fixtures.js';
import { startV2TestServer, type V2TestServer } from './server.js';

const M = ap.AgentMethods;
const RPC = '/api/v2/workspaceagents/me/rpc';

describe.each(BACKENDS)('agent service over /me/rpc (%s)', (backend) => {
  let s: V2TestServer;
  let owner: { id: string; username: string; key: string };
  beforeAll(async () => {
    s = await startV2TestServer({ backend, env: { TAILNETD_AGENT_CONNECTION_UPDATE_FREQUENCY_MS: '200' } });
    owner = await s.user();
  });
  afterAll(async () => {
    await s.stop();
  });

  const setup = async (spec: Record<string, unknown> = {}) => {
    const b = await s.workspace(owner.username, [{ name: 'main', ...spec }]);
    const agent = b.agents[0]!;
    const rpc = await RpcClient.dial(s.url, RPC, { token: agent.token!, query: { version: '2.4' } });
    return { b, agent, rpc };
  };
  const call = <Req, Res>(rpc: RpcClient, m: string, req: { encode(v: Req): Uint8Array }, res: { decode(b: Uint8Array): Res }, body: Req) =>
    rpc.unary(m, req as never, res as never, body) as Promise<Res>;

  it('GetManifest carries every field the Go agent needs', async () => {
    const { b, agent, rpc } = await setup({
      env: { FOO: 'bar' },
      directory: '/home/coder',
      motd_file: '/etc/motd',
      startup_script: 'echo hi',
      apps: [
        { slug: 'web', url: 'http://localhost:8080', healthcheck: { url: 'http://localhost:8080/healthz', interval: 5, threshold: 3 } },
        { slug: 'term', command: 'bash', sharing_level: 'authenticated' },
      ],
    });
    const m = await rpc.unary(M.GetManifest, ap.GetManifestRequest, ap.Manifest, {});
    expect(idText(m.agentId)).toBe(agent.id);
    expect(idText(m.workspaceId)).toBe(b.workspace_id);
    expect(m.agentName).toBe('main');
    expect(m.ownerUsername).toBe(owner.username);
    expect(m.directory).toBe('/home/coder');
    expect(m.motdPath).toBe('/etc/motd');
    expect(m.environmentVariables.get('FOO')).toBe('bar');
    expect(m.derpMap?.homeParams).toBeDefined();
    expect(m.derpMap!.regions.size).toBeGreaterThan(0);
    const web = m.apps.find((a) => a.slug === 'web')!;
    expect(web.id.length).toBe(16);
    expect(web.sharingLevel).toBe(ap.SharingLevel.OWNER);
    expect(web.health).toBe(ap.AppHealth.INITIALIZING);
    expect(web.healthcheck).toMatchObject({ url: 'http://localhost:8080/healthz', threshold: 3, interval: { seconds: 5, nanos: 0 } });
    const term = m.apps.find((a) => a.slug === 'term')!;
    expect(term.sharingLevel).toBe(ap.SharingLevel.AUTHENTICATED);
    expect(term.health).toBe(ap.AppHealth.DISABLED);
    expect(term.healthcheck).toBeDefined();
    expect(m.scripts).toHaveLength(1);
    expect(m.scripts[0]!.script).toBe('echo hi');
    expect(m.scripts[0]!.runOnStart).toBe(true);
    expect(m.scripts[0]!.logSourceId.length).toBe(16);
    expect(m.scripts[0]!.id.length).toBe(16);
    // The script's log source exists, so its logs can be sent right away.
    const src = idText(m.scripts[0]!.logSourceId);
    const r = await rpc.unary(M.BatchCreateLogs, ap.BatchCreateLogsRequest, ap.BatchCreateLogsResponse, {
      logSourceId: m.scripts[0]!.logSourceId,
      logs: [{ output: 'hello', level: ap.LogLevel.INFO, createdAt: { seconds: 1_700_000_000, nanos: 0 } }],
    });
    expect(r.logLimitExceeded).toBe(false);
    const sources = (await (await s.request(`/api/v2/workspaceagents/${agent.id}/log-sources`, { token: owner.key })).json()) as { id: string; display_name: string }[];
    expect(sources).toContainEqual(expect.objectContaining({ id: src, display_name: 'Startup Script' }));
    // ScriptCompleted: known script ok, unknown script rejected.
    await rpc.unary(M.ScriptCompleted, ap.WorkspaceAgentScriptCompletedRequest, ap.WorkspaceAgentScriptCompletedResponse, {
      timing: { scriptId: m.scripts[0]!.id, start: { seconds: 1_700_000_000, nanos: 0 }, end: { seconds: 1_700_000_005, nanos: 0 }, exitCode: 0, stage: ap.TimingStage.START, status: ap.TimingStatus.OK },
    });
    const timings = await s.app.store.agentRuntime.scriptTimings(agent.id);
    expect(timings).toHaveLength(1);
    expect(timings[0]).toMatchObject({ stage: 'start', status: 'ok', exit_code: 0 });
    await expect(
      rpc.unary(M.ScriptCompleted, ap.WorkspaceAgentScriptCompletedRequest, ap.WorkspaceAgentScriptCompletedResponse, {
        timing: { scriptId: idBytes(randomUUID()), exitCode: 0, stage: 0, status: 0 },
      }),
    ).rejects.toBeInstanceOf(RpcCallError);
    rpc.close();
  });

  it('UpdateStats: empty request learns report_interval > 0; stats are stored', async () => {
    const { agent, rpc } = await setup();
    const first = await rpc.unary(M.UpdateStats, ap.UpdateStatsRequest, ap.UpdateStatsResponse, {});
    expect(first.reportInterval!.seconds).toBe(30);
    await rpc.unary(M.UpdateStats, ap.UpdateStatsRequest, ap.UpdateStatsResponse, {
      stats: {
        connectionsByProto: new Map([['TCP', 1]]), connectionCount: 1, connectionMedianLatencyMs: 1, rxPackets: 10, rxBytes: 1200, txPackets: 8, txBytes: 900,
        sessionCountVscode: 0, sessionCountJetbrains: 0, sessionCountReconnectingPty: 0, sessionCountSsh: 1, metrics: [], sessionCounts: new Map(),
      },
    });
    await eventually(async () => (await s.app.store.stats.latest(agent.id)).length > 0, 'stats row');
    const row = (await s.app.store.stats.latest(agent.id))[0]!;
    expect(Number(row.rx_bytes)).toBe(1200);
    rpc.close();
  });

  it('UpdateLifecycle: STARTING then READY set the timestamps; UNSPECIFIED is rejected; zero changed_at is now', async () => {
    const { agent, rpc } = await setup();
    const t0 = { seconds: 1_700_000_000, nanos: 0 };
    const r1 = await rpc.unary(M.UpdateLifecycle, ap.UpdateLifecycleRequest, ap.Lifecycle, { lifecycle: { state: ap.LifecycleState.STARTING, changedAt: t0 } });
    expect(r1).toEqual({ state: ap.LifecycleState.STARTING, changedAt: t0 });
    const before = Date.now();
    const r2 = await rpc.unary(M.UpdateLifecycle, ap.UpdateLifecycleRequest, ap.Lifecycle, { lifecycle: { state: ap.LifecycleState.READY } });
    expect(r2.changedAt!.seconds * 1000).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    const rt = await s.app.store.agentRuntime.get(agent.id);
    expect(rt!.started_at).toBe('2023-11-14T22:13:20.000Z');
    expect(rt!.ready_at).not.toBeNull();
    expect((await s.app.store.agents.byId(agent.id))!.lifecycle_state).toBe('ready');
    await expect(rpc.unary(M.UpdateLifecycle, ap.UpdateLifecycleRequest, ap.Lifecycle, { lifecycle: { state: 0 } })).rejects.toBeInstanceOf(RpcCallError);
    await expect(rpc.unary(M.UpdateLifecycle, ap.UpdateLifecycleRequest, ap.Lifecycle, { lifecycle: { state: 42 } })).rejects.toBeInstanceOf(RpcCallError);
    rpc.close();
  });

  it('UpdateStartup: semver with v, subsystems sorted and de-duplicated, api_version stored', async () => {
    const { agent, rpc } = await setup();
    const S = ap.Subsystem;
    const startup = { version: 'v2.20.0', expandedDirectory: '/home/coder', subsystems: [S.EXECTRACE, S.ENVBOX, S.ENVBOX] };
    expect(await rpc.unary(M.UpdateStartup, ap.UpdateStartupRequest, ap.Startup, { startup })).toEqual(startup);
    const a = await s.app.store.agents.byId(agent.id);
    expect(a!.version).toBe('v2.20.0');
    expect(a!.expanded_directory).toBe('/home/coder');
    expect(await s.app.store.agentRuntime.get(agent.id)).toMatchObject({ subsystems: ['envbox', 'exectrace'], api_version: '2.4' });
    const bad = await rpc.unary(M.UpdateStartup, ap.UpdateStartupRequest, ap.Startup, { startup: { ...startup, version: '2.20.0' } }).catch((e: unknown) => e);
    expect((bad as RpcCallError).message).toBe('invalid agent semver version: "2.20.0"');
    await expect(rpc.unary(M.UpdateStartup, ap.UpdateStartupRequest, ap.Startup, { startup: { ...startup, subsystems: [9] } })).rejects.toBeInstanceOf(RpcCallError);
    rpc.close();
  });

  it('BatchUpdateMetadata: long values truncated with an error; too many key bytes is an error after the write; server time stamps', async () => {
    const { agent, rpc } = await setup();
    const long = 'x'.repeat(2049);
    await rpc.unary(M.BatchUpdateMetadata, ap.BatchUpdateMetadataRequest, ap.BatchUpdateMetadataResponse, {
      metadata: [{ key: 'big', result: { collectedAt: { seconds: 1, nanos: 0 }, age: 0, value: long, error: '' } }],
    });
    const rows = (await (await s.request(`/api/v2/workspaceagents/${agent.id}/metadata`, { token: owner.key })).json()) as { result: { value: string; error: string; collected_at: string }; description: { key: string } }[];
    expect(rows).toHaveLength(1);
    expect(rows[0]!.result.value).toHaveLength(2048);
    expect(rows[0]!.result.error).toBe('value of 2049 bytes exceeded 2048 bytes');
    expect(Date.parse(rows[0]!.result.collected_at)).toBeGreaterThan(Date.now() - 60_000);
    const many = Array.from({ length: 7 }, (_, i) => ({ key: `${i}`.padEnd(1000, 'k'), result: { age: 0, value: 'v', error: '' } }));
    const err = await rpc.unary(M.BatchUpdateMetadata, ap.BatchUpdateMetadataRequest, ap.BatchUpdateMetadataResponse, { metadata: many }).catch((e: unknown) => e);
    expect((err as RpcCallError).message).toBe('metadata keys of 7000 bytes exceeded 6144 bytes');
    expect(await s.app.store.agentRuntime.metadata(agent.id)).toHaveLength(8);
    rpc.close();
  });

  it('provisioned metadata: descriptions in the manifest; the read side lists declared keys in display order (unreported ones empty, Go zero time) before undeclared ones', async () => {
    const { agent, rpc } = await setup({
      metadata: [
        { key: 'load', display_name: 'Load', script: 'cat /proc/loadavg', interval: 10, timeout: 2, order: 2 },
        { key: 'disk', display_name: 'Disk', script: 'df -h /', interval: 60, order: 1 },
      ],
    });
    const m = await rpc.unary(M.GetManifest, ap.GetManifestRequest, ap.Manifest, {});
    expect(m.metadata.map((d) => [d.key, d.displayName, d.script, d.interval, d.timeout])).toEqual([
      ['disk', 'Disk', 'df -h /', { seconds: 60, nanos: 0 }, { seconds: 0, nanos: 0 }],
      ['load', 'Load', 'cat /proc/loadavg', { seconds: 10, nanos: 0 }, { seconds: 2, nanos: 0 }],
    ]);
    type Row = { result: { value: string; collected_at: string; age: number }; description: { key: string; display_name: string; script: string; interval: number; timeout: number } };
    const read = async () => (await (await s.request(`/api/v2/workspaceagents/${agent.id}/metadata`, { token: owner.key })).json()) as Row[];
    const before = await read();
    expect(before.map((r) => [r.description.key, r.description.display_name, r.description.interval, r.description.timeout, r.result.value, r.result.collected_at])).toEqual([
      ['disk', 'Disk', 60, 0, '', '0001-01-01T00:00:00Z'],
      ['load', 'Load', 10, 2, '', '0001-01-01T00:00:00Z'],
    ]);
    await rpc.unary(M.BatchUpdateMetadata, ap.BatchUpdateMetadataRequest, ap.BatchUpdateMetadataResponse, {
      metadata: [
        { key: 'load', result: { age: 0, value: '0.10 0.20 0.30', error: '' } },
        { key: 'extra', result: { age: 0, value: 'x', error: '' } },
      ],
    });
    const after = await read();
    expect(after.map((r) => [r.description.key, r.result.value])).toEqual([
      ['disk', ''],
      ['load', '0.10 0.20 0.30'],
      ['extra', 'x'],
    ]);
    expect(after[1]!.result.age).toBeLessThan(60);
    rpc.close();
  });

  it('BatchCreateLogs: no source = External; > 256 KiB requests cross yamux windows; over 1 MiB sets log_limit_exceeded, no error', async () => {
    const { agent, rpc } = await setup();
    const line = (n: number) => ({ output: randomBytes(n / 2).toString('hex'), level: ap.LogLevel.LEVEL_UNSPECIFIED, createdAt: { seconds: 1_700_000_000, nanos: 0 } });
    const r1 = await rpc.unary(M.BatchCreateLogs, ap.BatchCreateLogsRequest, ap.BatchCreateLogsResponse, { logSourceId: new Uint8Array(0), logs: Array.from({ length: 250 }, () => line(2000)) });
    expect(r1.logLimitExceeded).toBe(false);
    const logs = (await (await s.request(`/api/v2/workspaceagents/${agent.id}/logs?after=249`, { token: owner.key })).json()) as { id: number; level: string; source_id: string }[];
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ id: 250, level: 'info', source_id: '3b579bf4-1ed8-4b99-87a8-e9a1e3410410' });
    const r2 = await rpc.unary(M.BatchCreateLogs, ap.BatchCreateLogsRequest, ap.BatchCreateLogsResponse, { logSourceId: new Uint8Array(0), logs: Array.from({ length: 250 }, () => line(2000)) });
    expect(r2.logLimitExceeded).toBe(false);
    const r3 = await rpc.unary(M.BatchCreateLogs, ap.BatchCreateLogsRequest, ap.BatchCreateLogsResponse, { logSourceId: new Uint8Array(0), logs: [line(500_000)] });
    expect(r3.logLimitExceeded).toBe(true);
    const r4 = await rpc.unary(M.BatchCreateLogs, ap.BatchCreateLogsRequest, ap.BatchCreateLogsResponse, { logSourceId: new Uint8Array(0), logs: [line(10)] });
    expect(r4.logLimitExceeded).toBe(true);
    const src = (await (await s.request(`/api/v2/workspaceagents/${agent.id}/log-sources`, { token: owner.key })).json()) as { display_name: string; icon: string }[];
    expect(src).toContainEqual(expect.objectContaining({ display_name: 'External', icon: '/emojis/1f310.png' }));
    const other = await s.user();
    expect((await s.request(`/api/v2/workspaceagents/${agent.id}/logs`, { token: other.key })).status).toBe(404);
    rpc.close();
  });

  it('GET /logs?follow streams new lines over a WebSocket as the agent sends them', async () => {
    const { agent, rpc } = await setup();
    const send = (output: string) =>
      rpc.unary(M.BatchCreateLogs, ap.BatchCreateLogsRequest, ap.BatchCreateLogsResponse, { logSourceId: new Uint8Array(0), logs: [{ output, level: ap.LogLevel.WARN }] });
    await send('one');
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}/api/v2/workspaceagents/${agent.id}/logs?follow&after=0`, { headers: { 'Coder-Session-Token': owner.key } });
    const got: { id: number; output: string; level: string }[] = [];
    ws.on('message', (d: Buffer) => got.push(...(JSON.parse(d.toString()) as typeof got)));
    await new Promise((r) => ws.once('open', r));
    await eventually(() => got.length === 1, 'backlog line');
    await send('two');
    await eventually(() => got.length === 2, 'live line');
    expect(got.map((l) => [l.id, l.output, l.level])).toEqual([[1, 'one', 'warn'], [2, 'two', 'warn']]);
    ws.close();
    rpc.close();
  });

  it('REST next to v2: POST /me/log-source and PATCH /me/logs write the same rows; over the cap is 413', async () => {
    const { agent, rpc } = await setup();
    const src = randomUUID();
    const created = await s.request('/api/v2/workspaceagents/me/log-source', { method: 'POST', token: agent.token!, body: JSON.stringify({ id: src, display_name: 'envbuilder', icon: '/icon/x.svg' }) });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ workspace_agent_id: agent.id, id: src, display_name: 'envbuilder', icon: '/icon/x.svg' });
    const patch = (body: unknown) => s.request('/api/v2/workspaceagents/me/logs', { method: 'PATCH', token: agent.token!, body: JSON.stringify(body) });
    expect((await patch({ log_source_id: src, logs: [{ created_at: '2024-01-02T03:04:05Z', output: 'built', level: 'debug' }] })).status).toBe(200);
    expect((await patch({ logs: [] })).status).toBe(400);
    expect((await patch({ logs: [{ output: 'x', level: 'loud' }] })).status).toBe(400);
    const logs = (await (await s.request(`/api/v2/workspaceagents/${agent.id}/logs`, { token: owner.key })).json()) as { output: string; level: string; source_id: string; created_at: string }[];
    expect(logs).toEqual([expect.objectContaining({ output: 'built', level: 'debug', source_id: src, created_at: '2024-01-02T03:04:05.000Z' })]);
    expect((await patch({ logs: [{ output: 'x'.repeat(600_000) }] })).status).toBe(200);
    const over = await patch({ logs: [{ output: 'x'.repeat(600_000) }] });
    expect(over.status).toBe(413);
    expect(await over.json()).toEqual({ message: 'Logs limit exceeded' });
    const r = await rpc.unary(M.BatchCreateLogs, ap.BatchCreateLogsRequest, ap.BatchCreateLogsResponse, { logSourceId: new Uint8Array(0), logs: [{ output: 'y', level: 1 }] });
    expect(r.logLimitExceeded).toBe(true);
    rpc.close();
  });

  it('BatchUpdateAppHealths: unknown app or app without healthcheck is an error; a change is stored', async () => {
    const { b, agent, rpc } = await setup({
      apps: [{ slug: 'web', url: 'http://localhost:8080', healthcheck: { url: 'http://localhost:8080/healthz', interval: 5, threshold: 3 } }, { slug: 'plain', url: 'http://x' }],
    });
    const web = b.agents[0]!.apps.find((a) => a.slug === 'web')!;
    const plain = b.agents[0]!.apps.find((a) => a.slug === 'plain')!;
    const req = (id: string, health: number) => ({ updates: [{ id: idBytes(id), health }] });
    await expect(rpc.unary(M.BatchUpdateAppHealths, ap.BatchUpdateAppHealthRequest, ap.BatchUpdateAppHealthResponse, req(randomUUID(), ap.AppHealth.HEALTHY))).rejects.toBeInstanceOf(RpcCallError);
    await expect(rpc.unary(M.BatchUpdateAppHealths, ap.BatchUpdateAppHealthRequest, ap.BatchUpdateAppHealthResponse, req(plain.id, ap.AppHealth.HEALTHY))).rejects.toBeInstanceOf(RpcCallError);
    await expect(rpc.unary(M.BatchUpdateAppHealths, ap.BatchUpdateAppHealthRequest, ap.BatchUpdateAppHealthResponse, req(web.id, 0))).rejects.toBeInstanceOf(RpcCallError);
    await rpc.unary(M.BatchUpdateAppHealths, ap.BatchUpdateAppHealthRequest, ap.BatchUpdateAppHealthResponse, req(web.id, ap.AppHealth.HEALTHY));
    expect((await s.app.store.agents.apps(agent.id)).find((a) => a.id === web.id)!.health).toBe('healthy');
    rpc.close();
  });

  it('banners, resources config (always with config), ReportConnection, ListSubAgents', async () => {
    const { agent, rpc } = await setup();
    expect(await rpc.unary(M.GetAnnouncementBanners, ap.GetAnnouncementBannersRequest, ap.GetAnnouncementBannersResponse, {})).toEqual({ announcementBanners: [] });
    expect((await rpc.unary(M.GetServiceBanner, ap.GetServiceBannerRequest, ap.ServiceBanner, {})).enabled).toBe(false);
    const cfg = await rpc.unary(M.GetResourcesMonitoringConfiguration, ap.GetResourcesMonitoringConfigurationRequest, ap.GetResourcesMonitoringConfigurationResponse, {});
    expect(cfg.config).toEqual({ numDatapoints: 20, collectionIntervalSeconds: 10 });
    const cid = randomUUID();
    await call(rpc, M.ReportConnection, ap.ReportConnectionRequest, { decode: () => ({}) }, {
      connection: { id: idBytes(cid), action: ap.ConnectionAction.CONNECT, type: ap.ConnectionType.SSH, ip: 'localhost', statusCode: 0, timestamp: { seconds: 1_700_000_000, nanos: 0 } },
    });
    expect(await s.app.store.agentRuntime.connectionLogs(agent.id)).toEqual([expect.objectContaining({ id: cid, action: 'connect', type: 'ssh', ip: '127.0.0.1' })]);
    await expect(call(rpc, M.ReportConnection, ap.ReportConnectionRequest, { decode: () => ({}) }, { connection: { id: new Uint8Array(3), action: 1, type: 1, ip: '', statusCode: 0 } })).rejects.toBeInstanceOf(RpcCallError);
    expect(await rpc.unary(M.ListSubAgents, ap.ListSubAgentsRequest, ap.ListSubAgentsResponse, {})).toEqual({ agents: [] });
    rpc.close();
  });

  it('connection monitor: connected while open; a new build closes the socket with "build is outdated"; disconnected after', async () => {
    const { b, agent, rpc } = await setup();
    const status = async () => ((await (await s.request(`/api/v2/workspaceagents/${agent.id}`, { token: owner.key })).json()) as { status: string }).status;
    await eventually(async () => (await status()) === 'connected', 'agent connected');
    // A side connection (role other than agent) does not touch the status.
    const side = await RpcClient.dial(s.url, RPC, { token: agent.token!, query: { version: '2.8', role: 'tool' } });
    side.close();
    await s.provisioning.createBuild(b.workspace_id, { transition: 'start', agents: [] });
    const closed = await rpc.closed;
    expect(closed).toEqual({ code: 1001, reason: 'build is outdated' });
    await eventually(async () => (await status()) === 'disconnected', 'agent disconnected');
  });
});
