import type { HttpRoute } from '../http/router.js';

export interface ReadinessSource {
  /** Null when ready, else the reason. */
  notReadyReason(): Promise<string | null>;
}

export function healthRoutes(readiness: ReadinessSource): HttpRoute[] {
  return [
    {
      kind: 'http',
      method: 'GET',
      path: '/healthz',
      doc: { summary: 'Liveness: the process is up (no dependency checks)', tags: ['Health'], auth: 'none', responses: { 200: { description: 'OK', contentType: 'text/plain' } } },
      handle: () => ({ status: 200, raw: 'OK', headers: { 'Content-Type': 'text/plain; charset=utf-8' } }),
    },
    {
      kind: 'http',
      method: 'GET',
      path: '/readyz',
      doc: { summary: 'Readiness: store reachable, subsystems ready, not draining', tags: ['Health'], auth: 'none', responses: { 200: { description: 'Ready', contentType: 'text/plain' }, 503: { description: 'Not ready', contentType: 'text/plain' } } },
      async handle() {
        const reason = await readiness.notReadyReason();
        return reason === null
          ? { status: 200, raw: 'OK', headers: { 'Content-Type': 'text/plain; charset=utf-8' } }
          : { status: 503, raw: reason, headers: { 'Content-Type': 'text/plain; charset=utf-8' } };
      },
    },
  ];
}
