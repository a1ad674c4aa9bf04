/**
 * App statuses over REST:
 *   PATCH /api/v2/workspaceagents/me/app-status           agent token: same rules as the UpdateAppStatus RPC
 *   GET   /api/v2/workspaceagents/{workspaceagent}/app-statuses   user: the agent's statuses, newest first
 * (Coder shows statuses inside GET /{agent} apps[].statuses; this is tailnetd's standalone read.)
 */
import { z } from 'zod';
import type { HttpRoute } from '../http/router.js';
import type { ApiDeps } from '../deps.js';
import { apiError } from '../http/errors.js';
import { authenticateAgent, authenticateUser, loadAgentParam } from '../auth.js';
import { readGoBody } from '../read-body.js';
import { errorSchema } from '../schemas.js';
import { APP_STATUS_STATES, AppStatusError, appStatusJson, updateAppStatus, type AppStatusState } from '../../agentapi/app-status.js';
import { agentApiExtras } from '../../store/agent-api-extras.js';
import { workspaceChannel } from './agent-me.js';

const err = (description: string) => ({ description, schema: errorSchema });

/** agentsdk.PatchAppStatus (icon and needs_user_attention are deprecated upstream and ignored). */
export const patchAppStatusSchema = z
  .object({
    app_slug: z.string().default(''),
    state: z.string().default(''),
    message: z.string().default(''),
    uri: z.string().default(''),
    icon: z.string().optional(),
    needs_user_attention: z.boolean().optional(),
  })
  .meta({ id: 'PatchAppStatus' });

export const appStatusSchema = z
  .object({
    id: z.string(),
    created_at: z.string(),
    workspace_id: z.string(),
    agent_id: z.string(),
    app_id: z.string(),
    state: z.enum(APP_STATUS_STATES),
    message: z.string(),
    uri: z.string(),
    icon: z.string(),
    needs_user_attention: z.boolean(),
  })
  .meta({ id: 'WorkspaceAppStatus' });

export function appStatusRoutes(deps: ApiDeps): HttpRoute[] {
  const { store, clock } = deps;

  const patch: HttpRoute = {
    kind: 'http',
    method: 'PATCH',
    path: '/api/v2/workspaceagents/me/app-status',
    doc: {
      summary: 'Patch workspace agent app status',
      tags: ['Agents'],
      auth: 'agent',
      request: patchAppStatusSchema,
      responses: { 200: { description: 'OK (body null)' }, 400: err('Unknown app, invalid state, message over 160 bytes or invalid URI.'), 401: err('Missing or invalid agent token.'), 500: err('Internal error.') },
    },
    async handle(ctx) {
      const agent = await authenticateAgent(ctx, store);
      const body = await readGoBody(ctx, patchAppStatusSchema);
      const state = (APP_STATUS_STATES as readonly string[]).includes(body.state) ? (body.state as AppStatusState) : null;
      try {
        await updateAppStatus({ ...deps, publishWorkspace: (id) => deps.pubsub.publish(workspaceChannel(id), '') }, { id: agent.id, workspaceId: agent.workspace_id }, { slug: body.app_slug, state, raw: body.state, message: body.message, uri: body.uri });
      } catch (e) {
        if (e instanceof AppStatusError) throw apiError(e.status, e.response.message, e.response.detail, e.response.validations);
        throw apiError(500, 'Failed to insert workspace app status.', String(e));
      }
      return { status: 200, body: null };
    },
  };

  const list: HttpRoute = {
    kind: 'http',
    method: 'GET',
    path: '/api/v2/workspaceagents/{workspaceagent}/app-statuses',
    doc: {
      summary: "Get a workspace agent's app statuses (newest first)",
      tags: ['Agents'],
      auth: 'user',
      responses: { 200: { description: 'OK', schema: z.array(appStatusSchema) }, 400: err('Invalid agent id.'), 401: err('Not signed in.'), 404: err('Unknown agent or no access.') },
    },
    async handle(ctx) {
      const session = await authenticateUser(ctx, store, clock);
      const context = await loadAgentParam(ctx, store, session, 'read');
      const rows = await agentApiExtras(store, clock).appStatuses.byAgent(context.agent.id);
      return { status: 200, body: rows.map(appStatusJson) };
    },
  };

  return [patch, list];
}
