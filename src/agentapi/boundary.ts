/**
 * ReportBoundaryLogs (API 2.7/2.9): like coderd, tailnetd re-emits the access decisions of
 * the agent's "boundary" sandbox into the server log ("boundary_request" lines) and stores
 * nothing. As in coderd a batch over 1000 logs is an error, and entries without a resource
 * are skipped with a warning (older boundary builds send them); tailnetd also skips entries
 * whose fields exceed size caps, so a workspace process cannot blow up log lines.
 */
import type { Logger } from 'pino';
import type * as ap from '../rpc/proto/agent.js';
import { isUuid } from '../store/ids.js';

export const BOUNDARY_LIMITS = { logs: 1000, method: 64, url: 8192, rule: 1024, processName: 256 } as const;

const bytes = (s: string): number => Buffer.byteLength(s);

/** The request-level check; entry-level problems are skipped by emitBoundaryLogs. */
export function validateBoundaryLogs(req: ap.ReportBoundaryLogsRequest): void {
  if (req.logs.length > BOUNDARY_LIMITS.logs) throw new Error(`batch size ${req.logs.length} exceeds maximum of ${BOUNDARY_LIMITS.logs}`);
}

/** Go's zero time.Time in RFC 3339 (what coderd prints for a log without a time). */
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Returns how many entries were written to the log. */
export function emitBoundaryLogs(logger: Logger, ids: { agentId: string; workspaceId: string }, req: ap.ReportBoundaryLogsRequest): number {
  const base: Record<string, unknown> = { workspace_id: ids.workspaceId, agent_id: ids.agentId };
  // 2.7 boundary sends no session id; an invalid one is logged once and left out, not fatal.
  if (req.sessionId !== '') {
    if (isUuid(req.sessionId)) base['session_id'] = req.sessionId.toLowerCase();
    else logger.warn({ ...base, raw_session_id: req.sessionId.slice(0, 64) }, 'invalid boundary session_id');
  }
  if (req.confinedProcessName !== '') base['confined_process'] = req.confinedProcessName.slice(0, BOUNDARY_LIMITS.processName);
  let emitted = 0;
  for (const l of req.logs) {
    const h = l.httpRequest;
    if (!h) {
      logger.warn(base, 'empty http request resource');
      continue;
    }
    if (bytes(h.method) > BOUNDARY_LIMITS.method || bytes(h.url) > BOUNDARY_LIMITS.url || bytes(h.matchedRule) > BOUNDARY_LIMITS.rule) {
      logger.warn(base, 'boundary log over the field size caps skipped');
      continue;
    }
    const fields: Record<string, unknown> = {
      ...base,
      decision: l.allowed ? 'allow' : 'deny',
      http_method: h.method,
      http_url: h.url,
      event_time: l.time ? new Date(l.time.seconds * 1000 + Math.floor(l.time.nanos / 1e6)).toISOString() : ZERO_TIME,
      sequence_number: l.sequenceNumber,
    };
    if (l.allowed) fields['matched_rule'] = h.matchedRule;
    logger.info(fields, 'boundary_request');
    emitted++;
  }
  return emitted;
}
