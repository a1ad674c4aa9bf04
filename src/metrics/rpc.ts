/** Metrics of the v2 endpoints (/me/rpc, /{agent}/coordinate?version=2.x). */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface RpcMetrics {
  /** One finished dRPC call. */
  call(method: string, outcome: 'ok' | 'error' | 'unimplemented' | 'cancelled'): void;
  /** A wire violation reset one yamux stream. */
  protocolError(code: string): void;
  /** Why a /me/rpc connection was closed by the server monitor. */
  monitorClose(reason: 'ping_timeout' | 'build_outdated' | 'recorder_error'): void;
  telemetryEvents(n: number): void;
  readonly connections: Gauge<'route'>;
}

export function createRpcMetrics(registry: Registry): RpcMetrics {
  const calls = new Counter({ name: 'tailnetd_rpc_calls_total', help: 'dRPC calls on the v2 endpoints by method and outcome.', labelNames: ['method', 'outcome'], registers: [registry] });
  const protocol = new Counter({ name: 'tailnetd_rpc_protocol_errors_total', help: 'dRPC wire violations (yamux stream reset) by code.', labelNames: ['code'], registers: [registry] });
  const monitor = new Counter({ name: 'tailnetd_rpc_monitor_closes_total', help: '/me/rpc connections closed by the connection monitor, by reason.', labelNames: ['reason'], registers: [registry] });
  const telemetry = new Counter({ name: 'tailnetd_rpc_telemetry_events_total', help: 'Tailnet telemetry events accepted (PostTelemetry) and discarded.', registers: [registry] });
  const connections = new Gauge({ name: 'tailnetd_rpc_connections', help: 'Open v2 (yamux) connections by route.', labelNames: ['route'], registers: [registry] });
  return {
    call: (method, outcome) => calls.inc({ method, outcome }),
    protocolError: (code) => protocol.inc({ code }),
    monitorClose: (reason) => monitor.inc({ reason }),
    telemetryEvents: (n) => telemetry.inc(n),
    connections,
  };
}
