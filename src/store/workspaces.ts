import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database, WorkspacesTable, WorkspaceBuildsTable, WorkspaceAgentsTable, WorkspaceAppsTable } from './schema.js';
import { newId, nowIso, sha256Hex } from './ids.js';
import type { Clock } from '../util/clock.js';
import type { AgentSpec } from '../provisioning/schema.js';
import type { AgentReported, AgentView, ReadCache } from './read-cache.js';

export type Workspace = Selectable<WorkspacesTable>;
export type WorkspaceBuild = Selectable<WorkspaceBuildsTable>;
export type Agent = Selectable<WorkspaceAgentsTable>;
export type App = Selectable<WorkspaceAppsTable>;

/** An agent with what most handlers need next to it. */
export interface AgentContext {
  agent: Agent;
  workspace: Workspace;
  build: WorkspaceBuild;
  ownerId: string;
  ownerUsername: string;
}

export interface ProvisionedAgent {
  id: string;
  name: string;
  auth: string;
  /** Plaintext token, only for auth=token; shown once. */
  token: string | null;
  instance_id: string | null;
  apps: { id: string; slug: string }[];
}

export interface ProvisionedBuild {
  workspace_id: string;
  build_id: string;
  build_number: number;
  agents: ProvisionedAgent[];
}

/** How many token hashes per agent stay valid (instance-identity agents re-exchange on every reconnect). */
export const MAX_TOKENS_PER_AGENT = 5;

export class WorkspaceRepo {
  constructor(private readonly db: Kysely<Database>, private readonly clock: Clock, private readonly cache: ReadCache) {}

  async create(input: { ownerId: string; name: string; ttlMs: number | null; agents: AgentSpec[] }): Promise<ProvisionedBuild> {
    return this.db.transaction().execute(async (trx) => {
      const now = nowIso(this.clock.now());
      const workspaceId = newId();
      await trx
        .insertInto('workspaces')
        .values({ id: workspaceId, owner_id: input.ownerId, name: input.name, created_at: now, updated_at: now, last_used_at: now, ttl_ms: input.ttlMs, latest_build_id: null })
        .execute();
      return this.insertBuild(trx, workspaceId, 1, 'start', input.agents);
    });
  }

  /** A new build: new agents and tokens; the previous build is no longer latest. */
  async createBuild(workspaceId: string, transition: 'start' | 'stop', agents: AgentSpec[]): Promise<ProvisionedBuild> {
    return this.db.transaction().execute(async (trx) => {
      // Touch the workspace row first: on PostgreSQL this row lock serializes concurrent builds of
      // one workspace, so each reads the other's build number (else both pick max+1 → unique violation).
      await trx.updateTable('workspaces').set({ updated_at: nowIso(this.clock.now()) }).where('id', '=', workspaceId).execute();
      const last = await trx
        .selectFrom('workspace_builds')
        .select((eb) => eb.fn.max('build_number').as('n'))
        .where('workspace_id', '=', workspaceId)
        .executeTakeFirst();
      const next = Number(last?.n ?? 0) + 1;
      return this.insertBuild(trx, workspaceId, next, transition, agents);
    }).finally(() => this.cache.everything());
  }

  private async insertBuild(trx: Transaction<Database>, workspaceId: string, number: number, transition: string, agents: AgentSpec[]): Promise<ProvisionedBuild> {
    const nowMs = this.clock.now();
    const now = nowIso(nowMs);
    const buildId = newId();
    const ws = await trx.selectFrom('workspaces').select(['ttl_ms']).where('id', '=', workspaceId).executeTakeFirstOrThrow();
    await trx
      .insertInto('workspace_builds')
      .values({
        id: buildId,
        workspace_id: workspaceId,
        build_number: number,
        transition,
        job_type: 'workspace_build',
        job_completed_at: now,
        deadline: ws.ttl_ms ? nowIso(nowMs + ws.ttl_ms) : null,
        max_deadline: null,
        created_at: now,
        updated_at: now,
      })
      .execute();
    await trx.updateTable('workspaces').set({ latest_build_id: buildId, updated_at: now }).where('id', '=', workspaceId).execute();
    const provisioned: ProvisionedAgent[] = [];
    for (const spec of agents) {
      const agentId = newId();
      await trx
        .insertInto('workspace_agents')
        .values({
          id: agentId,
          workspace_id: workspaceId,
          build_id: buildId,
          resource_id: newId(),
          name: spec.name,
          created_at: now,
          updated_at: now,
          first_connected_at: null,
          last_connected_at: null,
          disconnected_at: null,
          last_connected_replica_id: null,
          auth_type: spec.auth,
          auth_instance_id: spec.instance_id ?? null,
          architecture: spec.architecture,
          operating_system: spec.operating_system,
          environment_variables: spec.env === null ? null : JSON.stringify(spec.env),
          startup_script: spec.startup_script,
          startup_script_timeout_seconds: spec.startup_script_timeout_seconds,
          directory: spec.directory,
          expanded_directory: '',
          motd_file: spec.motd_file,
          connection_timeout_seconds: spec.connection_timeout_seconds,
          troubleshooting_url: spec.troubleshooting_url,
          login_before_ready: spec.login_before_ready ? 1 : 0,
          version: '',
          lifecycle_state: 'created',
          metadata_descriptions: spec.metadata.length > 0 ? JSON.stringify(spec.metadata) : null,
        })
        .execute();
      let token: string | null = null;
      if (spec.auth === 'token') {
        token = crypto.randomUUID();
        await trx.insertInto('agent_tokens').values({ hashed_token: sha256Hex(token), agent_id: agentId, created_at: now }).execute();
      }
      const apps: { id: string; slug: string }[] = [];
      for (const app of spec.apps) {
        const appId = newId();
        apps.push({ id: appId, slug: app.slug });
        await trx
          .insertInto('workspace_apps')
          .values({
            id: appId,
            agent_id: agentId,
            slug: app.slug,
            display_name: app.display_name ?? app.slug,
            url: app.url,
            command: app.command,
            icon: app.icon,
            subdomain: app.subdomain ? 1 : 0,
            external: app.external ? 1 : 0,
            sharing_level: app.sharing_level,
            healthcheck_url: app.healthcheck?.url ?? '',
            healthcheck_interval: app.healthcheck?.interval ?? 0,
            healthcheck_threshold: app.healthcheck?.threshold ?? 0,
            health: app.healthcheck ? 'initializing' : 'disabled',
            created_at: now,
          })
          .execute();
      }
      provisioned.push({ id: agentId, name: spec.name, auth: spec.auth, token, instance_id: spec.instance_id ?? null, apps });
    }
    return { workspace_id: workspaceId, build_id: buildId, build_number: number, agents: provisioned };
  }

  async byId(id: string): Promise<Workspace | undefined> {
    return this.db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async byOwnerAndName(ownerId: string, name: string): Promise<Workspace | undefined> {
    return this.db.selectFrom('workspaces').selectAll().where('owner_id', '=', ownerId).where('name', '=', name).executeTakeFirst();
  }

  async touchLastUsed(workspaceId: string): Promise<void> {
    await this.db.updateTable('workspaces').set({ last_used_at: nowIso(this.clock.now()) }).where('id', '=', workspaceId).execute();
  }

  /** Activity bump (coderd activitybump.go): extend a running build's deadline by the TTL. */
  async bumpDeadline(workspaceId: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const ws = await trx.selectFrom('workspaces').select(['ttl_ms', 'latest_build_id']).where('id', '=', workspaceId).executeTakeFirst();
      if (!ws?.latest_build_id || !ws.ttl_ms) return false;
      const build = await trx.selectFrom('workspace_builds').selectAll().where('id', '=', ws.latest_build_id).executeTakeFirst();
      if (!build || build.transition !== 'start' || !build.job_completed_at || !build.deadline) return false;
      const now = this.clock.now();
      const ttl = Number(ws.ttl_ms);
      const untilDeadline = Date.parse(build.deadline) - now;
      if (ttl - untilDeadline < ttl / 20) return false;
      let next = now + ttl;
      if (build.max_deadline) next = Math.min(next, Date.parse(build.max_deadline));
      await trx.updateTable('workspace_builds').set({ deadline: nowIso(next), updated_at: nowIso(now) }).where('id', '=', build.id).execute();
      return true;
    });
  }
}

export class AgentRepo {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly cache: ReadCache,
    private readonly loadReported: (agentId: string) => Promise<AgentReported>,
  ) {}

  /** The agent a token belongs to, served from the read cache when fresh. */
  async byTokenHash(hash: string): Promise<Agent | undefined> {
    return this.cache.agentsByToken.getOrLoad(hash, () => this.loadByTokenHash(hash));
  }

  /** Agent context and apps for read-only handlers (GET agent), from the read cache when fresh. */
  async view(agentId: string): Promise<AgentView | undefined> {
    return this.cache.agentViews.getOrLoad(agentId, async () => {
      const context = await this.context(agentId);
      if (!context) return undefined;
      const [apps, reported] = await Promise.all([this.apps(agentId), this.loadReported(agentId)]);
      return { context, apps, reported };
    });
  }

  private async loadByTokenHash(hash: string): Promise<Agent | undefined> {
    return this.db
      .selectFrom('agent_tokens')
      .innerJoin('workspace_agents', 'workspace_agents.id', 'agent_tokens.agent_id')
      .selectAll('workspace_agents')
      .where('agent_tokens.hashed_token', '=', hash)
      .orderBy('agent_tokens.created_at', 'desc')
      .executeTakeFirst();
  }

  async byId(id: string): Promise<Agent | undefined> {
    return this.db.selectFrom('workspace_agents').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Agent, its build, workspace and owner in one round trip. */
  async context(agentId: string): Promise<AgentContext | undefined> {
    const row = await this.db
      .selectFrom('workspace_agents as a')
      .innerJoin('workspace_builds as b', 'b.id', 'a.build_id')
      .innerJoin('workspaces as w', 'w.id', 'a.workspace_id')
      .innerJoin('users as u', 'u.id', 'w.owner_id')
      .selectAll('a')
      .select([
        'b.workspace_id as b_workspace_id',
        'b.build_number as b_build_number',
        'b.transition as b_transition',
        'b.job_type as b_job_type',
        'b.job_completed_at as b_job_completed_at',
        'b.deadline as b_deadline',
        'b.max_deadline as b_max_deadline',
        'b.created_at as b_created_at',
        'b.updated_at as b_updated_at',
        'w.owner_id as w_owner_id',
        'w.name as w_name',
        'w.created_at as w_created_at',
        'w.updated_at as w_updated_at',
        'w.last_used_at as w_last_used_at',
        'w.ttl_ms as w_ttl_ms',
        'w.latest_build_id as w_latest_build_id',
        'u.username as u_username',
      ])
      .where('a.id', '=', agentId)
      .executeTakeFirst();
    if (!row) return undefined;
    const {
      b_workspace_id, b_build_number, b_transition, b_job_type, b_job_completed_at, b_deadline, b_max_deadline, b_created_at, b_updated_at,
      w_owner_id, w_name, w_created_at, w_updated_at, w_last_used_at, w_ttl_ms, w_latest_build_id, u_username, ...agent
    } = row;
    return {
      agent,
      build: {
        id: agent.build_id, workspace_id: b_workspace_id, build_number: b_build_number, transition: b_transition, job_type: b_job_type,
        job_completed_at: b_job_completed_at, deadline: b_deadline, max_deadline: b_max_deadline, created_at: b_created_at, updated_at: b_updated_at,
      },
      workspace: {
        id: agent.workspace_id, owner_id: w_owner_id, name: w_name, created_at: w_created_at, updated_at: w_updated_at,
        last_used_at: w_last_used_at, ttl_ms: w_ttl_ms, latest_build_id: w_latest_build_id,
      },
      ownerId: w_owner_id,
      ownerUsername: u_username,
    };
  }

  async isLatestBuild(agentId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('workspace_agents as a')
      .innerJoin('workspaces as w', 'w.id', 'a.workspace_id')
      .select(['a.build_id', 'w.latest_build_id'])
      .where('a.id', '=', agentId)
      .executeTakeFirst();
    return !!row && row.build_id === row.latest_build_id;
  }

  async apps(agentId: string): Promise<App[]> {
    return this.db.selectFrom('workspace_apps').selectAll().where('agent_id', '=', agentId).orderBy('slug').execute();
  }

  async setAppHealths(agentId: string, updates: { id: string; health: string }[]): Promise<void> {
    if (updates.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (const u of updates) await trx.updateTable('workspace_apps').set({ health: u.health }).where('id', '=', u.id).where('agent_id', '=', agentId).execute();
    });
    this.cache.agentChanged(agentId);
  }

  async setStartup(agentId: string, version: string, expandedDirectory: string): Promise<void> {
    await this.db
      .updateTable('workspace_agents')
      .set({ version, expanded_directory: expandedDirectory, updated_at: nowIso(this.clock.now()) })
      .where('id', '=', agentId)
      .execute();
    this.cache.agentChanged(agentId);
  }

  async setLifecycle(agentId: string, state: string): Promise<void> {
    await this.db.updateTable('workspace_agents').set({ lifecycle_state: state, updated_at: nowIso(this.clock.now()) }).where('id', '=', agentId).execute();
    this.cache.agentChanged(agentId);
  }

  async setConnection(agentId: string, fields: { first_connected_at: string | null; last_connected_at: string | null; disconnected_at: string | null; replicaId: string }): Promise<void> {
    await this.db
      .updateTable('workspace_agents')
      .set({
        first_connected_at: fields.first_connected_at,
        last_connected_at: fields.last_connected_at,
        disconnected_at: fields.disconnected_at,
        last_connected_replica_id: fields.replicaId,
        updated_at: nowIso(this.clock.now()),
      })
      .where('id', '=', agentId)
      .execute();
    this.cache.agentChanged(agentId);
  }

  /** Agent coordinate connected: first_connected_at kept if set, last_connected_at = at. */
  async recordConnected(agentId: string, at: string, replicaId: string): Promise<void> {
    const row = await this.db.selectFrom('workspace_agents').select(['first_connected_at']).where('id', '=', agentId).executeTakeFirst();
    await this.db
      .updateTable('workspace_agents')
      .set({ first_connected_at: row?.first_connected_at ?? at, last_connected_at: at, last_connected_replica_id: replicaId, updated_at: at })
      .where('id', '=', agentId)
      .execute();
    this.cache.agentChanged(agentId);
  }

  /** Heartbeat of a connected agent: refresh last_connected_at. */
  async recordHeartbeat(agentId: string, at: string, replicaId: string): Promise<void> {
    await this.db.updateTable('workspace_agents').set({ last_connected_at: at, last_connected_replica_id: replicaId, updated_at: at }).where('id', '=', agentId).execute();
    this.cache.agentChanged(agentId);
  }

  /** Agent coordinate ended: disconnected_at = at, last_connected_at kept. */
  async recordDisconnected(agentId: string, at: string, replicaId: string): Promise<void> {
    await this.db.updateTable('workspace_agents').set({ disconnected_at: at, last_connected_replica_id: replicaId, updated_at: at }).where('id', '=', agentId).execute();
    this.cache.agentChanged(agentId);
  }

  /** Newest agent provisioned with this cloud instance id, and whether its build is current. */
  async newestByInstanceId(instanceId: string): Promise<{ agentId: string; buildIsLatest: boolean } | undefined> {
    const row = await this.db
      .selectFrom('workspace_agents as a')
      .innerJoin('workspaces as w', 'w.id', 'a.workspace_id')
      .select(['a.id', 'a.build_id', 'w.latest_build_id'])
      .where('a.auth_instance_id', '=', instanceId)
      .orderBy('a.created_at', 'desc')
      .executeTakeFirst();
    return row ? { agentId: row.id, buildIsLatest: row.build_id === row.latest_build_id } : undefined;
  }

  /** Mints a fresh agent token (only its hash is stored), keeping the newest few valid. */
  async issueToken(agentId: string): Promise<string> {
    const token = crypto.randomUUID();
    const hash = sha256Hex(token);
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('agent_tokens').values({ hashed_token: hash, agent_id: agentId, created_at: nowIso(this.clock.now()) }).execute();
      // The new token always survives: several tokens minted in the same millisecond tie on created_at.
      const stale = await trx
        .selectFrom('agent_tokens')
        .select('hashed_token')
        .where('agent_id', '=', agentId)
        .where('hashed_token', '!=', hash)
        .orderBy('created_at', 'desc')
        .orderBy('hashed_token')
        .offset(MAX_TOKENS_PER_AGENT - 1)
        .limit(1000)
        .execute();
      if (stale.length > 0) await trx.deleteFrom('agent_tokens').where('hashed_token', 'in', stale.map((s) => s.hashed_token)).execute();
    });
    this.cache.agentChanged(agentId);
    return token;
  }

  async listByWorkspace(workspaceId: string): Promise<Agent[]> {
    return this.db.selectFrom('workspace_agents').selectAll().where('workspace_id', '=', workspaceId).orderBy('created_at').execute();
  }
}
