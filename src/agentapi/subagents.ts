/**
 * CreateSubAgent / ListSubAgents / DeleteSubAgent (API 2.6, `id` on create 2.8), with
 * coderd/agentapi/subagent.go's rules and error texts:
 *
 *   create ─ display apps valid? ─ id given? ─yes─► must be my child ─► update display apps (+directory), new token
 *                                      └─no──► name valid ─► insert child row + token ─► apps one by one,
 *                                                            each failure reported in app_creation_errors
 *   list   ─► my children (tokens are stored hashed: auth_token is 16 zero bytes)
 *   delete ─► must be my child ─► row, token, apps gone ─► its live connections closed
 */
import { createHash } from 'node:crypto';
import * as ap from '../rpc/proto/agent.js';
import { uuidFromBytes, uuidToBytes } from '../rpc/convert/uuid.js';
import type { Store } from '../store/index.js';
import type { Clock } from '../util/clock.js';
import { agentApiExtras } from '../store/agent-api-extras.js';
import type { SubAgentAppSpec } from '../store/subagents.js';

/** provisioner.AgentNameRegex / AppSlugRegex (hostname-safe, no leading/trailing/double hyphen). */
export const AGENT_NAME_RE = /^[a-z0-9](-?[a-z0-9])*$/i;
export const APP_SLUG_RE = /^[a-z0-9](-?[a-z0-9])*$/;
const AGENT_NAME_RE_TEXT = '(?i)^[a-z0-9](-?[a-z0-9])*$';
const APP_SLUG_RE_TEXT = '^[a-z0-9](-?[a-z0-9])*$';

const DISPLAY_APPS: Record<number, string> = {
  [ap.DisplayApp.VSCODE]: 'vscode',
  [ap.DisplayApp.VSCODE_INSIDERS]: 'vscode_insiders',
  [ap.DisplayApp.WEB_TERMINAL]: 'web_terminal',
  [ap.DisplayApp.SSH_HELPER]: 'ssh_helper',
  [ap.DisplayApp.PORT_FORWARDING_HELPER]: 'port_forwarding_helper',
};
/** tailnetd has no organizations: ORGANIZATION sharing is stored as "authenticated". */
const SHARE: Record<number, string> = {
  [ap.SubAgentAppShare.OWNER]: 'owner',
  [ap.SubAgentAppShare.AUTHENTICATED]: 'authenticated',
  [ap.SubAgentAppShare.PUBLIC]: 'public',
  [ap.SubAgentAppShare.ORGANIZATION]: 'authenticated',
};

/** Go's codersdk.ValidationError text. */
class FieldError extends Error {
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(`field: ${field} detail: ${detail}`);
  }
}

const ZERO_TOKEN = new Uint8Array(16);

/** Go's uuid.FromBytes error text. */
function parseId(b: Uint8Array): string {
  if (b.length !== 16) throw new Error(`invalid UUID (got ${b.length} bytes)`);
  return uuidFromBytes(b);
}

/**
 * Coder keeps sub-agent app slugs unique per workspace by prefixing eight characters of the
 * lower-cased, unpadded base32hex SHA-256 of "<agent name>/<slug>".
 */
export function subAgentAppSlug(agentName: string, slug: string): string {
  const h = createHash('sha256').update(`${agentName}/${slug}`).digest();
  const alphabet = '0123456789abcdefghijklmnopqrstuv';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of h) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 8) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length === 8) break;
    value &= (1 << bits) - 1;
  }
  return `${out}-${slug}`;
}

function appSpec(app: ap.SubAgentApp, agentName: string, seen: Set<string>): SubAgentAppSpec {
  const slug = app.slug;
  if (slug === '') throw new FieldError('slug', 'must not be empty');
  if (!APP_SLUG_RE.test(slug)) throw new FieldError('slug', `${JSON.stringify(slug)} does not match regex ${JSON.stringify(APP_SLUG_RE_TEXT)}`);
  if (seen.has(slug)) throw new FieldError('slug', `${JSON.stringify(slug)} is already in use`);
  seen.add(slug);
  const share = SHARE[app.share ?? ap.SubAgentAppShare.OWNER];
  if (share === undefined) throw new FieldError('share', `${JSON.stringify(String(app.share))} is not a valid app sharing level`);
  const openIn = app.openIn ?? ap.SubAgentAppOpenIn.SLIM_WINDOW;
  if (openIn !== ap.SubAgentAppOpenIn.SLIM_WINDOW && openIn !== ap.SubAgentAppOpenIn.TAB) {
    throw new FieldError('open_in', `${JSON.stringify(String(openIn))} is not an open in setting`);
  }
  const hc = app.healthcheck ?? { url: '', interval: 0, threshold: 0 };
  return {
    slug: subAgentAppSlug(agentName, slug),
    displayName: app.displayName ?? '',
    url: app.url ?? '',
    command: app.command ?? '',
    icon: app.icon ?? '',
    subdomain: app.subdomain ?? false,
    external: app.external ?? false,
    sharingLevel: share,
    healthcheckUrl: hc.url,
    healthcheckInterval: hc.interval,
    healthcheckThreshold: hc.threshold,
  };
}

export interface SubAgentDeps {
  store: Store;
  clock: Clock;
  /** Closes this replica's live connections of a deleted sub-agent. */
  onSubAgentDeleted?: (agentId: string) => void;
}

export async function createSubAgent(deps: SubAgentDeps, parentId: string, req: ap.CreateSubAgentRequest): Promise<ap.CreateSubAgentResponse> {
  const displayApps = req.displayApps.map((d, i) => {
    const name = DISPLAY_APPS[d];
    if (name === undefined) throw new FieldError(`display_apps[${i}]`, `${JSON.stringify(String(d))} is not a valid display app`);
    return name;
  });
  const parent = await deps.store.agents.byId(parentId);
  if (!parent) throw new Error('get parent agent: sql: no rows in result set');
  const { subAgents } = agentApiExtras(deps.store, deps.clock);

  if (req.id !== undefined) {
    // A sub-agent defined ahead of time: update what the dev container decides, keep the rest.
    let id: string;
    try {
      id = parseId(req.id);
    } catch (e) {
      throw new Error(`parse agent id: ${(e as Error).message}`);
    }
    const child = await deps.store.agents.byId(id);
    if (!child) throw new Error('get workspace agent by id: sql: no rows in result set');
    if (child.parent_id !== parent.id) throw new Error('subagent does not belong to this parent agent');
    await subAgents.updateConfig(id, displayApps, req.directory);
    // Only token hashes are stored, so the token this answer must carry is a fresh one.
    const token = await subAgents.rotateToken(id);
    return { agent: { name: child.name, id: uuidToBytes(id), authToken: uuidToBytes(token) }, appCreationErrors: [] };
  }

  if (req.name === '') throw new FieldError('name', 'agent name cannot be empty');
  if (!AGENT_NAME_RE.test(req.name)) throw new FieldError('name', `agent name ${JSON.stringify(req.name)} does not match regex ${JSON.stringify(AGENT_NAME_RE_TEXT)}`);

  const { agent, token } = await subAgents.create(parent, {
    name: req.name,
    directory: req.directory,
    architecture: req.architecture,
    operatingSystem: req.operatingSystem,
    displayApps,
  });
  const appCreationErrors: ap.AppCreationError[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < req.apps.length; i++) {
    try {
      const spec = appSpec(req.apps[i]!, agent.name, seen);
      await subAgents.insertApp(agent.id, spec).catch((e: unknown) => {
        throw new Error(`insert workspace app: ${e instanceof Error ? e.message : String(e)}`);
      });
    } catch (e) {
      if (e instanceof FieldError) appCreationErrors.push({ index: i, field: e.field, error: e.detail });
      else appCreationErrors.push({ index: i, error: e instanceof Error ? e.message : String(e) });
    }
  }
  return { agent: { name: agent.name, id: uuidToBytes(agent.id), authToken: uuidToBytes(token) }, appCreationErrors };
}

export async function listSubAgents(deps: SubAgentDeps, parentId: string): Promise<ap.ListSubAgentsResponse> {
  const children = await agentApiExtras(deps.store, deps.clock).subAgents.children(parentId);
  return { agents: children.map((c) => ({ name: c.name, id: uuidToBytes(c.id), authToken: ZERO_TOKEN })) };
}

export async function deleteSubAgent(deps: SubAgentDeps, parentId: string, req: ap.DeleteSubAgentRequest): Promise<ap.DeleteSubAgentResponse> {
  const id = parseId(req.id);
  const child = await deps.store.agents.byId(id);
  if (!child) throw new Error('sql: no rows in result set');
  // Coder's authorization error text (dbauthz.NotAuthorizedError wrapping rbac's "forbidden").
  if (child.parent_id !== parentId) throw new Error('unauthorized: forbidden');
  await agentApiExtras(deps.store, deps.clock).subAgents.remove(id);
  deps.onSubAgentDeleted?.(id);
  return {};
}
