/**
 * Authentication and authorization as coderd's httpmw does it, with its exact 401/404 texts.
 */
import type { RequestContext } from './http/context.js';
import { sessionToken } from './http/context.js';
import { apiError, ApiError, Msg, notFound } from './http/errors.js';
import type { Store, Agent, AgentContext, User, ApiKey } from '../store/index.js';
import type { AgentView } from '../store/read-cache.js';
import { equalHex, isUuid, nowIso, parseGoUuid, sha256Hex } from '../store/ids.js';
import type { Clock } from '../util/clock.js';

const HOUR_MS = 60 * 60 * 1000;

export async function authenticateAgent(ctx: RequestContext, store: Store): Promise<Agent> {
  const token = sessionToken(ctx.req, ctx.url);
  if (!token) throw apiError(401, 'Cookie "coder_session_token" must be provided.');
  const canonical = parseGoUuid(token);
  if (!canonical) throw apiError(401, 'Workspace agent token invalid.', `An agent token must be a valid UUIDv4. (len ${token.length})`);
  let agent: Agent | undefined;
  try {
    agent = await store.agents.byTokenHash(sha256Hex(canonical));
  } catch (err) {
    throw apiError(500, 'Internal error fetching workspace agent.', String(err));
  }
  if (!agent) {
    throw apiError(
      401,
      'Workspace agent not authorized.',
      'The agent cannot authenticate until the workspace provision job has been completed. If the job is no longer running, this agent is invalid.',
    );
  }
  return agent;
}

export interface Session {
  user: User;
  key: ApiKey;
}

export async function authenticateUser(ctx: RequestContext, store: Store, clock: Clock): Promise<Session> {
  const token = sessionToken(ctx.req, ctx.url);
  if (!token) throw apiError(401, Msg.signedOut, 'Cookie "coder_session_token" or query parameter must be provided.');
  const parts = token.split('-');
  const formatProblem =
    parts.length !== 2
      ? `incorrect amount of API key parts, expected 2 got ${parts.length}`
      : parts[0]!.length !== 10
        ? `invalid API key ID length, expected 10 got ${parts[0]!.length}`
        : parts[1]!.length !== 22
          ? `invalid API key secret length, expected 22 got ${parts[1]!.length}`
          : null;
  if (formatProblem) throw apiError(401, Msg.signedOut, `Invalid API key format: ${formatProblem}`);
  const [id, secret] = parts as [string, string];
  let found: Session | undefined = store.cache.verifiedTokens.get(token);
  if (!found) {
    try {
      const row = await store.users.apiKeyWithUser(id);
      if (row) found = { user: row.user, key: row.key };
    } catch (err) {
      throw apiError(500, 'Internal error fetching API key by id.', String(err));
    }
    if (!found) throw apiError(401, Msg.signedOut, 'API key is invalid.');
    if (!equalHex(sha256Hex(secret), found.key.hashed_secret)) throw apiError(401, Msg.signedOut, 'API key secret is invalid.');
    store.cache.verifiedTokens.set(token, found);
  }
  const now = clock.now();
  const expiresAt = Date.parse(found.key.expires_at);
  if (expiresAt < now) throw apiError(401, Msg.signedOut, `API key expired at "${goTimeString(expiresAt)}".`);
  if (found.user.status !== 'active') {
    throw apiError(401, `User is not active (status = "${found.user.status}"). Contact an admin to reactivate your account.`);
  }
  // coderd refreshes last_used at most hourly and slides expiry once an hour of lifetime has passed.
  const changes: { last_used?: string; expires_at?: string; ip_address?: string } = {};
  if (now - Date.parse(found.key.last_used) > HOUR_MS) {
    changes.last_used = nowIso(now);
    changes.ip_address = ctx.remoteAddress;
  }
  const lifetimeMs = Number(found.key.lifetime_seconds) * 1000;
  if (expiresAt - now <= lifetimeMs - HOUR_MS) changes.expires_at = nowIso(now + lifetimeMs);
  if (Object.keys(changes).length > 0) await store.users.touchApiKey(id, changes);
  return found;
}

/**
 * authenticateUser's answer when it needs no I/O: the token was verified recently, the key is
 * valid and needs no last_used/expiry write. Anything else → null (the caller falls back).
 */
export function cachedUserSession(ctx: RequestContext, store: Store, clock: Clock): Session | null {
  const token = sessionToken(ctx.req, ctx.url);
  if (!token) return null;
  const found = store.cache.verifiedTokens.get(token);
  if (!found) return null;
  const now = clock.now();
  const expiresAt = Date.parse(found.key.expires_at);
  if (expiresAt < now || found.user.status !== 'active') return null;
  if (now - Date.parse(found.key.last_used) > HOUR_MS) return null;
  if (expiresAt - now <= Number(found.key.lifetime_seconds) * 1000 - HOUR_MS) return null;
  return found;
}

/** loadAgentView's answer from the read cache alone, or null (miss, bad id, denial: the async path answers). */
export function cachedAgentView(ctx: RequestContext, store: Store, session: Session): AgentView | null {
  const raw = ctx.params['workspaceagent'];
  if (!raw || !isUuid(raw)) return null;
  const view = store.cache.agentViews.get(raw.toLowerCase());
  if (!view || view.context.build.job_type !== 'workspace_build' || !authorized(session.user, view.context.ownerId, 'read')) return null;
  return view;
}

export async function requireAdmin(ctx: RequestContext, store: Store, clock: Clock): Promise<Session> {
  const session = await authenticateUser(ctx, store, clock);
  if (!session.user.is_admin) throw notFound();
  return session;
}

/** time.Time's String() form for a UTC instant, as coderd prints it: "2006-01-02 15:04:05.999999999 +0000 UTC". */
export function goTimeString(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2023-03-31T12:00:00.123Z
  const frac = iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac ? '.' + frac : ''} +0000 UTC`;
}

export type Permission = 'read' | 'execute';

/** Site admins and the workspace owner may read and execute; everyone else sees the generic 404. */
export function authorized(user: User, ownerId: string, _permission: Permission): boolean {
  return user.is_admin === 1 || user.id === ownerId;
}

/** The {workspaceagent} path middleware of §1.4 followed by the permission check of §1.5. */
export async function loadAgentParam(ctx: RequestContext, store: Store, session: Session, permission: Permission): Promise<AgentContext> {
  return (await loadAgentView(ctx, store, session, permission)).context;
}

/** loadAgentParam plus the agent's apps, from the store's short-lived read cache. */
export async function loadAgentView(ctx: RequestContext, store: Store, session: Session, permission: Permission): Promise<AgentView> {
  const raw = ctx.params['workspaceagent'] ?? '';
  if (!raw) throw apiError(400, 'Missing UUID in URL.');
  if (!isUuid(raw)) throw apiError(400, `Invalid UUID "${raw}".`, `invalid UUID length: ${raw.length}`);
  let view: AgentView | undefined;
  try {
    view = await store.agents.view(raw.toLowerCase());
  } catch (err) {
    throw apiError(500, 'Internal error fetching workspace agent.', String(err));
  }
  const found = view?.context;
  if (!found || !authorized(session.user, found.ownerId, 'read')) {
    throw apiError(404, "Agent doesn't exist with that id, or you do not have access to it.");
  }
  if (found.build.job_type !== 'workspace_build') throw apiError(400, 'Workspace agents can only be fetched for builds.');
  if (!authorized(session.user, found.ownerId, permission)) throw notFound();
  return view!;
}

export { ApiError };
