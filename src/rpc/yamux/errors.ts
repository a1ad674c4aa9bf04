/** yamux GoAway reason codes (the `length` field of a GoAway frame). */
export const GoAwayCode = {
  Normal: 0,
  ProtocolError: 1,
  InternalError: 2,
} as const;

export type YamuxErrorCode =
  | 'bad_version'
  | 'bad_type'
  | 'wrong_direction'
  | 'duplicate_stream'
  | 'window_exceeded'
  | 'bad_session_frame'
  | 'keepalive_timeout'
  | 'ping_timeout'
  | 'session_closed'
  | 'stream_reset'
  | 'stream_closed'
  | 'remote_goaway'
  | 'transport_closed'
  | 'too_many_streams';

/** Stable `code` doubles as a metric label; `goAway` is the reason to send to the peer, if any. */
export class YamuxError extends Error {
  override readonly name = 'YamuxError';
  constructor(
    readonly code: YamuxErrorCode,
    message: string,
    readonly goAway: number | null = null,
  ) {
    super(message);
  }
}

export function yamuxError(code: YamuxErrorCode, detail?: string): YamuxError {
  const protocol: YamuxErrorCode[] = ['bad_version', 'bad_type', 'wrong_direction', 'duplicate_stream', 'window_exceeded', 'bad_session_frame'];
  const goAway = protocol.includes(code) ? GoAwayCode.ProtocolError : null;
  return new YamuxError(code, detail ? `yamux ${code}: ${detail}` : `yamux ${code}`, goAway);
}
