/** POST /api/v2/workspaceagents/{aws,azure,google}-instance-identity: unauthenticated token exchange. */
import { z } from 'zod';
import type { HttpRoute } from '../http/router.js';
import type { InstanceIdentityHandlers, IdentityHandler } from '../../identity/index.js';
import { errorSchema } from '../schemas.js';
import { goJsonDecodeFirstBytes } from '../../util/go-json.js';
import { apiError, Msg } from '../http/errors.js';

const tokenSchema = z.object({ session_token: z.string() }).meta({ id: 'AuthenticateResponse' });
const err = (description: string) => ({ description, schema: errorSchema });

const bodies = {
  aws: z.object({ document: z.string(), signature: z.string() }).meta({ id: 'AWSInstanceIdentityToken' }),
  azure: z.object({ encoding: z.string(), signature: z.string() }).meta({ id: 'AzureInstanceIdentityToken' }),
  google: z.object({ json_web_token: z.string() }).meta({ id: 'GoogleInstanceIdentityToken' }),
};

export function identityRoutes(handlers: InstanceIdentityHandlers): HttpRoute[] {
  const route = (cloud: 'aws' | 'azure' | 'google', summary: string, handler: IdentityHandler): HttpRoute => ({
    kind: 'http',
    method: 'POST',
    path: `/api/v2/workspaceagents/${cloud}-instance-identity`,
    doc: {
      summary,
      tags: ['Agents'],
      auth: 'none',
      request: bodies[cloud],
      responses: {
        200: { description: 'OK', schema: tokenSchema },
        400: err('Malformed body, or the agent is not on the latest build.'),
        401: err('Identity did not verify.'),
        404: err('No agent with that instance id.'),
        429: err('Too many attempts from this address.'),
      },
    },
    async handle(ctx) {
      const decoded = goJsonDecodeFirstBytes(await ctx.bytes());
      if (!decoded.ok) throw apiError(400, Msg.invalidJson, decoded.detail);
      const result = await handler(decoded.value, ctx.remoteAddress);
      return { status: result.status, body: result.body, ...(result.headers ? { headers: result.headers } : {}) };
    },
  });
  return [
    route('aws', 'Authenticate agent on AWS instance', handlers.aws),
    route('azure', 'Authenticate agent on Azure instance', handlers.azure),
    route('google', 'Authenticate agent on Google Cloud instance', handlers.google),
  ];
}
