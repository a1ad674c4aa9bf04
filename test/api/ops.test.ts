/**
 * OpenAPI document, health/readiness (incl. draining), Prometheus names, log redaction.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createLogger } from '../../src/log/logger.js';
import { okJson } from './util.js';

type Json = Record<string, unknown>;

function collectRefs(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) for (const x of v) collectRefs(x, out);
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v as Json)) {
      if (k === '$ref' && typeof x === 'string') out.push(x);
      else collectRefs(x, out);
    }
  }
  return out;
}

describe.each(BACKENDS)('operations (%s)', (backend) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ backend });
  });
  afterAll(async () => {
    await s.stop();
  });

  it('GET /api/v2/openapi.json is an OpenAPI 3.0 document listing every route with its method', async () => {
    const doc = await okJson<Json>(await s.request('/api/v2/openapi.json'));
    expect(doc['openapi']).toMatch(/^3\.0\.\d+$/);
    expect(doc['info']).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    const paths = doc['paths'] as Record<string, Record<string, Json>>;
    const components = doc['components'] as { schemas: Record<string, Json>; securitySchemes: Record<string, Json> };
    expect(components.securitySchemes['CoderSessionToken']).toMatchObject({ type: 'apiKey', in: 'header', name: 'Coder-Session-Token' });
    const routes = s.app.router.routes;
    expect(routes.length).toBeGreaterThan(20);
    const opIds = new Set<string>();
    for (const r of routes) {
      const op = paths[r.path]?.[r.method.toLowerCase()];
      expect(op, `${r.method} ${r.path}`).toBeTruthy();
      expect(typeof op!['summary']).toBe('string');
      const responses = op!['responses'] as Record<string, Json>;
      expect(Object.keys(responses).length, `${r.method} ${r.path} responses`).toBeGreaterThan(0);
      for (const [code, resp] of Object.entries(responses)) {
        expect(code).toMatch(/^[1-5]\d\d$/);
        expect(typeof resp['description']).toBe('string');
      }
      for (const m of r.path.matchAll(/\{([^}]+)\}/g)) {
        expect((op!['parameters'] as Json[]).some((p) => p['name'] === m[1] && p['in'] === 'path' && p['required'] === true)).toBe(true);
      }
      const id = String(op!['operationId']);
      expect(opIds.has(id), `duplicate operationId ${id}`).toBe(false);
      opIds.add(id);
    }
    // Nothing documented that is not served.
    const served = new Set(routes.map((r) => `${r.method.toLowerCase()} ${r.path}`));
    for (const [p, ops] of Object.entries(paths)) for (const m of Object.keys(ops)) expect(served.has(`${m} ${p}`), `${m} ${p}`).toBe(true);
    // Every $ref resolves inside the document.
    for (const ref of collectRefs(doc)) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(components.schemas[ref.slice('#/components/schemas/'.length)], ref).toBeTruthy();
    }
    expect(components.schemas['WorkspaceAgent']).toBeTruthy();
    expect(components.schemas['Response']).toBeTruthy();
    const me = paths['/api/v2/workspaceagents/me/app-health']!['post']!;
    expect(me['requestBody']).toBeTruthy();
  });

  it('/healthz and /readyz answer 200', async () => {
    const h = await s.request('/healthz');
    expect(h.status).toBe(200);
    expect(await h.text()).toBe('OK');
    const r = await s.request('/readyz');
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('OK');
  });

  it('/metrics on the metrics listener exposes API request counters and coder_derp_* names', async () => {
    expect(s.metricsUrl).toBeTruthy();
    await (await s.request('/api/v2/buildinfo')).text();
    const text = await (await fetch(s.metricsUrl!)).text();
    expect(text).toMatch(/^tailnetd_api_requests_processed_total\{[^}]*route="\/api\/v2\/buildinfo"[^}]*\} \d+/m);
    expect(text).toContain('# TYPE tailnetd_api_request_latencies_seconds histogram');
    expect(text).toMatch(/^# TYPE coder_derp_accepts_total counter/m);
    expect(text).toMatch(/^coder_derp_/m);
    const notFound = await fetch(s.metricsUrl!.replace('/metrics', '/other'));
    expect(notFound.status).toBe(404);
  });
});

describe('draining', () => {
  it('/readyz answers 503 once app.stop() has begun, on a connection opened before', async () => {
    const s = await startTestServer({ backend: 'sqlite' });
    try {
      const u = new URL(s.url);
      const sock = connect(Number(u.port), u.hostname);
      await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
      let data = '';
      sock.on('data', (c) => (data += c.toString()));
      const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
      sock.on('error', () => undefined);
      // Start the request, so the connection is not idle when the drain begins.
      sock.write('GET /readyz HTTP/1.1\r\nHost: x\r\n');
      // Wait until the server has parsed the request line (the connection then counts as active).
      await new Promise((r) => setTimeout(r, 300));
      const stopping = s.app.stop(2000);
      sock.write('Connection: close\r\n\r\n');
      await closed;
      await stopping;
      expect(data).toMatch(/^HTTP\/1\.1 503 /);
      expect(data.endsWith('draining')).toBe(true);
    } finally {
      await s.stop();
    }
  });
});

describe('logger redaction', () => {
  it('tokens, cookies, API keys and secrets never reach the log output', () => {
    let out = '';
    const logger = createLogger('info', { write: (line: string) => void (out += line) });
    logger.info(
      {
        token: 'SECRET-1',
        api_key: 'SECRET-2',
        secret: 'SECRET-3',
        agent: { token: 'SECRET-4' },
        user: { api_key: 'SECRET-5' },
        req: { headers: { cookie: 'coder_session_token=SECRET-6', authorization: 'Bearer SECRET-7', 'coder-session-token': 'SECRET-8', host: 'visible.example' } },
        postgresUrl: 'postgres://u:SECRET-9@db/x',
      },
      'request',
    );
    logger.child({ component: 'x' }).warn({ token: 'SECRET-10' }, 'child');
    expect(out).not.toMatch(/SECRET-\d+/);
    expect(out).toContain('visible.example');
    expect(out).toContain('<redacted>');
    const first = JSON.parse(out.split('\n')[0]!) as Json;
    expect(first['token']).toBe('<redacted>');
    expect((first['req'] as { headers: Json }).headers['cookie']).toBe('<redacted>');
  });
});
