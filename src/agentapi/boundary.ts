/**
 * ReportBoundaryLogs (API 2.7/2.9): Coder re-emits the access decisions of the agent's
 * "boundary" sandbox into the server log; so does tailnetd, after checking them and with a
 * per-request cap, so a workspace process cannot flood the log or send junk.
 */
import type { Logger } from 'pino';
import type * as ap from '../rpc/proto/agent.js';
import { isUuid } from '../store/ids.js';

export const BOUNDARY_LIMITS = { logs: 1000, field: 8192, name: 256 } as const;

const bytes = (s: string): number => Buffer.byteLength(s);

export function validateBoundaryLogs(req: ap.ReportBoundaryLogsRequest): void {
  if (req.logs.length > BOUNDARY_LIMITS.logs) throw new Error(`report boundary logs: ${req.logs.length} logs, cap ${BOUNDARY_LIMITS.logs}`);
  if (req.sessionId !== '' && !isUuid(req.sessionId)) throw new Error(`report boundary logs: invalid session_id ${JSON.stringify(req.sessionId.slice(0, 64))}`);
  if (bytes(req.confinedProcessName) > BOUNDARY_LIMITS.name) throw new Error(`report boundary logs: confined_process_name longer than ${BOUNDARY_LIMITS.name} bytes`);
  req.logs.forEach((l, i) => {
    if (!l.time) throw new Error(`report boundary logs: log ${i} has no time`);
    const h = l.httpRequest;
    if (!h) throw new Error(`report boundary logs: log ${i} has no resource`);
    if (h.method === '' || h.url === '') throw new Error(`report boundary logs: log ${i} has an empty method or url`);
    if (bytes(h.method) > BOUNDARY_LIMITS.name || bytes(h.url) > BOUNDARY_LIMITS.field || bytes(h.matchedRule) > BOUNDARY_LIMITS.field) {
      throw new Error(`report boundary logs: log ${i} has a field over the size cap`);
    }
    if (l.sequenceNumber < 0) throw new Error(`report boundary logs: log ${i} has a negative sequence number`);
  });
}

export function emitBoundaryLogs(logger: Logger, agentId: string, req: ap.ReportBoundaryLogsRequest): void {
  for (const l of req.logs) {
    const h = l.httpRequest!;
    logger.info(
      {
        agent_id: agentId,
        session_id: req.sessionId,
        confined_process: req.confinedProcessName,
        decision: l.allowed ? 'allow' : 'deny',
        http_method: h.method,
        http_url: h.url,
        matched_rule: h.matchedRule,
        sequence_number: l.sequenceNumber,
        event_time: new Date(l.time!.seconds * 1000 + Math.floor(l.time!.nanos / 1e6)).toISOString(),
      },
      'boundary_request',
    );
  }
}
