/**
 * Agent-side routes (§2.5, §2.8–2.10, §2.16): metadata, report-stats, app-health, gitsshkey,
 * startup and report-lifecycle, over real HTTP against both store engines.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendName } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { ManualClock } from '../../src/util/clock.js';
import { agentSpecSchema, gitAuthProviderSchema } from '../../src/provisioning/schema.js';
import { expectError, okJson } from './util.js';

const ME = '/api/v2/workspaceagents/me';

interface Metadata {
  git_auth_configs: number;
  vscode_port_proxy_uri: string;
  apps: Record<string, unknown>[];
  derpmap: { Regions: Record<string, { RegionID: number; RegionCode: string; RegionName: string; EmbeddedRelay?: boolean; Nodes: Record<string, unknown>[] }> };
  environment_variables: Record<string, string> | null;
  startup_script: string;
  startup_script_timeout: number;
  directory: string;
  motd_file: string;
}

function post(s: TestServer, path: string, token: string, body: unknown): Promise<Response> {
  return s.request(path, { method: 'POST', token, body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
}

describe.each(BACKENDS)('agent /me routes (%s)', (backend: BackendName) => {
  let s: TestServer;
  const clock = new ManualClock(Date.UTC(2023, 2, 1, 12));
  let owner: { id: string; username: string; key: string };

  beforeAll(async () => {
    s = await startTestServer({ backend, clock });
    owner = await s.user();
  });
  afterAll(async () => {
    await s.stop();
  });

  async function provision(agents: Record<string, unknown>[], ttlMs: number | null = null, name?: string) {
    return s.provisioning.createWorkspace({
      owner: owner.username,
      name: name ?? `w${Math.random().toString(36).slice(2, 8)}`,
      ttl_ms: ttlMs,
      agents: agents.map((a, i) => agentSpecSchema.parse({ name: `agent${i}`, ...a })),
    });
  }

  describe('GET /me/metadata', () => {
    it('returns every field with Go names and units', async () => {
      const b = await provision(
        [
          {
            name: 'main',
            env: { GREETING: 'hi <there>' },
            startup_script: 'echo start',
            startup_script_timeout_seconds: 42,
            directory: '$HOME/src',
            motd_file: '/etc/motd',
            apps: [
              { slug: 'web', display_name: 'Web', url: 'http://localhost:8080', icon: '/icon.svg', subdomain: true, sharing_level: 'authenticated', healthcheck: { url: 'http://localhost:8080/healthz', interval: 5, threshold: 6 } },
              { slug: 'term', command: 'bash -l' },
            ],
          },
        ],
        null,
        'metaws',
      );
      const a = b.agents[0]!;
      const res = await s.request(`${ME}/metadata`, { token: a.token! });
      const text = await res.clone().text();
      expect(text).toContain('hi \\u003cthere\\u003e');
      const m = await okJson<Metadata>(res);
      expect(Object.keys(m).sort()).toEqual(
        ['apps', 'derpmap', 'directory', 'environment_variables', 'git_auth_configs', 'motd_file', 'startup_script', 'startup_script_timeout', 'vscode_port_proxy_uri'].sort(),
      );
      expect(m.environment_variables).toEqual({ GREETING: 'hi <there>' });
      expect(m.startup_script).toBe('echo start');
      expect(m.startup_script_timeout).toBe(42_000_000_000);
      expect(m.directory).toBe('$HOME/src');
      expect(m.motd_file).toBe('/etc/motd');
      expect(m.git_auth_configs).toBe(0);
      const port = new URL(s.url).port;
      // No wildcard hostname and an explicit access-URL port: the quirk value ":<port>".
      expect(m.vscode_port_proxy_uri).toBe(`:${port}`);
      const web = m.apps.find((x) => x['slug'] === 'web')!;
      expect(web).toEqual({
        id: a.apps.find((x) => x.slug === 'web')!.id,
        url: 'http://localhost:8080',
        external: false,
        slug: 'web',
        display_name: 'Web',
        icon: '/icon.svg',
        subdomain: true,
        sharing_level: 'authenticated',
        healthcheck: { url: 'http://localhost:8080/healthz', interval: 5, threshold: 6 },
        health: 'initializing',
      });
      const term = m.apps.find((x) => x['slug'] === 'term')!;
      expect(term).toMatchObject({ command: 'bash -l', health: 'disabled', healthcheck: { url: '', interval: 0, threshold: 0 } });
      expect(term).not.toHaveProperty('icon');
      const region = m.derpmap.Regions['999']!;
      expect(region).toMatchObject({ RegionID: 999, EmbeddedRelay: true });
      expect(typeof region.RegionCode).toBe('string');
      expect(region.Nodes.find((n) => n['Name'] === '999b')).toMatchObject({ RegionID: 999, HostName: '127.0.0.1', DERPPort: Number(port), ForceHTTP: true, STUNPort: -1 });
    });

    it('apps is [] and environment_variables null when none; git_auth_configs counts providers', async () => {
      const b = await provision([{}]);
      await s.app.store.gitauth.addProvider(
        gitAuthProviderSchema.parse({ id: `p${Date.now()}`, type: 'github', client_id: 'c', client_secret: 's', auth_url: 'http://x/a', token_url: 'http://x/t', regex: 'github' }),
      );
      const m = await okJson<Metadata>(await s.request(`${ME}/metadata`, { token: b.agents[0]!.token! }));
      expect(m.apps).toEqual([]);
      expect(m.environment_variables).toBeNull();
      expect(m.git_auth_configs).toBe(await s.app.store.gitauth.countProviders());
      expect(m.git_auth_configs).toBeGreaterThanOrEqual(1);
      expect(m.startup_script_timeout).toBe(300_000_000_000);
    });
  });

  describe('vscode_port_proxy_uri', () => {
    const cases: { name: string; config: Record<string, string>; want: string }[] = [
      { name: 'wildcard + explicit port', config: { wildcardAccessUrl: '*.apps.example.com', accessUrl: 'https://coder.example.com:8443' }, want: 'https://{{port}}--main--proxyws--OWNER.apps.example.com:8443' },
      { name: 'wildcard, default port', config: { wildcardAccessUrl: '*.apps.example.com', accessUrl: 'https://coder.example.com' }, want: 'https://{{port}}--main--proxyws--OWNER.apps.example.com' },
      { name: 'no wildcard, no port', config: { accessUrl: 'https://coder.example.com' }, want: '' },
      { name: 'no wildcard, explicit port (quirk)', config: { accessUrl: 'http://coder.example.com:3000' }, want: ':3000' },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const t = await startTestServer({ backend, config: c.config });
        try {
          const o = await t.user();
          const b = await t.workspace(o.username, [{ name: 'main' }], 'proxyws');
          const m = await okJson<Metadata>(await t.request(`${ME}/metadata`, { token: b.agents[0]!.token! }));
          expect(m.vscode_port_proxy_uri).toBe(c.want.replace('OWNER', o.username));
        } finally {
          await t.stop();
        }
      });
    }
  });

  describe('POST /me/report-stats', () => {
    const full = { conns_by_proto: { TCP: 2, UDP: 1 }, num_comms: 3, rx_packets: 10, rx_bytes: 1000, tx_packets: 20, tx_bytes: 2000 };

    it('an empty report returns the interval in nanoseconds and writes nothing', async () => {
      const b = await provision([{}]);
      const a = b.agents[0]!;
      const before = (await s.app.store.workspaces.byId(b.workspace_id))!.last_used_at;
      clock.advance(1000);
      for (const body of [{}, { rx_bytes: 0, tx_bytes: 0, num_comms: 5 }]) {
        const r = await okJson<{ report_interval: number }>(await post(s, `${ME}/report-stats`, a.token!, body));
        expect(r).toEqual({ report_interval: 30_000_000_000 });
      }
      expect(await s.app.store.stats.latest(a.id)).toEqual([]);
      expect((await s.app.store.workspaces.byId(b.workspace_id))!.last_used_at).toBe(before);
    });

    it('a non-empty report inserts a stats row and updates last_used_at', async () => {
      const b = await provision([{}]);
      const a = b.agents[0]!;
      clock.advance(5000);
      const r = await okJson<{ report_interval: number }>(await post(s, `${ME}/report-stats`, a.token!, full));
      expect(r.report_interval).toBe(30_000_000_000);
      const rows = await s.app.store.stats.latest(a.id);
      expect(rows).toHaveLength(1);
      const row = rows[0]!;
      expect(row).toMatchObject({ agent_id: a.id, workspace_id: b.workspace_id, user_id: owner.id, created_at: new Date(clock.now()).toISOString() });
      expect(JSON.parse(row.connections_by_proto)).toEqual({ TCP: 2, UDP: 1 });
      expect([row.connection_count, row.rx_packets, row.rx_bytes, row.tx_packets, row.tx_bytes].map(Number)).toEqual([3, 10, 1000, 20, 2000]);
      expect((await s.app.store.workspaces.byId(b.workspace_id))!.last_used_at).toBe(new Date(clock.now()).toISOString());
      // Only tx counts too.
      await okJson(await post(s, `${ME}/report-stats`, a.token!, { tx_bytes: 1 }));
      expect(await s.app.store.stats.latest(a.id)).toHaveLength(2);
    });

    it('bumps the deadline of a TTL workspace by the TTL, not within the first 5 %', async () => {
      const ttl = 60 * 60_000;
      const b = await provision([{}], ttl);
      const a = b.agents[0]!;
      const deadline0 = (await s.app.store.agents.context(a.id))!.build.deadline!;
      clock.advance(60_000); // < 5 % of the TTL
      await okJson(await post(s, `${ME}/report-stats`, a.token!, full));
      expect((await s.app.store.agents.context(a.id))!.build.deadline).toBe(deadline0);
      clock.advance(10 * 60_000);
      await okJson(await post(s, `${ME}/report-stats`, a.token!, full));
      expect((await s.app.store.agents.context(a.id))!.build.deadline).toBe(new Date(clock.now() + ttl).toISOString());
    });

    it('rejects bad bodies and bad tokens', async () => {
      const b = await provision([{}]);
      const tok = b.agents[0]!.token!;
      await expectError(await post(s, `${ME}/report-stats`, tok, ''), 400, 'Request body must be valid JSON.', 'EOF');
      await expectError(await post(s, `${ME}/report-stats`, tok, { rx_bytes: 'lots' }), 400, 'Request body must be valid JSON.');
      await expectError(await post(s, `${ME}/report-stats`, tok, '[1]'), 400, 'Request body must be valid JSON.');
      await expectError(await s.request(`${ME}/report-stats`, { method: 'POST', body: '{}' }), 401, 'Cookie "coder_session_token" must be provided.');
    });
  });

  describe('POST /me/app-health', () => {
    async function withApps() {
      const b = await provision([
        { apps: [{ slug: 'web', url: 'http://localhost:1', healthcheck: { url: 'http://localhost:1/h', interval: 1, threshold: 1 } }, { slug: 'api', url: 'http://localhost:2', healthcheck: { url: 'http://localhost:2/h', interval: 1, threshold: 1 } }, { slug: 'off', url: 'http://localhost:3' }] },
      ]);
      const a = b.agents[0]!;
      const id = (slug: string) => a.apps.find((x) => x.slug === slug)!.id;
      const health = async (slug: string) => (await s.app.store.agents.apps(a.id)).find((x) => x.slug === slug)!.health;
      return { token: a.token!, id, health };
    }

    it('accepts Healths (Go agent) and healths (docs); 200 with body null', async () => {
      const t = await withApps();
      const res = await post(s, `${ME}/app-health`, t.token, { Healths: { [t.id('web')]: 'healthy' } });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('null\n');
      expect(await t.health('web')).toBe('healthy');
      const res2 = await post(s, `${ME}/app-health`, t.token, { healths: { [t.id('web')]: 'unhealthy', [t.id('api')]: 'healthy' } });
      expect(res2.status).toBe(200);
      expect(await t.health('web')).toBe('unhealthy');
      expect(await t.health('api')).toBe('healthy');
      // Unchanged values are fine; upper-case UUID keys name the same app.
      expect((await post(s, `${ME}/app-health`, t.token, { HEALTHS: { [t.id('api').toUpperCase()]: 'healthy' } })).status).toBe(200);
    });

    it('empty or missing map → 400 "Health field is empty"', async () => {
      const t = await withApps();
      for (const body of [{}, { healths: {} }, { healths: null }, 'null']) {
        await expectError(await post(s, `${ME}/app-health`, t.token, body), 400, 'Health field is empty');
      }
    });

    it('unknown app → 404, disabled app → 404, bad value (incl. "disabled") → 400', async () => {
      const t = await withApps();
      const unknown = crypto.randomUUID();
      await expectError(await post(s, `${ME}/app-health`, t.token, { healths: { [unknown]: 'healthy' } }), 404, 'Error setting workspace app health', `workspace app name ${unknown} not found`);
      await expectError(await post(s, `${ME}/app-health`, t.token, { healths: { [t.id('off')]: 'healthy' } }), 404, 'Error setting workspace app health', `health checking is disabled for workspace app ${t.id('off')}`);
      for (const v of ['disabled', 'great', '']) {
        await expectError(await post(s, `${ME}/app-health`, t.token, { healths: { [t.id('web')]: v } }), 400, 'Error setting workspace app health', `workspace app health ${v} is not a valid value`);
      }
      expect(await t.health('web')).toBe('initializing');
    });

    it('a non-UUID key fails JSON decoding', async () => {
      const t = await withApps();
      await expectError(await post(s, `${ME}/app-health`, t.token, { healths: { web: 'healthy' } }), 400, 'Request body must be valid JSON.');
    });

    it('validates every entry before writing any', async () => {
      const t = await withApps();
      const res = await post(s, `${ME}/app-health`, t.token, { healths: { [t.id('web')]: 'healthy', [t.id('api')]: 'bogus' } });
      await expectError(res, 400, 'Error setting workspace app health');
      expect(await t.health('web')).toBe('initializing');
      const res2 = await post(s, `${ME}/app-health`, t.token, { healths: { [t.id('web')]: 'healthy', [crypto.randomUUID()]: 'healthy' } });
      expect(res2.status).toBe(404);
      expect(await t.health('web')).toBe('initializing');
    });

    it("another agent's app is unknown to this agent", async () => {
      const t = await withApps();
      const other = await provision([{}]);
      await expectError(await post(s, `${ME}/app-health`, other.agents[0]!.token!, { healths: { [t.id('web')]: 'healthy' } }), 404, 'Error setting workspace app health');
    });
  });

  describe('GET /me/gitsshkey', () => {
    it("returns the owner's ed25519 key, generated once and stable; other owners differ", async () => {
      const b1 = await provision([{}, {}]);
      const k1 = await okJson<{ public_key: string; private_key: string }>(await s.request(`${ME}/gitsshkey`, { token: b1.agents[0]!.token! }));
      const k2 = await okJson<{ public_key: string; private_key: string }>(await s.request(`${ME}/gitsshkey`, { token: b1.agents[1]!.token! }));
      expect(k2).toEqual(k1);
      expect(k1.public_key).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]+=*$/);
      expect(k1.private_key.startsWith('-----BEGIN OPENSSH PRIVATE KEY-----\n')).toBe(true);
      const dir = mkdtempSync(join(tmpdir(), 'gitssh-'));
      try {
        const file = join(dir, 'id');
        writeFileSync(file, k1.private_key, { mode: 0o600 });
        let derived: string | null = null;
        try {
          derived = execFileSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' }).trim();
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
        if (derived !== null) expect(derived.split(' ').slice(0, 2).join(' ')).toBe(k1.public_key);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      const stranger = await s.user();
      const b2 = await s.workspace(stranger.username, [{}]);
      const k3 = await okJson<{ public_key: string }>(await s.request(`${ME}/gitsshkey`, { token: b2.agents[0]!.token! }));
      expect(k3.public_key).not.toBe(k1.public_key);
    });
  });

  describe('POST /me/startup', () => {
    it('stores version and expanded directory; 200 null', async () => {
      const b = await provision([{}]);
      const a = b.agents[0]!;
      const res = await post(s, `${ME}/startup`, a.token!, { Version: 'v0.19.0+abc123', expanded_directory: '/home/coder/src' });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('null\n');
      expect(await s.app.store.agents.byId(a.id)).toMatchObject({ version: 'v0.19.0+abc123', expanded_directory: '/home/coder/src' });
    });
    it('semver rules: v prefix required; prerelease/build only after MAJOR.MINOR.PATCH', async () => {
      const b = await provision([{}]);
      const tok = b.agents[0]!.token!;
      for (const v of ['v1', 'v1.2', 'v1.2.3', 'v0.0.0-devel+abc', 'v2.0.0-rc.1']) {
        expect((await post(s, `${ME}/startup`, tok, { version: v })).status, v).toBe(200);
      }
      for (const v of ['', '1.2.3', 'v01.2.3', 'v1.2-pre', 'v1.2.3.4', 'version']) {
        await expectError(await post(s, `${ME}/startup`, tok, { version: v }), 400, 'Invalid workspace agent version provided.', `invalid semver version: "${v}"`);
      }
    });
  });

  describe('POST /me/report-lifecycle', () => {
    it('204 and stored; invalid state → 400', async () => {
      const b = await provision([{}]);
      const a = b.agents[0]!;
      for (const state of ['starting', 'ready']) {
        const res = await post(s, `${ME}/report-lifecycle`, a.token!, { state });
        expect(res.status).toBe(204);
        expect(await res.text()).toBe('');
      }
      expect((await s.app.store.agents.byId(a.id))!.lifecycle_state).toBe('ready');
      await expectError(await post(s, `${ME}/report-lifecycle`, a.token!, { state: 'dancing' }), 400, 'Invalid lifecycle state.');
      await expectError(await post(s, `${ME}/report-lifecycle`, a.token!, ''), 400, 'Request body must be valid JSON.', 'EOF');
      expect((await s.app.store.agents.byId(a.id))!.lifecycle_state).toBe('ready');
    });
  });
});
