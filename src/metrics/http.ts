import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface HttpMetrics {
  requests: Counter<'method' | 'route' | 'status'>;
  concurrent: Gauge;
  duration: Histogram<'method' | 'route'>;
  websockets: Gauge<'path'>;
}

export function createHttpMetrics(registry: Registry): HttpMetrics {
  return {
    requests: new Counter({ name: 'tailnetd_api_requests_processed_total', help: 'HTTP API requests by route template and status.', labelNames: ['method', 'route', 'status'], registers: [registry] }),
    concurrent: new Gauge({ name: 'tailnetd_api_concurrent_requests', help: 'HTTP API requests in flight.', registers: [registry] }),
    duration: new Histogram({
      name: 'tailnetd_api_request_latencies_seconds',
      help: 'HTTP API request latency by route template.',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    websockets: new Gauge({ name: 'tailnetd_api_concurrent_websockets', help: 'Open WebSockets by route template.', labelNames: ['path'], registers: [registry] }),
  };
}
