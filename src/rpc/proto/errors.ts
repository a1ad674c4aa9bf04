export type ProtoDecodeErrorCode = 'truncated' | 'bad_varint' | 'wrong_wire_type' | 'bad_wire_type' | 'bad_field_number' | 'invalid_utf8' | 'bad_group';

/** Typed protobuf decoding failure; `code` doubles as a metric label. */
export class ProtoDecodeError extends Error {
  override readonly name = 'ProtoDecodeError';
  constructor(
    readonly code: ProtoDecodeErrorCode,
    message: string,
  ) {
    super(`proto ${code}: ${message}`);
  }
}

export function protoError(code: ProtoDecodeErrorCode, detail: string): ProtoDecodeError {
  return new ProtoDecodeError(code, detail);
}
