/**
 * Agent connection status derivation (coder-agents-api §3). Pure, so the GET handler, metrics
 * and the listening-ports/pty gates agree.
 */
export type AgentStatus = 'connecting' | 'connected' | 'disconnected' | 'timeout';

export interface StatusInput {
  created_at: string;
  first_connected_at: string | null;
  last_connected_at: string | null;
  disconnected_at: string | null;
  connection_timeout_seconds: number;
}

export function deriveAgentStatus(a: StatusInput, nowMs: number, inactiveTimeoutMs: number): { status: AgentStatus; disconnectedAt: string | null } {
  if (a.first_connected_at === null) {
    const timeoutMs = a.connection_timeout_seconds * 1000;
    if (a.connection_timeout_seconds > 0 && nowMs - Date.parse(a.created_at) > timeoutMs) return { status: 'timeout', disconnectedAt: a.disconnected_at };
    return { status: 'connecting', disconnectedAt: a.disconnected_at };
  }
  const last = a.last_connected_at === null ? null : Date.parse(a.last_connected_at);
  if (a.disconnected_at !== null && (last === null || Date.parse(a.disconnected_at) > last)) {
    return { status: 'disconnected', disconnectedAt: a.disconnected_at };
  }
  if (last !== null && nowMs - last > inactiveTimeoutMs) {
    return { status: 'disconnected', disconnectedAt: a.last_connected_at };
  }
  if (last !== null) return { status: 'connected', disconnectedAt: a.disconnected_at };
  return { status: 'disconnected', disconnectedAt: a.disconnected_at };
}

/**
 * The instant (ms) at which deriveAgentStatus may answer differently for the same row purely
 * because time passed (connecting → timeout, connected → disconnected), or Infinity.
 */
export function statusChangesAt(a: StatusInput, inactiveTimeoutMs: number): number {
  if (a.first_connected_at === null) {
    return a.connection_timeout_seconds > 0 ? Date.parse(a.created_at) + a.connection_timeout_seconds * 1000 : Infinity;
  }
  if (a.last_connected_at === null) return Infinity;
  return Date.parse(a.last_connected_at) + inactiveTimeoutMs;
}
