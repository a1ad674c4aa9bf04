/**
 * Admin REST API for provisioning (admin API key). The CLI performs the same operations directly.
 */
import { z } from 'zod';
import type { HttpRoute } from '../http/router.js';
import type { RequestContext } from '../http/context.js';
import type { ApiDeps } from '../deps.js';
import { requireAdmin } from '../auth.js';
import { apiError, Msg } from '../http/errors.js';
import { errorSchema } from '../schemas.js';
import { createBuildSchema, createUserSchema, createWorkspaceSchema, gitAuthLinkSchema, gitAuthProviderSchema } from '../../provisioning/schema.js';
import { Provisioning, ProvisioningError } from '../../provisioning/service.js';

const ADMIN = '/api/v2/admin';
const err = (description: string) => ({ description, schema: errorSchema });
const adminErrors = { 400: err('Validation failed.'), 401: err('Not signed in.'), 404: err('Not an admin, or unknown object.'), 409: err('Already exists.') };

const provisionedSchema = z
  .object({
    workspace_id: z.string().uuid(),
    build_id: z.string().uuid(),
    build_number: z.number().int(),
    agents: z.array(
      z.object({
        id: z.string().uuid(),
        name: z.string(),
        auth: z.string(),
        token: z.string().nullable().describe('agent token (auth=token only), shown once'),
        instance_id: z.string().nullable(),
        apps: z.array(z.object({ id: z.string().uuid(), slug: z.string() })),
      }),
    ),
  })
  .meta({ id: 'ProvisionedBuild' });

async function validated<T extends z.ZodType>(ctx: RequestContext, schema: T): Promise<z.infer<T>> {
  const parsed = schema.safeParse(await ctx.json());
  if (!parsed.success) {
    throw apiError(
      400,
      Msg.validationFailed,
      undefined,
      parsed.error.issues.map((i) => ({ field: i.path.join('.'), detail: i.message })),
    );
  }
  return parsed.data;
}

async function run<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ProvisioningError) throw apiError(e.status, e.message);
    throw e;
  }
}

export function adminRoutes(deps: ApiDeps): HttpRoute[] {
  const provisioning = new Provisioning(deps.store);
  const admin = (ctx: RequestContext) => requireAdmin(ctx, deps.store, deps.clock);

  return [
    {
      kind: 'http',
      method: 'POST',
      path: `${ADMIN}/users`,
      doc: {
        summary: 'Create a user and an API key (shown once)',
        tags: ['Admin'],
        auth: 'admin',
        request: createUserSchema,
        responses: { 201: { description: 'Created', schema: z.object({ id: z.string(), username: z.string(), email: z.string(), admin: z.boolean(), api_key: z.string() }) }, ...adminErrors },
      },
      async handle(ctx) {
        await admin(ctx);
        const input = await validated(ctx, createUserSchema);
        return { status: 201, body: await run(() => provisioning.createUser(input)) };
      },
    },
    {
      kind: 'http',
      method: 'POST',
      path: `${ADMIN}/users/{user}/keys`,
      doc: { summary: 'Create another API key for a user', tags: ['Admin'], auth: 'admin', responses: { 201: { description: 'Created', schema: z.object({ user_id: z.string(), api_key: z.string() }) }, ...adminErrors } },
      async handle(ctx) {
        await admin(ctx);
        return { status: 201, body: await run(() => provisioning.createApiKey(ctx.params['user'] ?? '')) };
      },
    },
    {
      kind: 'http',
      method: 'POST',
      path: `${ADMIN}/workspaces`,
      doc: { summary: 'Create a workspace with a first build and its agents', tags: ['Admin'], auth: 'admin', request: createWorkspaceSchema, responses: { 201: { description: 'Created', schema: provisionedSchema }, ...adminErrors } },
      async handle(ctx) {
        await admin(ctx);
        const input = await validated(ctx, createWorkspaceSchema);
        return { status: 201, body: await run(() => provisioning.createWorkspace(input)) };
      },
    },
    {
      kind: 'http',
      method: 'POST',
      path: `${ADMIN}/workspaces/{workspace}/builds`,
      doc: { summary: 'Start a new build (new agents and tokens; the previous build is no longer latest)', tags: ['Admin'], auth: 'admin', request: createBuildSchema, responses: { 201: { description: 'Created', schema: provisionedSchema }, ...adminErrors } },
      async handle(ctx) {
        await admin(ctx);
        const input = await validated(ctx, createBuildSchema);
        const build = await run(() => provisioning.createBuild(ctx.params['workspace'] ?? '', input));
        deps.pubsub.publish(`workspace:${build.workspace_id}`, '');
        return { status: 201, body: build };
      },
    },
    {
      kind: 'http',
      method: 'POST',
      path: `${ADMIN}/gitauth/providers`,
      doc: { summary: 'Add a git auth provider', tags: ['Admin'], auth: 'admin', request: gitAuthProviderSchema, responses: { 201: { description: 'Created' }, ...adminErrors } },
      async handle(ctx) {
        await admin(ctx);
        const input = await validated(ctx, gitAuthProviderSchema);
        return { status: 201, body: await run(() => provisioning.addGitAuthProvider(input)) };
      },
    },
    {
      kind: 'http',
      method: 'POST',
      path: `${ADMIN}/gitauth/links`,
      doc: { summary: "Store a user's git auth link (access token)", tags: ['Admin'], auth: 'admin', request: gitAuthLinkSchema, responses: { 201: { description: 'Created' }, ...adminErrors } },
      async handle(ctx) {
        await admin(ctx);
        const input = await validated(ctx, gitAuthLinkSchema);
        const out = await run(() => provisioning.addGitAuthLink(input));
        deps.gitauth.notifyLinked(out.provider_id, out.user_id);
        return { status: 201, body: out };
      },
    },
  ];
}
