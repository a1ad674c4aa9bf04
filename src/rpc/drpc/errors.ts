/** drpcerr codes that matter to Coder's Go peers. */
export const DrpcCode = {
  /** Plain error without a code. */
  Unknown: 0,
  /** drpcerr.Unimplemented: Go clients treat it as "feature not offered" and back off. */
  Unimplemented: 12,
} as const;

export type DrpcProtocolErrorCode =
  | 'varint_too_long'
  | 'varint_overflow'
  | 'data_overflow'
  | 'id_monotonicity'
  | 'packet_kind_change'
  | 'unknown_packet_kind'
  | 'invoke_on_existing_stream'
  | 'bad_metadata';

/** Wire-level violation: terminates the transport (the yamux stream). `code` doubles as a metric label. */
export class DrpcProtocolError extends Error {
  override readonly name = 'DrpcProtocolError';
  constructor(
    readonly code: DrpcProtocolErrorCode,
    message: string,
  ) {
    super(`protocol error: ${message}`);
  }
}

export function drpcProtocolError(code: DrpcProtocolErrorCode, detail: string): DrpcProtocolError {
  return new DrpcProtocolError(code, detail);
}

/**
 * An error a handler returns to the caller as an Error packet: 8-byte BE
 * drpcerr code + UTF-8 text. Plain Errors thrown by handlers go out with code 0.
 */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }

  static unimplemented(text = 'Unimplemented'): RpcError {
    return new RpcError(DrpcCode.Unimplemented, text);
  }
}
