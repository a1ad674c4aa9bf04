/**
 * Provisioning operations shared by the CLI and the admin REST API.
 */
import type { Store, ProvisionedBuild, User } from '../store/index.js';
import { isUuid } from '../store/ids.js';
import type { CreateBuildInput, CreateWorkspaceInput, GitAuthLinkInput, GitAuthProviderInput } from './schema.js';

export class ProvisioningError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export interface CreatedUser {
  id: string;
  username: string;
  email: string;
  admin: boolean;
  api_key: string;
}

/** A unique/primary-key violation from SQLite or PostgreSQL: a concurrent create won the race. */
export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

async function conflictAs409<T>(message: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isUniqueViolation(e)) throw new ProvisioningError(409, message);
    throw e;
  }
}

export class Provisioning {
  constructor(private readonly store: Store) {}

  async createUser(input: { username: string; email: string; admin: boolean }): Promise<CreatedUser> {
    if (await this.store.users.byUsername(input.username)) throw new ProvisioningError(409, `User "${input.username}" already exists.`);
    const user = await conflictAs409(`User "${input.username}" already exists.`, () =>
      this.store.users.create({ username: input.username, email: input.email, isAdmin: input.admin }),
    );
    const { key } = await this.store.users.createApiKey(user.id);
    return { id: user.id, username: user.username, email: user.email, admin: input.admin, api_key: key };
  }

  async createApiKey(userRef: string): Promise<{ user_id: string; api_key: string }> {
    const user = await this.resolveUser(userRef);
    const { key } = await this.store.users.createApiKey(user.id);
    return { user_id: user.id, api_key: key };
  }

  async createWorkspace(input: CreateWorkspaceInput): Promise<ProvisionedBuild> {
    const owner = await this.resolveUser(input.owner);
    if (await this.store.workspaces.byOwnerAndName(owner.id, input.name)) {
      throw new ProvisioningError(409, `Workspace "${input.name}" already exists for ${owner.username}.`);
    }
    return conflictAs409(`Workspace "${input.name}" already exists for ${owner.username}.`, () =>
      this.store.workspaces.create({ ownerId: owner.id, name: input.name, ttlMs: input.ttl_ms, agents: input.agents }),
    );
  }

  async createBuild(workspaceId: string, input: CreateBuildInput): Promise<ProvisionedBuild> {
    if (!isUuid(workspaceId) || !(await this.store.workspaces.byId(workspaceId))) throw new ProvisioningError(404, `Workspace "${workspaceId}" not found.`);
    return this.store.workspaces.createBuild(workspaceId, input.transition, input.agents);
  }

  async addGitAuthProvider(input: GitAuthProviderInput): Promise<{ id: string; type: string; regex: string; position: number }> {
    if (await this.store.gitauth.provider(input.id)) throw new ProvisioningError(409, `Git auth provider "${input.id}" already exists.`);
    const row = await conflictAs409(`Git auth provider "${input.id}" already exists.`, () => this.store.gitauth.addProvider(input));
    return { id: row.id, type: row.type, regex: row.regex, position: Number(row.position) };
  }

  async addGitAuthLink(input: GitAuthLinkInput): Promise<{ provider_id: string; user_id: string }> {
    const user = await this.resolveUser(input.user);
    if (!(await this.store.gitauth.provider(input.provider_id))) throw new ProvisioningError(404, `Git auth provider "${input.provider_id}" not found.`);
    await this.store.gitauth.upsertLink({
      providerId: input.provider_id,
      userId: user.id,
      accessToken: input.access_token,
      refreshToken: input.refresh_token,
      expiry: input.expiry === null ? null : new Date(input.expiry).toISOString(),
    });
    return { provider_id: input.provider_id, user_id: user.id };
  }

  async resolveUser(ref: string): Promise<User> {
    const user = isUuid(ref) ? await this.store.users.byId(ref.toLowerCase()) : await this.store.users.byUsername(ref);
    if (!user) throw new ProvisioningError(404, `User "${ref}" not found.`);
    return user;
  }
}
