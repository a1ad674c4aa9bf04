import type { Kysely, Selectable } from 'kysely';
import type { Database, GitAuthLinksTable, GitAuthProvidersTable, GitSshKeysTable } from './schema.js';
import { nowIso } from './ids.js';
import type { Clock } from '../util/clock.js';
import { generateEd25519SshKey } from '../util/ssh-key.js';
import type { GitAuthProviderInput } from '../provisioning/schema.js';

export type GitAuthProvider = Selectable<GitAuthProvidersTable>;
export type GitAuthLink = Selectable<GitAuthLinksTable>;
export type GitSshKey = Selectable<GitSshKeysTable>;

export class GitAuthRepo {
  constructor(private readonly db: Kysely<Database>, private readonly clock: Clock) {}

  /** Providers in configuration order (the last regex match wins, as in coderd). */
  async providers(): Promise<GitAuthProvider[]> {
    return this.db.selectFrom('git_auth_providers').selectAll().orderBy('position').orderBy('id').execute();
  }

  async provider(id: string): Promise<GitAuthProvider | undefined> {
    return this.db.selectFrom('git_auth_providers').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async countProviders(): Promise<number> {
    const row = await this.db.selectFrom('git_auth_providers').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async addProvider(input: GitAuthProviderInput): Promise<GitAuthProvider> {
    return this.db.transaction().execute(async (trx) => {
      const max = await trx.selectFrom('git_auth_providers').select((eb) => eb.fn.max('position').as('p')).executeTakeFirst();
      const row: GitAuthProvider = {
        id: input.id,
        type: input.type,
        client_id: input.client_id,
        client_secret: input.client_secret,
        auth_url: input.auth_url,
        token_url: input.token_url,
        validate_url: input.validate_url,
        regex: input.regex,
        scopes: input.scopes.join(' '),
        no_refresh: input.no_refresh ? 1 : 0,
        position: Number(max?.p ?? -1) + 1,
        created_at: nowIso(this.clock.now()),
      };
      await trx.insertInto('git_auth_providers').values(row).execute();
      return row;
    });
  }

  async link(providerId: string, userId: string): Promise<GitAuthLink | undefined> {
    return this.db.selectFrom('git_auth_links').selectAll().where('provider_id', '=', providerId).where('user_id', '=', userId).executeTakeFirst();
  }

  async upsertLink(input: { providerId: string; userId: string; accessToken: string; refreshToken: string; expiry: string | null }): Promise<void> {
    const now = nowIso(this.clock.now());
    await this.db
      .insertInto('git_auth_links')
      .values({
        provider_id: input.providerId,
        user_id: input.userId,
        oauth_access_token: input.accessToken,
        oauth_refresh_token: input.refreshToken,
        oauth_expiry: input.expiry,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) =>
        oc.columns(['provider_id', 'user_id']).doUpdateSet({
          oauth_access_token: input.accessToken,
          oauth_refresh_token: input.refreshToken,
          oauth_expiry: input.expiry,
          updated_at: now,
        }),
      )
      .execute();
  }

  async saveState(state: string, providerId: string, userId: string, redirect: string): Promise<void> {
    await this.db.insertInto('git_auth_states').values({ state, provider_id: providerId, user_id: userId, redirect, created_at: nowIso(this.clock.now()) }).execute();
  }

  /** Single-use: the state row is deleted when taken. Expired states (older than maxAgeMs) are rejected. */
  async takeState(state: string, maxAgeMs: number): Promise<{ provider_id: string; user_id: string; redirect: string } | undefined> {
    // One atomic DELETE … RETURNING: of several concurrent callbacks only one gets the row
    // (a select-then-delete let two of them through on PostgreSQL).
    const row = await this.db.deleteFrom('git_auth_states').where('state', '=', state).returningAll().executeTakeFirst();
    if (!row) return undefined;
    if (this.clock.now() - Date.parse(row.created_at) > maxAgeMs) return undefined;
    return row;
  }

  /** The owner's git SSH key, generated (ed25519) on first use. */
  async sshKey(userId: string): Promise<GitSshKey> {
    const existing = await this.db.selectFrom('gitsshkeys').selectAll().where('user_id', '=', userId).executeTakeFirst();
    if (existing) return existing;
    const key = generateEd25519SshKey();
    const now = nowIso(this.clock.now());
    await this.db
      .insertInto('gitsshkeys')
      .values({ user_id: userId, public_key: key.publicKey, private_key: key.privateKey, created_at: now, updated_at: now })
      .onConflict((oc) => oc.column('user_id').doNothing())
      .execute();
    return this.db.selectFrom('gitsshkeys').selectAll().where('user_id', '=', userId).executeTakeFirstOrThrow();
  }
}
