/** One error type for the subsystem; `code` is stable and doubles as a metric label. */
export type DerpMapErrorCode =
  | 'both_sources'
  | 'bad_stun_address'
  | 'region_conflict'
  | 'fetch_failed'
  | 'read_failed'
  | 'bad_json'
  | 'invalid_map'
  | 'no_regions'
  | 'bad_access_url';

export class DerpMapError extends Error {
  constructor(
    readonly code: DerpMapErrorCode,
    message: string,
    readonly details: readonly string[] = [],
  ) {
    super(message);
    this.name = 'DerpMapError';
  }
}
