/**
 * OpenAPI 3.0 document generated from the route table and its zod schemas.
 */
import { z, type ZodType } from 'zod';
import type { Route } from './http/router.js';

type Json = Record<string, unknown>;

const SECURITY: Record<string, Json[]> = {
  none: [],
  agent: [{ CoderSessionToken: [] }],
  user: [{ CoderSessionToken: [] }],
  admin: [{ CoderSessionToken: [] }],
};

export function buildOpenApi(routes: Route[], info: { version: string; serverUrl: string }): Json {
  const components: Record<string, Json> = {};
  const toSchema = (schema: ZodType, io: 'input' | 'output'): Json => {
    const out = z.toJSONSchema(schema, { target: 'openapi-3.0', io, unrepresentable: 'any' }) as Json;
    const defs = (out['definitions'] ?? {}) as Record<string, Json>;
    delete out['definitions'];
    for (const [id, def] of Object.entries(defs)) components[id] ??= rewriteRefs(def) as Json;
    return rewriteRefs(out) as Json;
  };

  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes) {
    const op: Json = {
      summary: route.doc.summary,
      tags: route.doc.tags,
      operationId: operationId(route),
      security: SECURITY[route.doc.auth],
      responses: {},
    };
    const params: Json[] = [];
    for (const m of route.path.matchAll(/\{([^}]+)\}/g)) {
      params.push({ name: m[1], in: 'path', required: true, schema: { type: 'string' } });
    }
    for (const [name, q] of Object.entries(route.doc.query ?? {})) {
      params.push({ name, in: 'query', required: q.required ?? false, description: q.description, schema: { type: 'string' } });
    }
    if (params.length > 0) op['parameters'] = params;
    if (route.doc.request) {
      op['requestBody'] = { required: true, content: { 'application/json': { schema: toSchema(route.doc.request, 'input') } } };
    }
    const responses: Record<string, Json> = {};
    if (route.kind === 'upgrade') responses['101'] = { description: 'Switching Protocols' };
    for (const [status, r] of Object.entries(route.doc.responses)) {
      const resp: Json = { description: r.description };
      if (r.schema) resp['content'] = { [r.contentType ?? 'application/json']: { schema: toSchema(r.schema, 'output') } };
      else if (r.contentType) resp['content'] = { [r.contentType]: { schema: { type: 'string' } } };
      responses[status] = resp;
    }
    op['responses'] = responses;
    (paths[route.path] ??= {})[route.method.toLowerCase()] = op;
  }

  return {
    openapi: '3.0.3',
    info: { title: 'tailnetd', version: info.version, description: "Coder-compatible workspace agents API, tailnet coordinator and DERP relay." },
    servers: [{ url: info.serverUrl }],
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        CoderSessionToken: { type: 'apiKey', in: 'header', name: 'Coder-Session-Token', description: 'Also accepted as cookie or query parameter coder_session_token.' },
      },
    },
  };
}

function operationId(route: Route): string {
  const words = route.path
    .replace(/^\/api\/v2\//, '')
    .split('/')
    .filter(Boolean)
    .map((s) => s.replace(/[{}]/g, '').replace(/[^a-zA-Z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : '')));
  return [route.method.toLowerCase(), ...words.map((w) => w.charAt(0).toUpperCase() + w.slice(1))].join('');
}

function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value && typeof value === 'object') {
    const out: Json = {};
    for (const [k, v] of Object.entries(value as Json)) {
      out[k] = k === '$ref' && typeof v === 'string' ? v.replace('#/definitions/', '#/components/schemas/') : rewriteRefs(v);
    }
    return out;
  }
  return value;
}
