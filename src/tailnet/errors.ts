/**
 * One error helper for the tailnet packet layer. Codes mirror Node's socket
 * error codes so node:http and WebSocket bridges react as with real sockets;
 * they double as metric labels.
 */
export type TailnetErrorCode =
  | 'ECONNRESET'
  | 'ETIMEDOUT'
  | 'EHOSTUNREACH'
  | 'ECONNABORTED'
  | 'EADDRINUSE'
  | 'EPIPE'
  | 'EINVAL';

export class TailnetError extends Error {
  readonly code: TailnetErrorCode;
  constructor(code: TailnetErrorCode, message: string) {
    super(message);
    this.name = 'TailnetError';
    this.code = code;
  }
}

export function tailnetError(code: TailnetErrorCode, message: string): TailnetError {
  return new TailnetError(code, message);
}
