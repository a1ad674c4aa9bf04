export type ConvertErrorCode = 'bad_node_key' | 'bad_disco_key' | 'bad_prefix' | 'bad_uuid' | 'bad_time';

/** A v2 message that cannot be expressed in the coordinator's (v1-shaped) model. */
export class ConvertError extends Error {
  override readonly name = 'ConvertError';
  constructor(
    readonly code: ConvertErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function convertError(code: ConvertErrorCode, detail: string): ConvertError {
  return new ConvertError(code, detail);
}
