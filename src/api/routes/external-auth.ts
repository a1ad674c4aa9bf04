/**
 * GET /api/v2/workspaceagents/me/external-auth?id=|match=[&listen] — the current name of
 * /me/gitauth (coder-agents-api.md §8 item 10). Providers are found by `id`, or by the last whose
 * regex matches `match` (legacy `url`); the credentials answer is agentsdk.ExternalAuthResponse.
 *
 *   no link ─────────────┐
 *   refresh says invalid ─┼─ listen? ─no─► 200 {url: <access>/external-auth/<id>}
 *   refresh failed ───────┘      └─yes─► wait: every 1 s and on gitauth wake-ups, a link that is not
 *                                        expired and differs from the one already judged invalid is
 *                                        validated; the first valid one answers
 *   usable token ─► 200 credentials
 */
import { z } from 'zod';
import type { HttpRoute, Reply } from '../http/router.js';
import type { RequestContext } from '../http/context.js';
import type { ApiDeps } from '../deps.js';
import type { GitAuthLink, GitAuthProvider } from '../../store/index.js';
import { apiError, type ErrorBody } from '../http/errors.js';
import { authenticateAgent } from '../auth.js';
import { errorSchema } from '../schemas.js';
import { GITAUTH_CHANNEL } from '../../gitauth/service.js';

export const externalAuthResponseSchema = z
  .object({
    access_token: z.string(),
    token_extra: z.record(z.string(), z.unknown()).nullable(),
    url: z.string(),
    type: z.string(),
    username: z.string().describe('Deprecated: for git credential helpers'),
    password: z.string().describe('Deprecated: for git credential helpers'),
  })
  .meta({ id: 'ExternalAuthResponse' });

export type ExternalAuthResponse = z.infer<typeof externalAuthResponseSchema>;

/** createExternalAuthResponse: the git username/password convention of each host, plus the raw token. */
export function externalAuthResponse(type: string, token: string): ExternalAuthResponse {
  let username = token;
  let password = '';
  if (type === 'gitlab') {
    username = 'oauth2';
    password = token;
  } else if (type === 'bitbucket' || type === 'bitbucket-cloud' || type === 'bitbucket-server') {
    username = 'x-token-auth';
    password = token;
  }
  // token_extra: tailnetd keeps no extra token fields for links.
  return { access_token: token, token_extra: null, url: '', type, username, password };
}

/** Go's %q of a regex source (the texts are ASCII in practice). */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** Provider lookup in coderd's loop order: an `id` hit stops the loop; regex matches keep going (the last wins). */
export function findExternalAuthProvider<T extends { id: string; regex: string | null }>(providers: T[], id: string, match: string): T | undefined {
  let found: T | undefined;
  for (const p of providers) {
    if (p.id === id) {
      found = p;
      break;
    }
    if (match === '' || !p.regex) continue;
    let re: RegExp;
    try {
      re = new RegExp(p.regex);
    } catch {
      continue; // providers are validated on insert; a bad one never matches
    }
    if (re.test(match)) found = p;
  }
  return found;
}

function notFoundBody(providers: { id: string; regex: string | null }[], match: string): ErrorBody {
  let detail = 'External auth provider not found.';
  if (providers.length > 0) {
    const list = providers.filter((p) => p.regex).map((p) => `${p.id}=${goQuote(p.regex ?? '')}`);
    detail = `The configured external auth provider have regex filters that do not match the url. Provider url regex: ${list.join(',')}`;
  }
  return { message: `No matching external auth provider found in Coder for the url ${goQuote(match)}.`, detail };
}

export function externalAuthRoutes(deps: ApiDeps): HttpRoute[] {
  const { store } = deps;
  const err = (description: string) => ({ description, schema: errorSchema });
  return [
    {
      kind: 'http',
      method: 'GET',
      path: '/api/v2/workspaceagents/me/external-auth',
      doc: {
        summary: 'Get workspace agent external auth (credentials of the workspace owner for a provider)',
        tags: ['Agents'],
        auth: 'agent',
        query: {
          id: { description: 'Provider ID (exclusive with match)' },
          match: { description: 'URL matched against provider regexes, the last match wins (legacy name: url)' },
          listen: { description: 'Wait until the owner has a valid token' },
        },
        responses: {
          200: { description: 'OK (only url set while the owner must authenticate)', schema: externalAuthResponseSchema },
          400: err('Neither or both of id and match.'),
          401: err('Missing or invalid agent token.'),
          404: err('No provider matches.'),
          500: err('Internal error.'),
        },
      },
      async handle(ctx) {
        const agent = await authenticateAgent(ctx, store);
        const match = ctx.query.get('match') || ctx.query.get('url') || '';
        const id = ctx.query.get('id') ?? '';
        if (match === '' && id === '') throw apiError(400, "'url' or 'id' must be provided!");
        if (match !== '' && id !== '') throw apiError(400, "'url' and 'id' cannot be provided together!");
        const listen = ctx.query.has('listen');
        const providers = await store.gitauth.providers();
        const provider = findExternalAuthProvider(providers, id, match);
        if (!provider) {
          const body = notFoundBody(providers, match);
          throw apiError(404, body.message, body.detail);
        }
        const workspace = await store.workspaces.byId(agent.workspace_id);
        if (!workspace) throw apiError(500, 'Failed to get workspace.');
        const userId = workspace.owner_id;
        const loginUrl = new URL(`/external-auth/${encodeURIComponent(provider.id)}`, deps.accessUrl).toString();
        const onlyUrl: ExternalAuthResponse = { access_token: '', token_extra: null, url: loginUrl, type: '', username: '', password: '' };

        // Whatever the single check concludes short of a usable token, `listen` waits instead.
        let judgedInvalid: GitAuthLink | null = null;
        const retrying = (reply: Reply): Promise<Reply> | Reply => (listen ? waitForToken(ctx, deps, provider, userId, judgedInvalid) : reply);

        let link: GitAuthLink | undefined;
        try {
          link = await store.gitauth.link(provider.id, userId);
        } catch (e) {
          return retrying({ status: 500, body: { message: 'Failed to get external auth link.', detail: String(e) } });
        }
        if (!link) return retrying({ status: 200, body: onlyUrl });
        let check;
        try {
          check = await deps.gitauth.refresh(provider, link);
        } catch (e) {
          return retrying({ status: 500, body: { message: 'Failed to refresh external auth token.', detail: String(e) } });
        }
        if (!check.usable) {
          judgedInvalid = link;
          return retrying({ status: 200, body: onlyUrl });
        }
        return { status: 200, body: externalAuthResponse(provider.type, check.token) };
      },
    },
  ];
}

function sameToken(a: GitAuthLink | null, b: GitAuthLink): boolean {
  return a !== null && a.oauth_access_token === b.oauth_access_token && a.oauth_refresh_token === b.oauth_refresh_token && a.oauth_expiry === b.oauth_expiry;
}

/**
 * workspaceAgentsExternalAuthListen: re-check every second (and when the owner links the provider);
 * a zero expiry does not expire; a token already judged invalid is not validated again.
 */
function waitForToken(ctx: RequestContext, deps: ApiDeps, provider: GitAuthProvider, userId: string, previous: GitAuthLink | null): Promise<Reply> {
  const { store } = deps;
  let judged = previous;
  return new Promise<Reply>((resolve) => {
    let done = false;
    let checking = false;
    let again = false;
    const finish = (r: Reply): void => {
      if (done) return;
      done = true;
      unsubscribe();
      timer.cancel();
      ctx.req.socket.off('close', onClose);
      resolve(r);
    };
    const check = async (): Promise<void> => {
      if (done) return;
      if (checking) {
        again = true;
        return;
      }
      checking = true;
      try {
        const link = await store.gitauth.link(provider.id, userId);
        if (!link) return;
        if (link.oauth_expiry !== null && Date.parse(link.oauth_expiry) < deps.clock.now()) return;
        if (sameToken(judged, link)) return;
        let valid = false;
        try {
          valid = await deps.gitauth.validate(provider, link.oauth_access_token);
        } catch (e) {
          deps.logger.warn({ provider: provider.id, err: String(e) }, 'failed to validate external auth token');
        }
        judged = link;
        if (valid) finish({ status: 200, body: externalAuthResponse(provider.type, link.oauth_access_token) });
      } catch (e) {
        finish({ status: 500, body: { message: 'Failed to get external auth link.', detail: String(e) } });
      } finally {
        checking = false;
        if (again && !done) {
          again = false;
          void check();
        }
      }
    };
    // The agent gave up: nothing is written (499 is never sent).
    const onClose = (): void => finish({ status: 499 });
    const unsubscribe = deps.pubsub.subscribe(GITAUTH_CHANNEL, (message) => {
      if (message === `${provider.id}|${userId}`) void check();
    });
    const timer = deps.clock.setInterval(() => void check(), 1000);
    ctx.req.socket.on('close', onClose);
  });
}
