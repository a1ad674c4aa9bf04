/**
 * UpdateAppStatus (API 2.8) and its REST twin PATCH /me/app-status: one rule set,
 * errors carrying the HTTP response Coder sends (codersdk.Response) so the REST
 * route answers it as JSON and the RPC as codersdk's error text.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/index.js';
import type { Clock } from '../util/clock.js';
import { agentApiExtras } from '../store/agent-api-extras.js';
import type { AppStatus } from '../store/app-statuses.js';

export const APP_STATUS_STATES = ['working', 'idle', 'complete', 'failure'] as const;
export type AppStatusState = (typeof APP_STATUS_STATES)[number];

/** Bytes (Go len), as coderd checks. */
export const APP_STATUS_MESSAGE_LIMIT = 160;
export const APP_STATUS_URI_LIMIT = 2048;

export interface ValidationItem {
  field: string;
  detail: string;
}

/** A codersdk.Response with its status; `message` is codersdk.Error's text for RPC callers. */
export class AppStatusError extends Error {
  constructor(
    readonly status: number,
    readonly response: { message: string; detail?: string; validations?: ValidationItem[] },
  ) {
    let text = `unexpected status code ${status}: ${response.message}`;
    if (response.detail) text += `\n\tError: ${response.detail}`;
    for (const v of response.validations ?? []) text += `\n\t${v.field}: ${v.detail}`;
    super(text);
  }
}

/** Untrusted text shown in the UI: no control characters or ANSI escapes, whitespace runs collapsed. */
export function sanitizeStatusMessage(s: string): string {
  return s
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '')
    .replace(/[\p{Cc}\p{Cf}]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

export interface AppStatusDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  /** Tells watchers of the workspace that something changed (workspace:<id> channel). */
  publishWorkspace: (workspaceId: string) => void;
}

export interface AppStatusUpdate {
  slug: string;
  /** Already mapped to a name; null = not one of the four states (`raw` is what was sent). */
  state: AppStatusState | null;
  raw: string;
  message: string;
  uri: string;
}

export async function updateAppStatus(deps: AppStatusDeps, agent: { id: string; workspaceId: string }, u: AppStatusUpdate): Promise<AppStatus> {
  if (Buffer.byteLength(u.message) > APP_STATUS_MESSAGE_LIMIT) {
    const detail = `Message must be less than ${APP_STATUS_MESSAGE_LIMIT} characters.`;
    throw new AppStatusError(400, { message: 'Message is too long.', detail, validations: [{ field: 'message', detail }] });
  }
  if (u.state === null) {
    throw new AppStatusError(400, {
      message: 'Invalid state provided.',
      detail: `invalid state: ${JSON.stringify(u.raw)}`,
      validations: [{ field: 'state', detail: 'State must be one of: complete, failure, working, idle.' }],
    });
  }
  if (u.uri !== '' && !validUri(u.uri)) {
    throw new AppStatusError(400, {
      message: 'Invalid URI provided.',
      detail: `invalid uri: ${JSON.stringify(u.uri.slice(0, 100))}`,
      validations: [{ field: 'uri', detail: `URI must be an absolute URI of at most ${APP_STATUS_URI_LIMIT} bytes.` }],
    });
  }
  const { store, clock } = deps;
  const app = (await store.agents.apps(agent.id)).find((a) => a.slug === u.slug);
  if (!app) throw new AppStatusError(400, { message: 'Failed to get workspace app.', detail: `No app found with slug ${JSON.stringify(u.slug)}` });
  const { appStatuses } = agentApiExtras(store, clock);
  const previous = await appStatuses.latest(app.id);
  const row = await appStatuses.insert({ workspaceId: agent.workspaceId, agentId: agent.id, appId: app.id, state: u.state, message: sanitizeStatusMessage(u.message), uri: u.uri === '' ? null : u.uri });
  // GET /{agent} shows statuses under apps[].statuses.
  store.cache.agentReportChanged(agent.id);
  deps.publishWorkspace(agent.workspaceId);
  // Working, or leaving working, keeps the workspace alive (coderd's activity bump); best effort.
  if (u.state === 'working' || previous?.state === 'working') {
    await store.workspaces.bumpDeadline(agent.workspaceId).catch((e: unknown) => deps.logger.warn({ err: String(e), workspace_id: agent.workspaceId }, 'activity bump failed'));
  }
  return row;
}

function validUri(s: string): boolean {
  if (Buffer.byteLength(s) > APP_STATUS_URI_LIMIT) return false;
  try {
    new URL(s);
    return true;
  } catch {
    return false;
  }
}

/** The JSON shape of a status in the read route (codersdk.WorkspaceAppStatus). */
export function appStatusJson(s: AppStatus): Record<string, unknown> {
  return {
    id: s.id,
    created_at: s.created_at,
    workspace_id: s.workspace_id,
    agent_id: s.agent_id,
    app_id: s.app_id,
    state: s.state,
    message: s.message,
    uri: s.uri ?? '',
    icon: '',
    needs_user_attention: false,
  };
}
