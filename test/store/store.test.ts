/**
 * The store over SQLite and PostgreSQL: users/API keys, workspaces/builds, agents and tokens,
 * apps, git SSH keys, git auth, stats, and idempotent migrations.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, createBackend, type BackendHandle } from '../helpers/backends.js';
import { openStore, type Store, type StoreTarget } from '../../src/store/index.js';
import { MAX_TOKENS_PER_AGENT } from '../../src/store/workspaces.js';
import { sha256Hex } from '../../src/store/ids.js';
import { ManualClock } from '../../src/util/clock.js';
import { agentSpecSchema, gitAuthProviderSchema } from '../../src/provisioning/schema.js';

function target(b: BackendHandle): StoreTarget {
  return b.postgresUrl ? { kind: 'postgres', url: b.postgresUrl, schema: b.postgresSchema! } : { kind: 'sqlite', path: join(b.dataDir, 'tailnetd.db') };
}

const spec = (over: Record<string, unknown> = {}) => agentSpecSchema.parse({ name: 'main', ...over });

/** Every value of every row of a table, as text, to look for plaintext secrets. */
async function dump(store: Store, table: string): Promise<string> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const rows = await (store.db as any).selectFrom(table).selectAll().execute();
  return JSON.stringify(rows);
}

describe.each(BACKENDS)('store (%s)', (name) => {
  let backend: BackendHandle;
  let store: Store;
  const clock = new ManualClock(Date.UTC(2023, 2, 1, 12));

  beforeAll(async () => {
    backend = await createBackend(name);
    store = await openStore(target(backend), clock);
  });
  afterAll(async () => {
    await store.close();
    await backend.cleanup();
  });

  it('migrations are idempotent: opening the same database again works and keeps data', async () => {
    const u = await store.users.create({ username: 'persist', email: 'p@example.com' });
    const again = await openStore(target(backend), clock);
    try {
      expect((await again.users.byId(u.id))?.username).toBe('persist');
    } finally {
      await again.close();
    }
  });

  it('users and API keys: only the SHA-256 of the secret is stored', async () => {
    const u = await store.users.create({ username: 'alice', email: 'a@example.com', isAdmin: true });
    expect(u.status).toBe('active');
    const { key, row } = await store.users.createApiKey(u.id);
    expect(key).toMatch(/^[A-Za-z0-9]{10}-[A-Za-z0-9]{22}$/);
    const [id, secret] = key.split('-') as [string, string];
    expect(row.id).toBe(id);
    expect(row.hashed_secret).toBe(sha256Hex(secret));
    expect(await dump(store, 'api_keys')).not.toContain(secret);
    const found = await store.users.apiKeyWithUser(id);
    expect(found?.user).toMatchObject({ id: u.id, username: 'alice', is_admin: 1, status: 'active' });
    expect(found?.key.hashed_secret).toBe(sha256Hex(secret));
    expect(Number(found?.key.lifetime_seconds)).toBe(30 * 24 * 3600);
    expect(Date.parse(found!.key.expires_at) - clock.now()).toBe(30 * 24 * 3600 * 1000);
    await store.users.setStatus(u.id, 'suspended');
    expect((await store.users.byUsername('alice'))?.status).toBe('suspended');
    expect(await store.users.apiKeyWithUser('zzzzzzzzzz')).toBeUndefined();
    await expect(store.users.create({ username: 'alice', email: 'dup@example.com' })).rejects.toThrow();
  });

  it('workspaces and builds: a new build becomes latest; agents of the old build are not latest', async () => {
    const u = await store.users.create({ username: 'bob', email: 'b@example.com' });
    const b1 = await store.workspaces.create({ ownerId: u.id, name: 'dev', ttlMs: 3_600_000, agents: [spec()] });
    expect(b1.build_number).toBe(1);
    const ws = await store.workspaces.byId(b1.workspace_id);
    expect(ws).toMatchObject({ owner_id: u.id, name: 'dev', latest_build_id: b1.build_id });
    expect(await store.workspaces.byOwnerAndName(u.id, 'dev')).toBeTruthy();
    const a1 = b1.agents[0]!;
    expect(await store.agents.isLatestBuild(a1.id)).toBe(true);
    const b2 = await store.workspaces.createBuild(b1.workspace_id, 'start', [spec()]);
    expect(b2.build_number).toBe(2);
    expect((await store.workspaces.byId(b1.workspace_id))?.latest_build_id).toBe(b2.build_id);
    expect(await store.agents.isLatestBuild(a1.id)).toBe(false);
    expect(await store.agents.isLatestBuild(b2.agents[0]!.id)).toBe(true);
    const ctx = await store.agents.context(b2.agents[0]!.id);
    expect(ctx).toMatchObject({ ownerId: u.id, ownerUsername: 'bob', workspace: { id: b1.workspace_id, name: 'dev' }, build: { id: b2.build_id, build_number: 2, transition: 'start', job_type: 'workspace_build' } });
    expect(ctx?.build.deadline).toBe(new Date(clock.now() + 3_600_000).toISOString());
    expect((await store.agents.listByWorkspace(b1.workspace_id)).length).toBe(2);
    await expect(store.workspaces.create({ ownerId: u.id, name: 'dev', ttlMs: null, agents: [] })).rejects.toThrow();
  });

  it('agents: only the token hash is stored; lookup by hash', async () => {
    const u = await store.users.create({ username: 'carol', email: 'c@example.com' });
    const b = await store.workspaces.create({ ownerId: u.id, name: 'w', ttlMs: null, agents: [spec({ env: { A: '1' }, startup_script: 'echo hi' })] });
    const a = b.agents[0]!;
    expect(a.token).toMatch(/^[0-9a-f-]{36}$/);
    expect(await dump(store, 'agent_tokens')).not.toContain(a.token!);
    expect(await dump(store, 'workspace_agents')).not.toContain(a.token!);
    const agent = await store.agents.byTokenHash(sha256Hex(a.token!));
    expect(agent).toMatchObject({ id: a.id, name: 'main', environment_variables: '{"A":"1"}', startup_script: 'echo hi', lifecycle_state: 'created', version: '' });
    expect(await store.agents.byTokenHash(sha256Hex(crypto.randomUUID()))).toBeUndefined();
    // Instance-identity agents get no token at provisioning.
    const ib = await store.workspaces.create({ ownerId: u.id, name: 'w2', ttlMs: null, agents: [spec({ auth: 'aws-instance-identity', instance_id: 'i-123' })] });
    expect(ib.agents[0]!.token).toBeNull();
    expect(await store.agents.newestByInstanceId('i-123')).toEqual({ agentId: ib.agents[0]!.id, buildIsLatest: true });
  });

  it('issueToken keeps the newest five tokens valid, oldest first out', async () => {
    const u = await store.users.create({ username: 'dave', email: 'd@example.com' });
    const b = await store.workspaces.create({ ownerId: u.id, name: 'w', ttlMs: null, agents: [spec({ auth: 'aws-instance-identity', instance_id: 'i-tok' })] });
    const id = b.agents[0]!.id;
    const tokens: string[] = [];
    for (let i = 0; i < 8; i++) {
      clock.advance(1000);
      tokens.push(await store.agents.issueToken(id));
    }
    const valid = await Promise.all(tokens.map(async (t) => (await store.agents.byTokenHash(sha256Hex(t)))?.id === id));
    expect(valid).toEqual([false, false, false, true, true, true, true, true]);
    expect(MAX_TOKENS_PER_AGENT).toBe(5);
  });

  it('issueToken: the token just issued is always valid, even when many are minted in the same millisecond', async () => {
    const u = await store.users.create({ username: 'dave2', email: 'd2@example.com' });
    const b = await store.workspaces.create({ ownerId: u.id, name: 'w', ttlMs: null, agents: [spec({ auth: 'aws-instance-identity', instance_id: 'i-same-ms' })] });
    const id = b.agents[0]!.id;
    // ManualClock does not move: every token has the same created_at.
    for (let i = 0; i < 12; i++) {
      const t = await store.agents.issueToken(id);
      expect((await store.agents.byTokenHash(sha256Hex(t)))?.id).toBe(id);
    }
  });

  it('apps: initial health disabled without a healthcheck, initializing with one; updates', async () => {
    const u = await store.users.create({ username: 'erin', email: 'e@example.com' });
    const b = await store.workspaces.create({
      ownerId: u.id,
      name: 'w',
      ttlMs: null,
      agents: [spec({ apps: [{ slug: 'web', url: 'http://localhost:8080', healthcheck: { url: 'http://localhost:8080/h', interval: 5, threshold: 3 } }, { slug: 'term', command: 'bash' }] })],
    });
    const apps = await store.agents.apps(b.agents[0]!.id);
    expect(apps.map((a) => [a.slug, a.health])).toEqual([
      ['term', 'disabled'],
      ['web', 'initializing'],
    ]);
    const web = apps.find((a) => a.slug === 'web')!;
    expect(web).toMatchObject({ display_name: 'web', healthcheck_url: 'http://localhost:8080/h', sharing_level: 'owner' });
    expect(Number(web.healthcheck_interval)).toBe(5);
    await store.agents.setAppHealths(web.agent_id, [{ id: web.id, health: 'healthy' }]);
    expect((await store.agents.apps(b.agents[0]!.id)).find((a) => a.id === web.id)?.health).toBe('healthy');
  });

  it('agent connection timestamps, startup and lifecycle', async () => {
    const u = await store.users.create({ username: 'fay', email: 'f@example.com' });
    const b = await store.workspaces.create({ ownerId: u.id, name: 'w', ttlMs: null, agents: [spec()] });
    const id = b.agents[0]!.id;
    const t1 = new Date(clock.now()).toISOString();
    await store.agents.recordConnected(id, t1, 'replica-1');
    clock.advance(3000);
    const t2 = new Date(clock.now()).toISOString();
    await store.agents.recordConnected(id, t2, 'replica-1');
    let a = await store.agents.byId(id);
    expect(a).toMatchObject({ first_connected_at: t1, last_connected_at: t2, disconnected_at: null, last_connected_replica_id: 'replica-1' });
    await store.agents.recordDisconnected(id, t2, 'replica-1');
    await store.agents.setStartup(id, 'v0.19.0', '/home/coder');
    await store.agents.setLifecycle(id, 'ready');
    a = await store.agents.byId(id);
    expect(a).toMatchObject({ disconnected_at: t2, version: 'v0.19.0', expanded_directory: '/home/coder', lifecycle_state: 'ready' });
  });

  it('git SSH keys: ed25519, generated once per user', async () => {
    const u = await store.users.create({ username: 'gus', email: 'g@example.com' });
    const k1 = await store.gitauth.sshKey(u.id);
    const k2 = await store.gitauth.sshKey(u.id);
    expect(k2).toEqual(k1);
    expect(k1.public_key).toMatch(/^ssh-ed25519 [A-Za-z0-9+/=]+$/);
    expect(k1.private_key).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n[\s\S]+\n-----END OPENSSH PRIVATE KEY-----\n$/);
    const [k3] = await Promise.all([store.gitauth.sshKey((await store.users.create({ username: 'gus2', email: 'g2@example.com' })).id)]);
    expect(k3!.public_key).not.toBe(k1.public_key);
  });

  it('git auth providers keep insertion order; links upsert; states are single-use and expire', async () => {
    const base = { client_id: 'c', client_secret: 's', auth_url: 'http://x/a', token_url: 'http://x/t' };
    await store.gitauth.addProvider(gitAuthProviderSchema.parse({ ...base, id: 'gh', type: 'github', regex: 'github\\.com' }));
    await store.gitauth.addProvider(gitAuthProviderSchema.parse({ ...base, id: 'gl', type: 'gitlab', regex: 'gitlab\\.com', scopes: ['read', 'write'], no_refresh: true }));
    const providers = await store.gitauth.providers();
    expect(providers.map((p) => [p.id, Number(p.position)])).toEqual([
      ['gh', 0],
      ['gl', 1],
    ]);
    expect(await store.gitauth.countProviders()).toBe(2);
    expect(await store.gitauth.provider('gl')).toMatchObject({ scopes: 'read write', no_refresh: 1 });
    const u = await store.users.create({ username: 'hal', email: 'h@example.com' });
    await store.gitauth.upsertLink({ providerId: 'gh', userId: u.id, accessToken: 'a1', refreshToken: 'r1', expiry: null });
    await store.gitauth.upsertLink({ providerId: 'gh', userId: u.id, accessToken: 'a2', refreshToken: 'r2', expiry: '2030-01-01T00:00:00.000Z' });
    expect(await store.gitauth.link('gh', u.id)).toMatchObject({ oauth_access_token: 'a2', oauth_refresh_token: 'r2', oauth_expiry: '2030-01-01T00:00:00.000Z' });
    expect(await store.gitauth.link('gl', u.id)).toBeUndefined();

    await store.gitauth.saveState('st1', 'gh', u.id, '/back');
    expect(await store.gitauth.takeState('st1', 60_000)).toMatchObject({ provider_id: 'gh', user_id: u.id, redirect: '/back' });
    expect(await store.gitauth.takeState('st1', 60_000)).toBeUndefined();
    await store.gitauth.saveState('st2', 'gh', u.id, '/');
    clock.advance(61_000);
    expect(await store.gitauth.takeState('st2', 60_000)).toBeUndefined();
    expect(await store.gitauth.takeState('st2', 60_000)).toBeUndefined();
  });

  it('stats rows and last_used_at; activity bump by TTL, skipped within 5 % and capped by max_deadline', async () => {
    const u = await store.users.create({ username: 'ivy', email: 'i@example.com' });
    const ttl = 3_600_000;
    const b = await store.workspaces.create({ ownerId: u.id, name: 'w', ttlMs: ttl, agents: [spec()] });
    await store.stats.insert({ agentId: b.agents[0]!.id, workspaceId: b.workspace_id, userId: u.id, connectionsByProto: { TCP: 2 }, connectionCount: 2, rxPackets: 1, rxBytes: 10, txPackets: 3, txBytes: 30 });
    const rows = await store.stats.latest(b.agents[0]!.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ workspace_id: b.workspace_id, user_id: u.id, connections_by_proto: '{"TCP":2}' });
    expect([rows[0]!.connection_count, rows[0]!.rx_bytes, rows[0]!.tx_packets, rows[0]!.tx_bytes].map(Number)).toEqual([2, 10, 3, 30]);

    clock.advance(60_000); // 1/60 of the TTL elapsed: < 5 %, no bump
    expect(await store.workspaces.bumpDeadline(b.workspace_id)).toBe(false);
    clock.advance(10 * 60_000);
    expect(await store.workspaces.bumpDeadline(b.workspace_id)).toBe(true);
    expect((await store.agents.context(b.agents[0]!.id))?.build.deadline).toBe(new Date(clock.now() + ttl).toISOString());
    await store.workspaces.touchLastUsed(b.workspace_id);
    expect((await store.workspaces.byId(b.workspace_id))?.last_used_at).toBe(new Date(clock.now()).toISOString());

    const nottl = await store.workspaces.create({ ownerId: u.id, name: 'nottl', ttlMs: null, agents: [] });
    expect(await store.workspaces.bumpDeadline(nottl.workspace_id)).toBe(false);
    const stopped = await store.workspaces.createBuild(b.workspace_id, 'stop', []);
    expect(stopped.build_number).toBe(2);
    clock.advance(30 * 60_000);
    expect(await store.workspaces.bumpDeadline(b.workspace_id)).toBe(false);
  });
});

describe('store (postgres): schemas are independent', () => {
  it('a second schema in a database that already has tailnetd tables elsewhere still migrates', async () => {
    const a = await createBackend('postgres');
    const b = await createBackend('postgres');
    try {
      const sa = await openStore(target(a));
      await sa.close();
      const sb = await openStore(target(b));
      try {
        const u = await sb.users.create({ username: 'x', email: 'x@example.com' });
        expect((await sb.users.byId(u.id))?.username).toBe('x');
      } finally {
        await sb.close();
      }
    } finally {
      await a.cleanup();
      await b.cleanup();
    }
  });
});

describe('git SSH key format', () => {
  it('the public key is the ed25519 key of the private key (ssh-keygen -y) or at least a valid SPKI point', async () => {
    const backend = await createBackend('sqlite');
    const store = await openStore(target(backend));
    try {
      const u = await store.users.create({ username: 'k', email: 'k@example.com' });
      const key = await store.gitauth.sshKey(u.id);
      const blob = Buffer.from(key.public_key.split(' ')[1]!, 'base64');
      expect(blob.readUInt32BE(0)).toBe(11);
      expect(blob.subarray(4, 15).toString()).toBe('ssh-ed25519');
      const raw = blob.subarray(19);
      expect(raw.length).toBe(32);
      const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]);
      expect(createPublicKey({ key: spki, format: 'der', type: 'spki' }).asymmetricKeyType).toBe('ed25519');
      let derived: string | null = null;
      const dir = mkdtempSync(join(tmpdir(), 'sshkey-'));
      try {
        const file = join(dir, 'id');
        writeFileSync(file, key.private_key, { mode: 0o600 });
        derived = execFileSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' }).trim();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      if (derived !== null) expect(derived.split(' ').slice(0, 2).join(' ')).toBe(key.public_key);
    } finally {
      await store.close();
      await backend.cleanup();
    }
  });
});
