/**
 * The OAuth2 web flow a user completes in the browser: /gitauth/{provider} redirects to the
 * provider; /gitauth/{provider}/callback stores the link and wakes agents waiting in `listen`.
 */
import { randomBytes } from 'node:crypto';
import type { HttpRoute } from '../http/router.js';
import type { ApiDeps } from '../deps.js';
import { authenticateUser } from '../auth.js';
import { apiError } from '../http/errors.js';
import { errorSchema } from '../schemas.js';

const STATE_MAX_AGE_MS = 10 * 60 * 1000;

/** Only same-origin relative redirects are honoured after the callback. */
function safeRedirect(value: string | null): string {
  if (value && value.startsWith('/') && !value.startsWith('//') && !value.includes('\\')) return value;
  return '/gitauth';
}

export function gitAuthWebRoutes(deps: ApiDeps): HttpRoute[] {
  const { store, clock } = deps;
  const callbackUrl = (id: string) => new URL(`/gitauth/${encodeURIComponent(id)}/callback`, deps.accessUrl).toString();

  const start: HttpRoute = {
    kind: 'http',
    method: 'GET',
    path: '/gitauth/{provider}',
    doc: {
      summary: 'Start the OAuth2 flow for a git auth provider',
      tags: ['Git auth'],
      auth: 'user',
      query: { redirect: { description: 'Relative path to return to afterwards' } },
      responses: { 307: { description: 'Redirect to the provider' }, 401: { description: 'Not signed in', schema: errorSchema }, 404: { description: 'Unknown provider', schema: errorSchema } },
    },
    async handle(ctx) {
      const session = await authenticateUser(ctx, store, clock);
      const provider = await store.gitauth.provider(ctx.params['provider'] ?? '');
      if (!provider) throw apiError(404, 'Git auth provider not found.');
      const state = randomBytes(24).toString('base64url');
      await store.gitauth.saveState(state, provider.id, session.user.id, safeRedirect(ctx.query.get('redirect')));
      const target = new URL(provider.auth_url);
      target.searchParams.set('response_type', 'code');
      target.searchParams.set('client_id', provider.client_id);
      target.searchParams.set('redirect_uri', callbackUrl(provider.id));
      target.searchParams.set('state', state);
      if (provider.scopes) target.searchParams.set('scope', provider.scopes);
      return { status: 307, headers: { Location: target.toString() } };
    },
  };
  return [
    start,
    // The current name, as /me/external-auth hands it to agents; same flow and callback.
    { ...start, path: '/external-auth/{provider}', doc: { ...start.doc, summary: 'Start the OAuth2 flow for an external auth provider (current name of /gitauth/{provider})' } },
    {
      kind: 'http',
      method: 'GET',
      path: '/gitauth/{provider}/callback',
      doc: {
        summary: 'OAuth2 callback: store the link and notify waiting agents',
        tags: ['Git auth'],
        auth: 'user',
        query: { code: { description: 'Authorization code', required: true }, state: { description: 'State from the start of the flow', required: true } },
        responses: {
          307: { description: 'Redirect to the stored page' },
          400: { description: 'Bad state or code', schema: errorSchema },
          401: { description: 'Not signed in', schema: errorSchema },
        },
      },
      async handle(ctx) {
        // The callback runs in the browser of the user who started the flow. Without this check a
        // victim completing an attacker's flow (OAuth login CSRF) would link the victim's git token
        // to the attacker's account, and the attacker's workspace would receive it.
        const session = await authenticateUser(ctx, store, clock);
        const providerId = ctx.params['provider'] ?? '';
        const code = ctx.query.get('code') ?? '';
        const stateParam = ctx.query.get('state') ?? '';
        if (!code || !stateParam) throw apiError(400, 'Missing "code" or "state" query parameter.');
        const state = await store.gitauth.takeState(stateParam, STATE_MAX_AGE_MS);
        if (!state || state.provider_id !== providerId || state.user_id !== session.user.id) throw apiError(400, 'Invalid or expired OAuth2 state.');
        const provider = await store.gitauth.provider(providerId);
        if (!provider) throw apiError(404, 'Git auth provider not found.');
        let token;
        try {
          token = await deps.gitauth.exchangeCode(provider, code, callbackUrl(provider.id));
        } catch (e) {
          throw apiError(400, 'Failed to exchange OAuth2 code.', String(e));
        }
        await store.gitauth.upsertLink({ providerId, userId: state.user_id, accessToken: token.accessToken, refreshToken: token.refreshToken ?? '', expiry: token.expiry });
        deps.gitauth.notifyLinked(providerId, state.user_id);
        return { status: 307, headers: { Location: state.redirect } };
      },
    },
  ];
}
