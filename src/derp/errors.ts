/**
 * The one error type of the DERP subsystem. `code` is stable and doubles as
 * the `reason` label of coder_derp_conn_closes_total; `wsCloseCode` is what a
 * WebSocket transport sends when the error ends a session.
 */
export type DerpErrorCode =
  | 'frame_too_large'
  | 'frame_too_short'
  | 'bad_frame'
  | 'bad_magic'
  | 'unexpected_frame'
  | 'bad_client_info'
  | 'bad_server_info'
  | 'box_open_failed'
  | 'bad_key'
  | 'not_admitted'
  | 'handshake_timeout'
  | 'insufficient_permissions'
  | 'packet_too_large'
  | 'write_timeout'
  | 'write_error'
  | 'read_timeout'
  | 'accept_rate_limited'
  | 'upgrade_failed'
  | 'closed';

export class DerpError extends Error {
  override readonly name = 'DerpError';
  constructor(
    readonly code: DerpErrorCode,
    message: string,
    readonly wsCloseCode = 1000,
  ) {
    super(message);
  }
}

export function derpError(code: DerpErrorCode, message: string, wsCloseCode?: number): DerpError {
  return new DerpError(code, message, wsCloseCode);
}

export function isDerpError(e: unknown): e is DerpError {
  return e instanceof DerpError;
}
