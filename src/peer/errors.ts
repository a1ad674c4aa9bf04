/** One error helper for the server tailnet; the code doubles as the dial metric label. */
import type { DialResult } from '../metrics/peer.js';

export type PeerErrorCode = Exclude<DialResult, 'ok'> | 'closed' | 'invalid';

export class PeerError extends Error {
  readonly code: PeerErrorCode;
  constructor(code: PeerErrorCode, message: string) {
    super(message);
    this.name = 'PeerError';
    this.code = code;
  }
}

export function peerError(code: PeerErrorCode, message: string): PeerError {
  return new PeerError(code, message);
}

/** Maps a socket-level failure (TailnetError codes mirror Node's) to a dial result. */
export function dialResultOf(err: unknown): Exclude<DialResult, 'ok'> {
  if (err instanceof PeerError) return err.code === 'closed' || err.code === 'invalid' ? 'error' : err.code;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ETIMEDOUT') return 'timeout';
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET') return 'refused';
  if (code === 'EHOSTUNREACH') return 'unreachable';
  return 'error';
}
