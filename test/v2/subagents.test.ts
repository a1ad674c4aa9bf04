/**
 * The Agent API RPCs after 2.4 over a real /me/rpc WebSocket on both store engines:
 * CreateSubAgent / ListSubAgents / DeleteSubAgent (2.6, `id` 2.8), ReportBoundaryLogs (2.7),
 * UpdateAppStatus (2.8) with PATCH /me/app-status and its read route, PushContextState (2.10).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ap from '../../src/rpc/proto/agent.js';
import { jsonToStruct } from '../../src/rpc/proto/google.js';
import { subAgentAppSlug } from '../../src/agentapi/subagents.js';
import { emitBoundaryLogs } from '../../src/agentapi/boundary.js';
import { pino } from 'pino';
import { agentApiExtras } from '../../src/store/agent-api-extras.js';
import { BACKENDS } from '../helpers/backends.js';
import { HttpRejection, RpcCallError, RpcClient } from './client.js';
import { idBytes, idText } from './fixtures.js';
import { startV2TestServer, type V2TestServer } from './server.js';

const M = ap.AgentMethods;
const BOUNDARY_LOG: ap.BoundaryLog = { allowed: true, time: { seconds: 1_700_000_000, nanos: 0 }, httpRequest: { method: 'GET', url: 'https://api.github.com/', matchedRule: 'domain=github.com' }, sequenceNumber: 0 };
const RPC = '/api/v2/workspaceagents/me/rpc';

/** The token bytes of a SubAgent as the Go agent reads them (uuid.FromBytes → String). */
const tokenText = (b: Uint8Array): string => idText(b);

describe.each(BACKENDS)('sub-agents, app statuses and context state over /me/rpc (%s)', (backend) => {
  let s: V2TestServer;
  let owner: { id: string; username: string; key: string };
  beforeAll(async () => {
    s = await startV2TestServer({ backend, env: { TAILNETD_AGENT_CONNECTION_UPDATE_FREQUENCY_MS: '200' } });
    owner = await s.user();
  });
  afterAll(async () => {
    await s.stop();
  });

  const dial = (token: string, version = '2.10') => RpcClient.dial(s.url, RPC, { token, query: { version } });
  const setup = async (spec: Record<string, unknown> = {}) => {
    const b = await s.workspace(owner.username, [{ name: 'main', ...spec }, { name: 'other' }]);
    const agent = b.agents[0]!;
    const rpc = await dial(agent.token!);
    return { b, agent, other: b.agents[1]!, rpc };
  };
  const create = (rpc: RpcClient, req: Partial<ap.CreateSubAgentRequest>) =>
    rpc.unary(M.CreateSubAgent, ap.CreateSubAgentRequest, ap.CreateSubAgentResponse, {
      name: 'dev', directory: '/workspaces/proj', architecture: 'amd64', operatingSystem: 'linux', apps: [], displayApps: [], ...req,
    });
  const list = (rpc: RpcClient) => rpc.unary(M.ListSubAgents, ap.ListSubAgentsRequest, ap.ListSubAgentsResponse, {});
  const del = (rpc: RpcClient, id: Uint8Array) => rpc.unary(M.DeleteSubAgent, ap.DeleteSubAgentRequest, ap.DeleteSubAgentResponse, { id });
  const rpcError = async (p: Promise<unknown>): Promise<RpcCallError> => {
    try {
      await p;
    } catch (e) {
      if (e instanceof RpcCallError) return e;
      throw e;
    }
    throw new Error('expected the call to fail');
  };

  it('CreateSubAgent makes a child agent that connects with its own token; its manifest names the parent', async () => {
    const { b, agent, rpc } = await setup();
    const res = await create(rpc, {
      displayApps: [ap.DisplayApp.VSCODE, ap.DisplayApp.WEB_TERMINAL],
      apps: [
        { slug: 'code-server', displayName: 'VS Code', url: 'http://localhost:13337', healthcheck: { url: 'http://localhost:13337/healthz', interval: 5, threshold: 6 }, share: ap.SubAgentAppShare.AUTHENTICATED },
        { slug: 'vim', command: 'vim', openIn: ap.SubAgentAppOpenIn.TAB },
      ],
    });
    expect(res.appCreationErrors).toEqual([]);
    expect(res.agent!.name).toBe('dev');
    expect(res.agent!.id.length).toBe(16);
    expect(res.agent!.authToken.length).toBe(16);
    const childId = idText(res.agent!.id);

    const row = await s.app.store.agents.byId(childId);
    expect(row).toMatchObject({ parent_id: agent.id, build_id: b.build_id, workspace_id: b.workspace_id, directory: '/workspaces/proj', architecture: 'amd64', operating_system: 'linux' });
    expect(JSON.parse(row!.display_apps!)).toEqual(['vscode', 'web_terminal']);
    const parentRow = await s.app.store.agents.byId(agent.id);
    expect(row!.resource_id).toBe(parentRow!.resource_id);
    expect(parentRow!.parent_id).toBeNull();

    const child = await dial(tokenText(res.agent!.authToken));
    const m = await child.unary(M.GetManifest, ap.GetManifestRequest, ap.Manifest, {});
    expect(idText(m.agentId)).toBe(childId);
    expect(m.agentName).toBe('dev');
    expect(m.directory).toBe('/workspaces/proj');
    expect(m.parentId && idText(m.parentId)).toBe(agent.id);
    expect(idText(m.workspaceId)).toBe(b.workspace_id);
    const slugs = m.apps.map((a) => a.slug).sort();
    expect(slugs).toEqual([subAgentAppSlug('dev', 'code-server'), subAgentAppSlug('dev', 'vim')].sort());
    // Cross-checked with Python: base32hex(sha256("dev/code-server"))[:8].lower()
    expect(subAgentAppSlug('dev', 'code-server')).toBe('gjrhlerq-code-server');
    const cs = m.apps.find((a) => a.slug.endsWith('-code-server'))!;
    expect(cs).toMatchObject({ displayName: 'VS Code', url: 'http://localhost:13337', sharingLevel: ap.SharingLevel.AUTHENTICATED, health: ap.AppHealth.INITIALIZING });
    expect(cs.healthcheck).toMatchObject({ url: 'http://localhost:13337/healthz', threshold: 6, interval: { seconds: 5, nanos: 0 } });
    // GET /{agent} shows the parent and the dev container's display apps.
    const view = (await (await s.request(`/api/v2/workspaceagents/${childId}`, { token: owner.key })).json()) as { parent_id: string | null; display_apps: string[]; name: string };
    expect(view).toMatchObject({ name: 'dev', parent_id: agent.id, display_apps: ['vscode', 'web_terminal'] });
    const parentView = (await (await s.request(`/api/v2/workspaceagents/${agent.id}`, { token: owner.key })).json()) as { parent_id: string | null; display_apps: string[] };
    expect(parentView).toMatchObject({ parent_id: null, display_apps: ['vscode', 'web_terminal', 'ssh_helper', 'port_forwarding_helper'] });
    // The parent's own manifest has no parent.
    const pm = await rpc.unary(M.GetManifest, ap.GetManifestRequest, ap.Manifest, {});
    expect(pm.parentId).toBeUndefined();
    child.close();
    rpc.close();
  });

  it('CreateSubAgent reports bad apps one by one and still creates the agent; bad names and display apps fail the call', async () => {
    const { rpc } = await setup();
    const res = await create(rpc, {
      name: 'apps',
      apps: [
        { slug: 'ok' },
        { slug: '' },
        { slug: 'Bad_Slug' },
        { slug: 'ok' },
        { slug: 'shared', share: 9 },
        { slug: 'window', openIn: 7 },
      ],
    });
    expect(res.appCreationErrors).toEqual([
      { index: 1, field: 'slug', error: 'must not be empty' },
      { index: 2, field: 'slug', error: '"Bad_Slug" does not match regex "^[a-z0-9](-?[a-z0-9])*$"' },
      { index: 3, field: 'slug', error: '"ok" is already in use' },
      { index: 4, field: 'share', error: '"9" is not a valid app sharing level' },
      { index: 5, field: 'open_in', error: '"7" is not an open in setting' },
    ]);
    const apps = await s.app.store.agents.apps(idText(res.agent!.id));
    expect(apps.map((a) => a.slug)).toEqual([subAgentAppSlug('apps', 'ok')]);

    expect((await rpcError(create(rpc, { name: '' }))).message).toBe('field: name detail: agent name cannot be empty');
    expect((await rpcError(create(rpc, { name: 'no_underscores' }))).message).toBe('field: name detail: agent name "no_underscores" does not match regex "(?i)^[a-z0-9](-?[a-z0-9])*$"');
    expect((await rpcError(create(rpc, { name: 'fine', displayApps: [ap.DisplayApp.SSH_HELPER, 42] }))).message).toBe('field: display_apps[1] detail: "42" is not a valid display app');
    // Nothing was created by the failed calls.
    expect((await list(rpc)).agents.map((a) => a.name)).toEqual(['apps']);
    rpc.close();
  });

  it('ListSubAgents returns only the caller\'s children (ids, names; tokens are never shown again)', async () => {
    const { other, rpc } = await setup();
    const a = await create(rpc, { name: 'one' });
    const c = await create(rpc, { name: 'two' });
    const otherRpc = await dial(other.token!);
    await create(otherRpc, { name: 'theirs' });
    const mine = await list(rpc);
    expect(mine.agents.map((x) => x.name)).toEqual(['one', 'two']);
    expect(mine.agents.map((x) => idText(x.id))).toEqual([idText(a.agent!.id), idText(c.agent!.id)]);
    // 16 bytes so the Go agent's uuid.FromBytes accepts it; all zero because only a hash is stored.
    for (const x of mine.agents) expect([...x.authToken]).toEqual(new Array(16).fill(0));
    expect((await list(otherRpc)).agents.map((x) => x.name)).toEqual(['theirs']);
    // A child has no children of its own.
    const child = await dial(tokenText(a.agent!.authToken));
    expect((await list(child)).agents).toEqual([]);
    child.close();
    otherRpc.close();
    rpc.close();
  });

  it('CreateSubAgent with an id updates my child (display apps, directory) and hands out a fresh token', async () => {
    const { other, rpc } = await setup();
    const first = await create(rpc, { name: 'pre', directory: '/old', displayApps: [ap.DisplayApp.VSCODE] });
    const id = idText(first.agent!.id);
    const again = await create(rpc, { id: first.agent!.id, name: 'ignored', directory: '/new', displayApps: [ap.DisplayApp.PORT_FORWARDING_HELPER] });
    expect(again.agent!.name).toBe('pre');
    expect(idText(again.agent!.id)).toBe(id);
    expect(tokenText(again.agent!.authToken)).not.toBe(tokenText(first.agent!.authToken));
    const row = await s.app.store.agents.byId(id);
    expect(row).toMatchObject({ name: 'pre', directory: '/new' });
    expect(JSON.parse(row!.display_apps!)).toEqual(['port_forwarding_helper']);
    // Empty directory keeps the stored one.
    await create(rpc, { id: first.agent!.id, directory: '' });
    expect((await s.app.store.agents.byId(id))!.directory).toBe('/new');
    // The old token no longer authenticates; the new one does.
    const oldErr = await dial(tokenText(first.agent!.authToken)).then(
      (c) => {
        c.close();
        return null;
      },
      (e: unknown) => e,
    );
    expect(oldErr).toBeInstanceOf(HttpRejection);
    expect((oldErr as HttpRejection).status).toBe(401);
    const latest = await create(rpc, { id: first.agent!.id });
    const child = await dial(tokenText(latest.agent!.authToken));
    expect(idText((await child.unary(M.GetManifest, ap.GetManifestRequest, ap.Manifest, {})).agentId)).toBe(id);
    child.close();

    const otherRpc = await dial(other.token!);
    expect((await rpcError(create(otherRpc, { id: first.agent!.id }))).message).toBe('subagent does not belong to this parent agent');
    expect((await rpcError(create(rpc, { id: idBytes(randomUUID()) }))).message).toBe('get workspace agent by id: sql: no rows in result set');
    expect((await rpcError(create(rpc, { id: new Uint8Array(3) }))).message).toBe('parse agent id: invalid UUID (got 3 bytes)');
    otherRpc.close();
    rpc.close();
  });

  it('DeleteSubAgent: only my children; deleting invalidates the token and closes the child\'s connection', async () => {
    const { other, rpc } = await setup();
    const res = await create(rpc, { name: 'gone', apps: [{ slug: 'web', url: 'http://localhost:1' }] });
    const id = idText(res.agent!.id);
    const child = await dial(tokenText(res.agent!.authToken));
    await child.unary(M.GetManifest, ap.GetManifestRequest, ap.Manifest, {});
    await child.unary(M.BatchCreateLogs, ap.BatchCreateLogsRequest, ap.BatchCreateLogsResponse, { logSourceId: new Uint8Array(0), logs: [{ output: 'hi', level: ap.LogLevel.INFO }] });
    await child.unary(M.UpdateAppStatus, ap.UpdateAppStatusRequest, ap.UpdateAppStatusResponse, { slug: subAgentAppSlug('gone', 'web'), state: ap.AppStatusState.IDLE, message: '', uri: '' });
    expect(await s.app.store.agentLogs.list(id, 0)).toHaveLength(1);
    // A side connection (tools using the agent token) has no connection monitor: only the
    // delete itself can close it.
    const side = await RpcClient.dial(s.url, RPC, { token: tokenText(res.agent!.authToken), query: { version: '2.10', role: 'tooling' } });
    await side.unary(M.GetManifest, ap.GetManifestRequest, ap.Manifest, {});

    const otherRpc = await dial(other.token!);
    expect((await rpcError(del(otherRpc, res.agent!.id))).message).toBe('unauthorized: forbidden');
    // Not a sub-agent at all (a provisioned sibling): also not mine to delete.
    expect((await rpcError(del(rpc, idBytes(other.id)))).message).toBe('unauthorized: forbidden');
    expect((await rpcError(del(rpc, idBytes(randomUUID())))).message).toBe('sql: no rows in result set');
    expect((await rpcError(del(rpc, new Uint8Array(5)))).message).toBe('invalid UUID (got 5 bytes)');
    expect(await s.app.store.agents.byId(id)).toBeDefined();

    await del(rpc, res.agent!.id);
    expect(await s.app.store.agents.byId(id)).toBeUndefined();
    expect(await s.app.store.agents.apps(id)).toEqual([]);
    expect(await s.app.store.agentLogs.list(id, 0)).toEqual([]);
    expect(await agentApiExtras(s.app.store, s.app.clock).appStatuses.byAgent(id)).toEqual([]);
    expect((await list(rpc)).agents).toEqual([]);
    // The live connection is closed by the same path that kicks agents of a superseded build.
    const closed = await child.closed;
    expect(closed.code).toBe(1001);
    expect(await side.closed).toEqual({ code: 1001, reason: 'workspace agent deleted' });
    const again = await dial(tokenText(res.agent!.authToken)).then(
      (c) => {
        c.close();
        return null;
      },
      (e: unknown) => e,
    );
    expect(again).toBeInstanceOf(HttpRejection);
    expect((again as HttpRejection).status).toBe(401);
    expect((await rpcError(del(rpc, res.agent!.id))).message).toBe('sql: no rows in result set');
    otherRpc.close();
    rpc.close();
  });

  it('UpdateAppStatus stores statuses of my apps (read back over REST) and validates slug, state, message and uri', async () => {
    const { agent, rpc } = await setup({ apps: [{ slug: 'claude', url: 'http://localhost:3284' }] });
    const upd = (req: Partial<ap.UpdateAppStatusRequest>) =>
      rpc.unary(M.UpdateAppStatus, ap.UpdateAppStatusRequest, ap.UpdateAppStatusResponse, { slug: 'claude', state: ap.AppStatusState.WORKING, message: '', uri: '', ...req });
    await upd({ message: 'Reading\u0007 the\n\ncode', uri: 'https://example.com/pr/1' });
    await upd({ state: ap.AppStatusState.COMPLETE, message: 'done' });

    const e1 = await rpcError(upd({ slug: 'nope' }));
    expect(e1.message).toBe('unexpected status code 400: Failed to get workspace app.\n\tError: No app found with slug "nope"');
    const e2 = await rpcError(upd({ message: 'x'.repeat(161) }));
    expect(e2.message).toBe('unexpected status code 400: Message is too long.\n\tError: Message must be less than 160 characters.\n\tmessage: Message must be less than 160 characters.');
    await upd({ message: 'y'.repeat(160), state: ap.AppStatusState.IDLE });
    const e3 = await rpcError(upd({ state: 7 }));
    expect(e3.message).toBe('unexpected status code 400: Invalid state provided.\n\tError: invalid state: "7"\n\tstate: State must be one of: complete, failure, working, idle.');
    const e4 = await rpcError(upd({ uri: 'not a uri' }));
    expect(e4.message).toMatch(/^unexpected status code 400: Invalid URI provided\./);

    const r = await s.request(`/api/v2/workspaceagents/${agent.id}/app-statuses`, { token: owner.key });
    expect(r.status).toBe(200);
    const rows = (await r.json()) as { state: string; message: string; uri: string; agent_id: string; app_id: string }[];
    expect(rows.map((x) => x.state)).toEqual(['idle', 'complete', 'working']);
    expect(rows[2]).toMatchObject({ message: 'Reading the code', uri: 'https://example.com/pr/1', agent_id: agent.id, app_id: agent.apps[0]!.id });
    expect(rows[1]!.uri).toBe('');
    // Another user cannot read them.
    const stranger = await s.user();
    expect((await s.request(`/api/v2/workspaceagents/${agent.id}/app-statuses`, { token: stranger.key })).status).toBe(404);
    rpc.close();
  });

  it('PATCH /me/app-status is the REST twin with the same rules', async () => {
    const b = await s.workspace(owner.username, [{ name: 'main', apps: [{ slug: 'aider', command: 'aider' }] }]);
    const agent = b.agents[0]!;
    const patch = (body: unknown) =>
      s.request('/api/v2/workspaceagents/me/app-status', { method: 'PATCH', token: agent.token!, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const ok = await patch({ app_slug: 'aider', state: 'failure', message: 'tests failed', uri: 'file:///tmp/log' });
    expect(ok.status).toBe(200);
    const bad = await patch({ app_slug: 'aider', state: 'sleeping', message: '' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({
      message: 'Invalid state provided.',
      detail: 'invalid state: "sleeping"',
      validations: [{ field: 'state', detail: 'State must be one of: complete, failure, working, idle.' }],
    });
    const missing = await patch({ app_slug: 'zed', state: 'idle' });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ message: 'Failed to get workspace app.', detail: 'No app found with slug "zed"' });
    expect((await patch({ app_slug: 'aider', state: 'idle', message: 'z'.repeat(200) })).status).toBe(400);
    expect((await s.request('/api/v2/workspaceagents/me/app-status', { method: 'PATCH', body: '{}' })).status).toBe(401);
    const rows = await agentApiExtras(s.app.store, s.app.clock).appStatuses.byAgent(agent.id);
    expect(rows.map((r) => [r.state, r.message, r.uri])).toEqual([['failure', 'tests failed', 'file:///tmp/log']]);
  });

  it('PushContextState keeps the latest snapshot; replays are not accepted; junk is rejected', async () => {
    const { agent, rpc } = await setup();
    const push = (req: Partial<ap.PushContextStateRequest>) =>
      rpc.unary(M.PushContextState, ap.PushContextStateRequest, ap.PushContextStateResponse, { version: 1n, aggregateHash: new Uint8Array(32).fill(1), resources: [], initial: false, snapshotError: '', ...req });
    const resources: ap.ContextResource[] = [
      { source: '/home/coder/AGENTS.md', contentHash: new Uint8Array(32).fill(2), sizeBytes: 5n, status: ap.ContextResourceStatus.OK, error: '', instructionFile: { content: new TextEncoder().encode('hello') } },
      {
        source: 'github', sourcePath: '/home/coder/.mcp.json', contentHash: new Uint8Array(0), sizeBytes: 0n, status: ap.ContextResourceStatus.OK, error: '',
        mcpServer: { serverName: 'github', description: 'GitHub', tools: [{ name: 'search', description: 'Search code', inputSchema: jsonToStruct({ type: 'object', properties: { q: { type: 'string' } }, required: ['q'] }) }] },
      },
    ];
    expect(await push({ version: 1n, initial: true, resources })).toEqual({ accepted: true });
    const ctx = agentApiExtras(s.app.store, s.app.clock).agentContext;
    const stored = await ctx.latest(agent.id);
    expect(stored!.version).toBe(1n);
    expect(stored!.aggregate_hash).toBe('01'.repeat(32));
    expect(stored!.resources).toEqual([
      { source: '/home/coder/AGENTS.md', source_path: '', kind: 'instruction_file', body: { content: Buffer.from('hello').toString('base64') }, content_hash: '02'.repeat(32), size_bytes: 5, status: 'ok', error: '' },
      {
        source: 'github', source_path: '/home/coder/.mcp.json', kind: 'mcp_server', content_hash: '', size_bytes: 0, status: 'ok', error: '',
        body: { server_name: 'github', description: 'GitHub', tools: [{ name: 'search', description: 'Search code', input_schema: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] } }] },
      },
    ]);
    // Replay and stale resend leave it alone.
    expect(await push({ version: 1n })).toEqual({ accepted: false });
    expect(await push({ version: 3n, snapshotError: 'watcher degraded' })).toEqual({ accepted: true });
    expect(await push({ version: 2n })).toEqual({ accepted: false });
    expect((await ctx.latest(agent.id))!).toMatchObject({ version: 3n, snapshot_error: 'watcher degraded', resources: [] });
    // A restarted agent process starts counting again.
    expect(await push({ version: 1n, initial: true })).toEqual({ accepted: true });
    expect((await ctx.latest(agent.id))!.version).toBe(1n);

    const noBody: ap.ContextResource = { source: 'x', contentHash: new Uint8Array(0), sizeBytes: 0n, status: ap.ContextResourceStatus.OK, error: '' };
    expect((await rpcError(push({ version: 9n, resources: [noBody] }))).message).toMatch(/missing body variant/);
    expect((await rpcError(push({ version: 9n, resources: [resources[0]!, resources[0]!] }))).message).toMatch(/duplicate source/);
    expect((await rpcError(push({ version: 9n, resources: [{ ...resources[0]!, status: 0 }] }))).message).toMatch(/unknown status 0/);
    expect((await rpcError(push({ version: 9n, resources: [{ ...resources[0]!, source: '' }] }))).message).toMatch(/empty source/);
    expect((await rpcError(push({ version: 1n << 63n }))).message).toMatch(/exceeds int64 range/);
    expect((await rpcError(push({ version: 9n, aggregateHash: new Uint8Array(65) }))).message).toMatch(/aggregate hash/);
    expect((await ctx.latest(agent.id))!.version).toBe(1n);
    rpc.close();
  });

  it('ReportBoundaryLogs accepts what coderd accepts and refuses batches over 1000', async () => {
    const { rpc } = await setup();
    const report = (req: Partial<ap.ReportBoundaryLogsRequest>) =>
      rpc.unary(M.ReportBoundaryLogs, ap.ReportBoundaryLogsRequest, ap.ReportBoundaryLogsResponse, { logs: [], sessionId: randomUUID(), confinedProcessName: 'claude-code', ...req });
    expect(await report({ logs: [BOUNDARY_LOG, { ...BOUNDARY_LOG, allowed: false, sequenceNumber: 1 }] })).toEqual({});
    expect(await report({ logs: [BOUNDARY_LOG], sessionId: '' })).toEqual({}); // 2.7 boundary sends no session id
    // Entries without a resource or time are skipped / logged with a zero time, not fatal (as coderd).
    expect(await report({ logs: [{ allowed: true, sequenceNumber: 0 }] })).toEqual({});
    expect((await rpcError(report({ logs: new Array(1001).fill(BOUNDARY_LOG) as ap.BoundaryLog[] }))).message).toBe('batch size 1001 exceeds maximum of 1000');
    rpc.close();
  });
});

describe('boundary log re-emission', () => {
  it('writes one boundary_request line per valid entry, matched_rule only when allowed; skips junk', () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    const ids = { agentId: randomUUID(), workspaceId: randomUUID() };
    const session = randomUUID();
    const n = emitBoundaryLogs(logger, ids, {
      sessionId: session,
      confinedProcessName: 'codex',
      logs: [
        BOUNDARY_LOG,
        { allowed: false, time: { seconds: 1_700_000_001, nanos: 5_000_000 }, httpRequest: { method: 'POST', url: 'https://evil.example/', matchedRule: 'x' }, sequenceNumber: 1 },
        { allowed: true, sequenceNumber: 2 },
        { allowed: true, httpRequest: { method: 'GET', url: 'u'.repeat(9000), matchedRule: '' }, sequenceNumber: 3 },
        { allowed: true, httpRequest: { method: 'GET', url: 'https://no-time/', matchedRule: 'r' }, sequenceNumber: 4 },
      ],
    });
    expect(n).toBe(3);
    const reqs = lines.filter((l) => l['msg'] === 'boundary_request');
    expect(reqs.map((l) => [l['decision'], l['http_url'], l['event_time'], l['matched_rule']])).toEqual([
      ['allow', 'https://api.github.com/', '2023-11-14T22:13:20.000Z', 'domain=github.com'],
      ['deny', 'https://evil.example/', '2023-11-14T22:13:21.005Z', undefined],
      ['allow', 'https://no-time/', '0001-01-01T00:00:00Z', 'r'],
    ]);
    expect(reqs[0]).toMatchObject({ workspace_id: ids.workspaceId, agent_id: ids.agentId, session_id: session, confined_process: 'codex', http_method: 'GET', sequence_number: 0 });
    expect(lines.filter((l) => l['level'] === 40).map((l) => l['msg'])).toEqual(['empty http request resource', 'boundary log over the field size caps skipped']);
  });
});

describe('sub-agent deleted through another replica (postgres, shared store)', () => {
  let a: V2TestServer;
  let b: V2TestServer;
  beforeAll(async () => {
    a = await startV2TestServer({ backend: 'postgres', env: { TAILNETD_AGENT_CONNECTION_UPDATE_FREQUENCY_MS: '200' } });
    b = await startV2TestServer({ backend: 'postgres', joinBackend: a.backend, env: { TAILNETD_AGENT_CONNECTION_UPDATE_FREQUENCY_MS: '200' } });
  });
  afterAll(async () => {
    await b.stop();
    await a.stop();
  });

  it('the child connected to replica B is closed by B\'s connection monitor; its token stops working there', async () => {
    const owner = await a.user();
    const build = await a.workspace(owner.username, [{ name: 'main' }]);
    const parent = await RpcClient.dial(a.url, RPC, { token: build.agents[0]!.token!, query: { version: '2.10' } });
    const res = await parent.unary(M.CreateSubAgent, ap.CreateSubAgentRequest, ap.CreateSubAgentResponse, {
      name: 'dev', directory: '/w', architecture: 'arm64', operatingSystem: 'linux', apps: [], displayApps: [],
    });
    const token = idText(res.agent!.authToken);
    const child = await RpcClient.dial(b.url, RPC, { token, query: { version: '2.10' } });
    expect(idText((await child.unary(M.GetManifest, ap.GetManifestRequest, ap.Manifest, {})).parentId!)).toBe(build.agents[0]!.id);
    await parent.unary(M.DeleteSubAgent, ap.DeleteSubAgentRequest, ap.DeleteSubAgentResponse, { id: res.agent!.id });
    // Replica A holds no connection of the child; B notices the row is gone like a superseded build.
    expect(await child.closed).toEqual({ code: 1001, reason: 'build is outdated' });
    const again = await RpcClient.dial(b.url, RPC, { token, query: { version: '2.10' } }).then(
      (c) => {
        c.close();
        return null;
      },
      (e: unknown) => e,
    );
    expect((again as HttpRejection).status).toBe(401);
    parent.close();
  });
});
