/**
 * Provisioning subcommands: they open the same store as the server (flags/env/config file)
 * and print results as text or, with --output json, one JSON document for scripts.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { openStore, type Store } from '../store/index.js';
import { join } from 'node:path';
import { loadConfig } from '../config/load.js';
import { Provisioning } from '../provisioning/service.js';
import { agentSpecSchema, createBuildSchema, createUserSchema, createWorkspaceSchema, gitAuthLinkSchema, gitAuthProviderSchema } from '../provisioning/schema.js';
import { UsageError } from './errors.js';

interface StoreFlags {
  dataDir?: string;
  postgresUrl?: string;
  postgresSchema?: string;
  config?: string;
  output: string;
}

async function withStore<T>(flags: StoreFlags, fn: (p: Provisioning, store: Store) => Promise<T>): Promise<T> {
  const config = loadConfig({
    flags: { dataDir: flags.dataDir, postgresUrl: flags.postgresUrl, postgresSchema: flags.postgresSchema },
    env: process.env,
    ...(flags.config ? { file: flags.config } : {}),
  });
  const store = await openStore(
    config.postgresUrl
      ? { kind: 'postgres', url: config.postgresUrl, ...(config.postgresSchema ? { schema: config.postgresSchema } : {}) }
      : { kind: 'sqlite', path: join(config.dataDir, 'tailnetd.db') },
  );
  try {
    return await fn(new Provisioning(store), store);
  } finally {
    await store.close();
  }
}

function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw new UsageError(r.error.issues.map((i) => `${what}${i.path.length ? '.' + i.path.join('.') : ''}: ${i.message}`));
  return r.data;
}

function parseJsonArg(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError([`${what}: not valid JSON (${(e as Error).message})`]);
  }
}

function emit(flags: StoreFlags, value: unknown, text: () => string): void {
  if (flags.output === 'json') process.stdout.write(JSON.stringify(value, null, 2) + '\n');
  else process.stdout.write(text() + '\n');
}

function addStoreOptions(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'data directory of the SQLite store (TAILNETD_DATA_DIR)')
    .option('--postgres-url <url>', 'PostgreSQL URL (TAILNETD_POSTGRES_URL)')
    .option('--postgres-schema <name>', 'PostgreSQL schema (TAILNETD_POSTGRES_SCHEMA)')
    .option('--config <file>', 'config file (YAML or JSON)')
    .option('-o, --output <format>', 'text or json', 'text');
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function describeBuild(b: { workspace_id: string; build_id: string; build_number: number; agents: { id: string; name: string; token: string | null; instance_id: string | null }[] }): string {
  const lines = [`workspace ${b.workspace_id}  build #${b.build_number} ${b.build_id}`];
  for (const a of b.agents) lines.push(`  agent ${a.name}  id ${a.id}  ${a.token ? `token ${a.token}` : `instance ${a.instance_id ?? ''}`}`);
  lines.push('Agent tokens are shown only once.');
  return lines.join('\n');
}

export function registerProvisioning(program: Command): void {
  const users = program.command('users').description('manage users');
  addStoreOptions(users.command('create').description('create a user and print an API key (shown once)'))
    .requiredOption('--username <name>')
    .requiredOption('--email <email>')
    .option('--admin', 'site admin (may use the admin API and debug pages)', false)
    .action(async (opts: StoreFlags & { username: string; email: string; admin: boolean }) => {
      const input = parse(createUserSchema, { username: opts.username, email: opts.email, admin: opts.admin }, 'user');
      const user = await withStore(opts, (p) => p.createUser(input));
      emit(opts, user, () => `user ${user.username} ${user.id}\napi key ${user.api_key}\nThe API key is shown only once.`);
    });
  addStoreOptions(users.command('key').description('create another API key for a user'))
    .requiredOption('--user <username-or-id>')
    .action(async (opts: StoreFlags & { user: string }) => {
      const out = await withStore(opts, (p) => p.createApiKey(opts.user));
      emit(opts, out, () => `api key ${out.api_key}`);
    });

  const workspaces = program.command('workspaces').description('manage workspaces');
  addStoreOptions(workspaces.command('create').description('create a workspace with a first build; prints agent ids and tokens (shown once)'))
    .requiredOption('--owner <username-or-id>')
    .requiredOption('--name <name>')
    .option('--agent <json>', 'agent spec as JSON (repeatable), e.g. {"name":"main","auth":"token"}', collect, [])
    .option('--ttl-ms <ms>', 'workspace TTL for activity bumps')
    .action(async (opts: StoreFlags & { owner: string; name: string; agent: string[]; ttlMs?: string }) => {
      const agents = (opts.agent.length ? opts.agent : ['{"name":"main"}']).map((a, i) => parseJsonArg(a, `--agent #${i + 1}`));
      const input = parse(createWorkspaceSchema, { owner: opts.owner, name: opts.name, ttl_ms: opts.ttlMs ? Number(opts.ttlMs) : null, agents }, 'workspace');
      const build = await withStore(opts, (p) => p.createWorkspace(input));
      emit(opts, build, () => describeBuild(build));
    });

  const builds = program.command('builds').description('manage workspace builds');
  addStoreOptions(builds.command('create').description('start a new build: new agents and tokens; the previous build is no longer latest'))
    .requiredOption('--workspace <id>')
    .option('--agent <json>', 'agent spec as JSON (repeatable)', collect, [])
    .option('--transition <t>', 'start or stop', 'start')
    .action(async (opts: StoreFlags & { workspace: string; agent: string[]; transition: string }) => {
      const agents = opts.agent.map((a, i) => parse(agentSpecSchema, parseJsonArg(a, `--agent #${i + 1}`), `agent #${i + 1}`));
      const input = parse(createBuildSchema, { transition: opts.transition, agents }, 'build');
      const build = await withStore(opts, (p) => p.createBuild(opts.workspace, input));
      emit(opts, build, () => describeBuild(build));
    });

  const gitauth = program.command('gitauth').description('git auth providers and links');
  addStoreOptions(gitauth.command('add-provider').description('add an OAuth2 git auth provider'))
    .requiredOption('--json <json>', 'provider as JSON: {"id","type","client_id","client_secret","auth_url","token_url","validate_url","regex","scopes":[],"no_refresh"}')
    .action(async (opts: StoreFlags & { json: string }) => {
      const input = parse(gitAuthProviderSchema, parseJsonArg(opts.json, '--json'), 'provider');
      const out = await withStore(opts, (p) => p.addGitAuthProvider(input));
      emit(opts, out, () => `provider ${out.id} (${out.type}) at position ${out.position}`);
    });
  addStoreOptions(gitauth.command('add-link').description("store a user's git auth access token"))
    .requiredOption('--provider <id>')
    .requiredOption('--user <username-or-id>')
    .requiredOption('--access-token <token>')
    .option('--refresh-token <token>', '', '')
    .option('--expiry <rfc3339>')
    .action(async (opts: StoreFlags & { provider: string; user: string; accessToken: string; refreshToken: string; expiry?: string }) => {
      const input = parse(gitAuthLinkSchema, { provider_id: opts.provider, user: opts.user, access_token: opts.accessToken, refresh_token: opts.refreshToken, expiry: opts.expiry ?? null }, 'link');
      const out = await withStore(opts, (p) => p.addGitAuthLink(input));
      emit(opts, out, () => `linked ${out.provider_id} for user ${out.user_id}`);
    });
}
