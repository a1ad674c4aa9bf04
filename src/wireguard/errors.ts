/**
 * One error helper for the WireGuard subsystem. Codes are stable and double
 * as metric labels (drop reasons, handshake failures).
 */
export type WgErrorCode =
  | 'invalid_key'
  | 'bad_message'
  | 'disco'
  | 'bad_mac1'
  | 'decrypt_failed'
  | 'unknown_peer'
  | 'unknown_index'
  | 'replayed_timestamp'
  | 'flood'
  | 'wrong_state'
  | 'expired_keypair'
  | 'replayed_counter'
  | 'bad_source'
  | 'bad_packet'
  | 'queue_full';

export class WgError extends Error {
  readonly code: WgErrorCode;
  constructor(code: WgErrorCode, message: string) {
    super(message);
    this.name = 'WgError';
    this.code = code;
  }
}

export function wgError(code: WgErrorCode, message: string): WgError {
  return new WgError(code, message);
}
