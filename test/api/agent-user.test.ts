/**
 * User-side agent routes (§2.11, §2.12) and the status derivation of §3, driven by store
 * timestamps and an injected ManualClock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { ManualClock } from '../../src/util/clock.js';
import { okJson } from './util.js';
import { workspaceAgentSchema } from '../../src/api/schemas.js';

/** The body matches the documented WorkspaceAgent schema and carries no undocumented field. */
const conformsToSchema = (body: Record<string, unknown>) => {
  workspaceAgentSchema.parse(body);
  expect(Object.keys(body).filter((k) => !(k in workspaceAgentSchema.shape))).toEqual([]);
};

const FALLBACK = 'https://coder.com/docs/coder-oss/latest/templates#troubleshooting-templates';
const iso = (ms: number) => new Date(ms).toISOString();

describe.each(BACKENDS)('GET /workspaceagents/{agent} (%s)', (backend) => {
  let s: TestServer;
  const start = Date.UTC(2023, 2, 1, 12);
  const clock = new ManualClock(start);
  let owner: { id: string; username: string; key: string };

  beforeAll(async () => {
    s = await startTestServer({ backend, clock });
    owner = await s.user();
  });
  afterAll(async () => {
    await s.stop();
  });

  const get = async (id: string) => okJson<Record<string, unknown>>(await s.request(`/api/v2/workspaceagents/${id}`, { token: owner.key }));
  const setTimes = (id: string, first: number | null, last: number | null, disc: number | null) =>
    s.app.store.agents.setConnection(id, {
      first_connected_at: first === null ? null : iso(first),
      last_connected_at: last === null ? null : iso(last),
      disconnected_at: disc === null ? null : iso(disc),
      replicaId: 'r',
    });

  it('a fresh agent: every field, omitempty fields left out, status connecting, fallback troubleshooting URL', async () => {
    const b = await s.workspace(owner.username, [{ name: 'main' }]);
    const a = b.agents[0]!;
    const body = await get(a.id);
    expect(body).toEqual({
      id: a.id,
      parent_id: null,
      created_at: iso(clock.now()).replace('.000Z', 'Z'),
      updated_at: iso(clock.now()).replace('.000Z', 'Z'),
      status: 'connecting',
      lifecycle_state: 'created',
      name: 'main',
      resource_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      architecture: 'amd64',
      environment_variables: null,
      operating_system: 'linux',
      logs_length: 0,
      logs_overflowed: false,
      version: '',
      api_version: '',
      apps: [],
      connection_timeout_seconds: 120,
      troubleshooting_url: FALLBACK,
      login_before_ready: true,
      startup_script_timeout_seconds: 300,
      subsystems: [],
      health: { healthy: false, reason: 'agent has not yet connected' },
      display_apps: ['vscode', 'web_terminal', 'ssh_helper', 'port_forwarding_helper'],
      log_sources: [],
      scripts: [],
      startup_script_behavior: 'non-blocking',
    });
  });

  it('optional fields appear when set; own troubleshooting URL wins', async () => {
    const b = await s.workspace(owner.username, [
      {
        name: 'full',
        auth: 'aws-instance-identity',
        instance_id: 'i-abc',
        startup_script: 'run',
        directory: '/src',
        env: { A: 'b' },
        troubleshooting_url: 'https://help.example.com',
        login_before_ready: false,
        apps: [{ slug: 'web', url: 'http://localhost:1' }],
      },
    ]);
    const a = b.agents[0]!;
    await s.app.store.agents.setStartup(a.id, 'v0.19.0', '/home/coder/src');
    const body = await get(a.id);
    expect(body).toMatchObject({
      instance_id: 'i-abc',
      startup_script: 'run',
      directory: '/src',
      expanded_directory: '/home/coder/src',
      version: 'v0.19.0',
      environment_variables: { A: 'b' },
      troubleshooting_url: 'https://help.example.com',
      login_before_ready: false,
    });
    expect((body['apps'] as { slug: string; health: string }[]).map((x) => [x.slug, x.health])).toEqual([['web', 'disabled']]);
    expect(body).not.toHaveProperty('latency');
  });

  it('current Coder fields: what the agent reported over the v2 API (runtime, logs, sources) and the startup script as a coder_script', async () => {
    const b = await s.workspace(owner.username, [{ name: 'v2', startup_script: 'echo hi', startup_script_timeout_seconds: 60, login_before_ready: false, apps: [{ slug: 'web', url: 'http://localhost:1' }] }]);
    const a = b.agents[0]!;
    const before = await get(a.id);
    conformsToSchema(before);
    expect(before['scripts']).toEqual([
      {
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        log_source_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        log_path: 'coder-startup-script.log',
        script: 'echo hi',
        cron: '',
        run_on_start: true,
        run_on_stop: false,
        start_blocks_login: true,
        timeout: 60_000_000_000,
        display_name: 'Startup Script',
      },
    ]);
    expect(before['startup_script_behavior']).toBe('blocking');
    const scriptSource = (before['scripts'] as { log_source_id: string }[])[0]!.log_source_id;
    expect(before['log_sources']).toEqual([{ workspace_agent_id: a.id, id: scriptSource, created_at: before['created_at'], display_name: 'Startup Script', icon: '' }]);
    expect((before['apps'] as Record<string, unknown>[])[0]).toMatchObject({ slug: 'web', hidden: false, open_in: 'slim-window', statuses: [] });

    // What a current agent reports: startup (api version, subsystems), lifecycle, logs. Each
    // write must show at once (the read cache is invalidated by the writer).
    const t0 = clock.now();
    await s.app.store.agentRuntime.setStartup(a.id, ['envbox', 'exectrace'], '2.4');
    await s.app.store.agentRuntime.recordLifecycle(a.id, 'starting', iso(t0));
    await s.app.store.agentRuntime.recordLifecycle(a.id, 'ready', iso(t0 + 1500));
    const other = '0b3f6a8e-5d2c-4e1a-9f7b-2c8d4e6f8a10';
    await s.app.store.agentLogs.ensureSource(a.id, { id: other, displayName: 'Other', icon: '/icon/x.svg' });
    await s.app.store.agentLogs.insert(a.id, other, [{ createdAt: iso(t0), output: 'hello', level: 'info' }, { createdAt: iso(t0), output: 'world!', level: 'info' }]);
    const after = await get(a.id);
    conformsToSchema(after);
    expect(after).toMatchObject({
      api_version: '2.4',
      subsystems: ['envbox', 'exectrace'],
      started_at: iso(t0).replace('.000Z', 'Z'),
      ready_at: iso(t0 + 1500).replace(/\.?0+Z$/, 'Z'),
      logs_length: 11,
      logs_overflowed: false,
    });
    expect((after['log_sources'] as { id: string; display_name: string; icon: string }[]).map((x) => [x.id, x.display_name, x.icon])).toEqual([
      [scriptSource, 'Startup Script', ''],
      [other, 'Other', '/icon/x.svg'],
    ]);
    // An app status (PATCH /me/app-status) shows under its app at once.
    const patched = await s.request('/api/v2/workspaceagents/me/app-status', {
      method: 'PATCH',
      token: a.token!,
      body: JSON.stringify({ app_slug: 'web', state: 'working', message: 'building', uri: 'https://example.com/run/1' }),
    });
    expect(patched.status).toBeLessThan(300);
    const withStatus = await get(a.id);
    conformsToSchema(withStatus);
    expect((withStatus['apps'] as { statuses: Record<string, unknown>[] }[])[0]!.statuses).toEqual([
      expect.objectContaining({ agent_id: a.id, state: 'working', message: 'building', uri: 'https://example.com/run/1' }),
    ]);
    // Overflow: a batch that would pass the cap flips the flag and shows.
    await s.app.store.agentLogs.insert(a.id, other, [{ createdAt: iso(t0), output: 'x', level: 'info' }], 11);
    expect((await get(a.id))['logs_overflowed']).toBe(true);
  });

  it('health follows status and lifecycle with the current Coder reasons', async () => {
    const b = await s.workspace(owner.username, [{ name: 'h' }]);
    const id = b.agents[0]!.id;
    const t0 = clock.now();
    await setTimes(id, t0, t0, null);
    expect((await get(id))['health']).toEqual({ healthy: true });
    await s.app.store.agents.setLifecycle(id, 'start_error');
    expect((await get(id))['health']).toEqual({ healthy: false, reason: 'agent startup script exited with an error' });
    await s.app.store.agents.setLifecycle(id, 'shutting_down');
    expect((await get(id))['health']).toEqual({ healthy: false, reason: 'agent is shutting down' });
    await s.app.store.agents.setLifecycle(id, 'off');
    expect((await get(id))['health']).toEqual({ healthy: false, reason: 'agent is shutting down' }); // connected + off
    clock.advance(60_000);
    expect((await get(id))['health']).toEqual({ healthy: false, reason: 'agent is not running' });
    await s.app.store.agents.setLifecycle(id, 'ready');
    expect((await get(id))['health']).toEqual({ healthy: false, reason: 'agent has lost connection' });
  });

  it('answers served from memory (repeat requests) equal the first answers: owner 200, stranger 404, expiry 401, key refresh still written', async () => {
    const b = await s.workspace(owner.username, [{ name: 'cached' }]);
    const id = b.agents[0]!.id;
    const stranger = await s.user();
    const first = await (await s.request(`/api/v2/workspaceagents/${id}`, { token: owner.key })).text();
    for (let i = 0; i < 3; i++) {
      const res = await s.request(`/api/v2/workspaceagents/${id}`, { token: owner.key });
      expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(first)));
      expect(await res.text()).toBe(first);
      const denied = await s.request(`/api/v2/workspaceagents/${id}`, { token: stranger.key });
      expect(denied.status).toBe(404);
      await denied.arrayBuffer();
    }
    // An hour later the key's last_used must be refreshed (a write): the memory path steps aside.
    const keyId = owner.key.split('-')[0]!;
    const before = (await s.app.store.users.apiKeyWithUser(keyId))!.key.last_used;
    clock.advance(3_600_001);
    expect((await s.request(`/api/v2/workspaceagents/${id}`, { token: owner.key })).status).toBe(200);
    expect((await s.app.store.users.apiKeyWithUser(keyId))!.key.last_used).not.toBe(before);
    // Expired while its verification is still cached: 401, not the cached body.
    const u = await s.user();
    const b2 = await s.workspace(u.username, [{ name: 'exp' }]);
    expect((await s.request(`/api/v2/workspaceagents/${b2.agents[0]!.id}`, { token: u.key })).status).toBe(200);
    await s.app.store.users.touchApiKey(u.key.split('-')[0]!, { expires_at: new Date(clock.now() - 1).toISOString() });
    s.app.store.cache.verifiedTokens.set(u.key, (await s.app.store.users.apiKeyWithUser(u.key.split('-')[0]!))!);
    expect((await s.request(`/api/v2/workspaceagents/${b2.agents[0]!.id}`, { token: u.key })).status).toBe(401);
  });

  it('connecting → timeout after connection_timeout_seconds without a first connection; 0 never times out', async () => {
    const b = await s.workspace(owner.username, [{ name: 'slow', connection_timeout_seconds: 10 }, { name: 'patient', connection_timeout_seconds: 0 }]);
    const slow = b.agents[0]!;
    const patient = b.agents[1]!;
    clock.advance(10_000);
    expect((await get(slow.id))['status']).toBe('connecting'); // exactly the timeout: not yet
    clock.advance(1);
    expect((await get(slow.id))['status']).toBe('timeout');
    clock.advance(3_600_000);
    expect((await get(patient.id))['status']).toBe('connecting');
  });

  it('connected, then disconnected by inactivity with disconnected_at = last_connected_at (row unchanged)', async () => {
    const b = await s.workspace(owner.username, [{ name: 'live' }]);
    const id = b.agents[0]!.id;
    const t0 = clock.now();
    await setTimes(id, t0, t0, null);
    let body = await get(id);
    expect(body).toMatchObject({ status: 'connected', first_connected_at: iso(t0).replace('.000Z', 'Z'), last_connected_at: iso(t0).replace('.000Z', 'Z') });
    expect(body).not.toHaveProperty('disconnected_at');
    clock.advance(6_000); // inactive timeout (2 × 3 s): not exceeded yet
    expect((await get(id))['status']).toBe('connected');
    clock.advance(1);
    body = await get(id);
    expect(body['status']).toBe('disconnected');
    expect(body['disconnected_at']).toBe(body['last_connected_at']);
    expect((await s.app.store.agents.byId(id))!.disconnected_at).toBeNull();
  });

  it('disconnected_at after last_connected_at → disconnected; equal timestamps still count as connected (2023 rule)', async () => {
    const b = await s.workspace(owner.username, [{ name: 'gone' }]);
    const id = b.agents[0]!.id;
    const t0 = clock.now();
    await setTimes(id, t0 - 2000, t0 - 1000, t0 - 500);
    let body = await get(id);
    expect(body).toMatchObject({ status: 'disconnected', disconnected_at: iso(t0 - 500).replace(/\.?0+Z$/, 'Z') });
    await setTimes(id, t0 - 2000, t0 - 1000, t0 - 1000);
    body = await get(id);
    expect(body['status']).toBe('connected');
    // Reconnected after a disconnect.
    await setTimes(id, t0 - 2000, t0, t0 - 1000);
    expect((await get(id))['status']).toBe('connected');
  });

  it('timestamps are RFC 3339 like Go prints them (fraction without trailing zeros)', async () => {
    const b = await s.workspace(owner.username, [{ name: 'ts' }]);
    const id = b.agents[0]!.id;
    const t = clock.now() + 120;
    await setTimes(id, t, t, null);
    const body = await get(id);
    expect(body['first_connected_at']).toBe(iso(t).replace('.120Z', '.12Z'));
  });

  it('API key side effects: last_used/ip refreshed after an hour; expiry slides once an hour of lifetime has passed', async () => {
    const u = await s.user();
    const b = await s.workspace(u.username, [{ name: 'keys' }]);
    const keyId = u.key.split('-')[0]!;
    const before = (await s.app.store.users.apiKeyWithUser(keyId))!.key;
    clock.advance(30 * 60_000);
    await okJson(await s.request(`/api/v2/workspaceagents/${b.agents[0]!.id}`, { token: u.key }));
    expect((await s.app.store.users.apiKeyWithUser(keyId))!.key).toMatchObject({ last_used: before.last_used, expires_at: before.expires_at, ip_address: '' });
    clock.advance(31 * 60_000);
    await okJson(await s.request(`/api/v2/workspaceagents/${b.agents[0]!.id}`, { token: u.key }));
    const after = (await s.app.store.users.apiKeyWithUser(keyId))!.key;
    expect(after.last_used).toBe(iso(clock.now()));
    expect(after.ip_address).toMatch(/127\.0\.0\.1$/);
    expect(after.expires_at).toBe(iso(clock.now() + Number(after.lifetime_seconds) * 1000));
  });

  it('GET /connection returns the same DERP map as the agent metadata', async () => {
    const b = await s.workspace(owner.username, [{ name: 'conn' }]);
    const a = b.agents[0]!;
    const conn = await okJson<{ derp_map: unknown }>(await s.request(`/api/v2/workspaceagents/${a.id}/connection`, { token: owner.key }));
    const meta = await okJson<{ derpmap: unknown }>(await s.request('/api/v2/workspaceagents/me/metadata', { token: a.token! }));
    // derp_map as in 2023, plus the two flags current clients read (old clients ignore them).
    expect(conn).toMatchObject({ derp_force_websockets: false, disable_direct_connections: false });
    expect(Object.keys(conn)).toEqual(['derp_map', 'derp_force_websockets', 'disable_direct_connections']);
    expect(conn.derp_map).toEqual(meta.derpmap);
    expect((conn.derp_map as { Regions: Record<string, unknown> }).Regions['999']).toBeTruthy();
  });
});
