import type { Kysely, Selectable } from 'kysely';
import type { Database, UsersTable, ApiKeysTable } from './schema.js';
import { newId, nowIso, randomAlnum, sha256Hex } from './ids.js';
import type { Clock } from '../util/clock.js';
import type { ReadCache } from './read-cache.js';

export type User = Selectable<UsersTable>;
export type ApiKey = Selectable<ApiKeysTable>;

export const DEFAULT_API_KEY_LIFETIME_SECONDS = 24 * 60 * 60 * 30;

export class UserRepo {
  constructor(private readonly db: Kysely<Database>, private readonly clock: Clock, private readonly cache: ReadCache) {}

  async create(input: { username: string; email: string; isAdmin?: boolean }): Promise<User> {
    const now = nowIso(this.clock.now());
    const row: User = {
      id: newId(),
      username: input.username,
      email: input.email,
      status: 'active',
      is_admin: input.isAdmin ? 1 : 0,
      created_at: now,
      updated_at: now,
    };
    await this.db.insertInto('users').values(row).execute();
    return row;
  }

  async byId(id: string): Promise<User | undefined> {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async byUsername(username: string): Promise<User | undefined> {
    return this.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
  }

  async setStatus(id: string, status: 'active' | 'suspended'): Promise<void> {
    await this.db.updateTable('users').set({ status, updated_at: nowIso(this.clock.now()) }).where('id', '=', id).execute();
    this.cache.everything();
  }

  /** Creates an API key in Coder's `<10-char id>-<22-char secret>` form; only the secret's SHA-256 is stored. */
  async createApiKey(userId: string, lifetimeSeconds = DEFAULT_API_KEY_LIFETIME_SECONDS): Promise<{ key: string; row: ApiKey }> {
    const id = randomAlnum(10);
    const secret = randomAlnum(22);
    const now = this.clock.now();
    const row: ApiKey = {
      id,
      hashed_secret: sha256Hex(secret),
      user_id: userId,
      created_at: nowIso(now),
      updated_at: nowIso(now),
      last_used: nowIso(now),
      expires_at: nowIso(now + lifetimeSeconds * 1000),
      lifetime_seconds: lifetimeSeconds,
      ip_address: '',
    };
    await this.db.insertInto('api_keys').values(row).execute();
    return { key: `${id}-${secret}`, row };
  }

  /** The key and its user, served from the read cache when fresh. */
  async apiKeyWithUser(id: string): Promise<{ key: ApiKey; user: User } | undefined> {
    return this.cache.apiKeys.getOrLoad(id, () => this.loadApiKeyWithUser(id));
  }

  private async loadApiKeyWithUser(id: string): Promise<{ key: ApiKey; user: User } | undefined> {
    const row = await this.db
      .selectFrom('api_keys')
      .innerJoin('users', 'users.id', 'api_keys.user_id')
      .select([
        'api_keys.id as k_id',
        'api_keys.hashed_secret',
        'api_keys.user_id',
        'api_keys.created_at as k_created_at',
        'api_keys.updated_at as k_updated_at',
        'api_keys.last_used',
        'api_keys.expires_at',
        'api_keys.lifetime_seconds',
        'api_keys.ip_address',
        'users.username',
        'users.email',
        'users.status',
        'users.is_admin',
        'users.created_at as u_created_at',
        'users.updated_at as u_updated_at',
      ])
      .where('api_keys.id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      key: {
        id: row.k_id,
        hashed_secret: row.hashed_secret,
        user_id: row.user_id,
        created_at: row.k_created_at,
        updated_at: row.k_updated_at,
        last_used: row.last_used,
        expires_at: row.expires_at,
        lifetime_seconds: row.lifetime_seconds,
        ip_address: row.ip_address,
      },
      user: {
        id: row.user_id,
        username: row.username,
        email: row.email,
        status: row.status,
        is_admin: row.is_admin,
        created_at: row.u_created_at,
        updated_at: row.u_updated_at,
      },
    };
  }

  async touchApiKey(id: string, fields: { last_used?: string; expires_at?: string; ip_address?: string }): Promise<void> {
    await this.db.updateTable('api_keys').set({ ...fields, updated_at: nowIso(this.clock.now()) }).where('id', '=', id).execute();
    this.cache.apiKeyChanged(id);
  }
}
