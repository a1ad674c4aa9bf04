/**
 * The tailnetd CLI as a real process (the built dist/, compiled by test/global-build.ts): provisioning commands on both
 * engines, config check, derpmap validate, and `server` start / SIGTERM.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, createBackend, type BackendHandle } from '../helpers/backends.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli', 'index.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, TAILNETD_LOG_LEVEL: 'silent', ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function storeEnv(b: BackendHandle): Record<string, string> {
  return b.postgresUrl
    ? { TAILNETD_DATA_DIR: b.dataDir, TAILNETD_POSTGRES_URL: b.postgresUrl, TAILNETD_POSTGRES_SCHEMA: b.postgresSchema! }
    : { TAILNETD_DATA_DIR: b.dataDir };
}

describe.each(BACKENDS)('CLI provisioning (%s)', (name) => {
  let backend: BackendHandle;
  beforeAll(async () => {
    backend = await createBackend(name);
  });
  afterAll(async () => {
    await backend.cleanup();
  });

  it('users create, workspaces create, builds create, gitauth add-provider/add-link with --output json; then the server serves them', async () => {
    const env = storeEnv(backend);
    const u = await cli(['users', 'create', '--username', 'cliuser', '--email', 'c@example.com', '--output', 'json'], env);
    expect(u.code, u.stderr).toBe(0);
    const user = JSON.parse(u.stdout) as { id: string; username: string; admin: boolean; api_key: string };
    expect(user).toMatchObject({ username: 'cliuser', admin: false });
    expect(user.api_key).toMatch(/^[A-Za-z0-9]{10}-[A-Za-z0-9]{22}$/);

    const dup = await cli(['users', 'create', '--username', 'cliuser', '--email', 'c@example.com'], env);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('User "cliuser" already exists.');

    const w = await cli(['workspaces', 'create', '--owner', 'cliuser', '--name', 'dev', '--agent', '{"name":"main","apps":[{"slug":"web","url":"http://localhost:1"}]}', '--ttl-ms', '3600000', '--output', 'json'], env);
    expect(w.code, w.stderr).toBe(0);
    const ws = JSON.parse(w.stdout) as { workspace_id: string; build_number: number; agents: { id: string; name: string; token: string }[] };
    expect(ws.build_number).toBe(1);
    expect(ws.agents[0]).toMatchObject({ name: 'main', token: expect.stringMatching(/^[0-9a-f-]{36}$/) });

    const badAgent = await cli(['workspaces', 'create', '--owner', 'cliuser', '--name', 'bad', '--agent', '{"name":"main","bogus":1}'], env);
    expect(badAgent.code).toBe(2);
    expect(badAgent.stderr).toMatch(/^tailnetd: workspace\.agents\.0/m);

    const b = await cli(['builds', 'create', '--workspace', ws.workspace_id, '--agent', '{"name":"main"}', '--output', 'json'], env);
    expect(b.code, b.stderr).toBe(0);
    const build = JSON.parse(b.stdout) as { build_number: number; agents: { token: string }[] };
    expect(build.build_number).toBe(2);

    const provider = { id: 'gl', type: 'gitlab', client_id: 'c', client_secret: 's', auth_url: 'https://gitlab.com/oauth/authorize', token_url: 'https://gitlab.com/oauth/token', regex: 'gitlab\\.com' };
    const p = await cli(['gitauth', 'add-provider', '--json', JSON.stringify(provider), '--output', 'json'], env);
    expect(p.code, p.stderr).toBe(0);
    expect(JSON.parse(p.stdout)).toEqual({ id: 'gl', type: 'gitlab', regex: 'gitlab\\.com', position: 0 });
    const l = await cli(['gitauth', 'add-link', '--provider', 'gl', '--user', 'cliuser', '--access-token', 'glpat-1', '--output', 'json'], env);
    expect(l.code, l.stderr).toBe(0);
    expect(JSON.parse(l.stdout)).toEqual({ provider_id: 'gl', user_id: user.id });

    // The server over the same store serves what the CLI provisioned.
    const server = await startServerProcess(env);
    try {
      const token = build.agents[0]!.token;
      const creds = await fetch(`${server.url}/api/v2/workspaceagents/me/gitauth?url=${encodeURIComponent('https://gitlab.com/a/b.git')}`, { headers: { 'Coder-Session-Token': token } });
      expect(await creds.json()).toEqual({ username: 'oauth2', password: 'glpat-1', url: '' });
      const agent = await fetch(`${server.url}/api/v2/workspaceagents/${ws.agents[0]!.id}`, { headers: { 'Coder-Session-Token': user.api_key } });
      expect(agent.status).toBe(200);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  }, 240_000);
});

interface ServerProcess {
  url: string;
  stop(): Promise<number | null>;
}

/** Runs `tailnetd server` on port 0 and reads its URL from the "listening" log line. */
function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, [CLI, 'server'], {
    cwd: ROOT,
    env: {
      ...process.env,
      TAILNETD_HTTP_ADDRESS: '127.0.0.1:0',
      TAILNETD_PROMETHEUS_ADDRESS: '127.0.0.1:0',
      TAILNETD_STUN_ADDRESS: '',
      TAILNETD_LOG_LEVEL: 'info',
      TAILNETD_SHUTDOWN_GRACE_PERIOD_MS: '1000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let buf = '';
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start: ${stderr}`));
    }, 45_000);
    child.stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      for (const line of buf.split('\n')) {
        if (!line.includes('"listening"')) continue;
        const rec = JSON.parse(line) as { url: string };
        clearTimeout(timer);
        resolve({
          url: rec.url,
          stop: async () => {
            child.kill('SIGTERM');
            return exited;
          },
        });
        return;
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited early (${code}): ${stderr}`));
    });
  });
}

describe('CLI configuration and tools', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tailnetd-cli-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('config check: exit 0 when valid; exit 2 with one line per bad option', async () => {
    const ok = await cli(['config', 'check'], { TAILNETD_DATA_DIR: dir });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('configuration ok\n');
    const bad = await cli(['config', 'check'], { TAILNETD_HTTP_ADDRESS: 'nope', TAILNETD_LOG_LEVEL: 'loud', TAILNETD_ACCESS_URL: 'not a url' });
    expect(bad.code).toBe(2);
    const lines = bad.stderr.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.every((l) => l.startsWith('tailnetd: invalid '))).toBe(true);
    expect(bad.stderr).toContain('TAILNETD_HTTP_ADDRESS');
    expect(bad.stderr).toContain('TAILNETD_LOG_LEVEL');
    expect(bad.stderr).toContain('TAILNETD_ACCESS_URL');
    const flag = await cli(['config', 'check', '--http-address', 'nope']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('--http-address');
  }, 180_000);

  it('derpmap validate: a good file → exit 0; a bad file → exit 2 with the problems', async () => {
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ Regions: { '1': { RegionID: 1, RegionCode: 'eu', RegionName: 'Europe', Nodes: [{ Name: '1a', RegionID: 1, HostName: 'derp.example.com' }] } } }));
    const ok = await cli(['derpmap', 'validate', good]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('ok: 1 region(s)\n');
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ Regions: { '1': { RegionID: 2, RegionCode: 'eu', RegionName: 'Europe', Nodes: [{ Name: '', RegionID: 2 }] } } }));
    const res = await cli(['derpmap', 'validate', bad]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('does not match its map key 1');
  }, 180_000);

  it('server: starts, answers /healthz, exits 0 on SIGTERM', async () => {
    const server = await startServerProcess({ TAILNETD_DATA_DIR: join(dir, 'srv') });
    let code: number | null = null;
    try {
      const res = await fetch(`${server.url}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('OK');
    } finally {
      code = await server.stop();
    }
    expect(code).toBe(0);
  }, 120_000);
});
