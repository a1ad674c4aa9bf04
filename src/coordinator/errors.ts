/**
 * Coordinator error helper. Every way a coordinator session can end, and every
 * reason an update can be dropped, is one stable code; the code doubles as the
 * `reason` label of the close/drop metrics, so the lists here are exhaustive.
 */

/** Why a coordinate session ended (metric label `reason`). */
export const CLOSE_REASONS = [
  'peer_closed', // peer closed the socket or sent a close frame (clean)
  'socket_error', // TCP reset / protocol error below the JSON layer
  'bad_node', // undecodable or invalid node JSON
  'text_frame', // a text frame on a binary-only socket
  'message_too_big', // inbound message above the read limit
  'overwritten', // a newer socket for the same peer id took over
  'write_timeout', // a write did not drain within the write timeout
  'queue_overflow', // the outbound queue was full
  'ping_timeout', // no pong for two ping periods
  'coordinator_closed', // coordinator shut down
  'not_latest_build', // agent build is no longer the workspace's latest
  'recorder_error', // connection-record write failed
  'graceful_disconnect', // v2: peer said goodbye
  'unauthorized', // v2: request failed authorization
] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

/** Why an outbound update was not delivered (metric label `reason`). */
export const DROP_REASONS = ['duplicate_write', 'queue_overflow', 'closed'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** WebSocket close codes used by the coordinate endpoints (RFC 6455 §7.4.1). */
export const WS_CLOSE = {
  normal: 1000,
  goingAway: 1001,
  unsupportedData: 1003,
  tooBig: 1009,
  internalError: 1011,
} as const;

/** A session-ending protocol error: code (metric label), close status and short reason text. */
export class CoordinatorError extends Error {
  readonly code: CloseReason;
  readonly closeCode: number;

  constructor(code: CloseReason, closeCode: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CoordinatorError';
    this.code = code;
    this.closeCode = closeCode;
  }

  /** Close reason text limited to the 123 bytes a close frame can carry. */
  get closeText(): string {
    return truncateCloseReason(this.message);
  }
}

const CLOSE_STATUS: Record<CloseReason, number> = {
  peer_closed: WS_CLOSE.normal,
  socket_error: WS_CLOSE.internalError,
  bad_node: WS_CLOSE.internalError,
  text_frame: WS_CLOSE.unsupportedData,
  message_too_big: WS_CLOSE.tooBig,
  overwritten: WS_CLOSE.goingAway,
  write_timeout: WS_CLOSE.internalError,
  queue_overflow: WS_CLOSE.internalError,
  ping_timeout: WS_CLOSE.goingAway,
  coordinator_closed: WS_CLOSE.goingAway,
  not_latest_build: WS_CLOSE.goingAway,
  recorder_error: WS_CLOSE.goingAway,
  graceful_disconnect: WS_CLOSE.normal,
  unauthorized: WS_CLOSE.internalError,
};

/** The one constructor for coordinator errors. */
export function coordError(code: CloseReason, message: string, cause?: unknown): CoordinatorError {
  return new CoordinatorError(code, CLOSE_STATUS[code], message, cause === undefined ? undefined : { cause });
}

/** Truncates to at most 123 UTF-8 bytes without splitting a character. */
export function truncateCloseReason(text: string): string {
  if (Buffer.byteLength(text) <= 123) return text;
  let out = '';
  let bytes = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > 123) break;
    out += ch;
    bytes += n;
  }
  return out;
}
