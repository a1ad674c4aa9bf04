import { identityError, type IdentityError } from './errors.js';

/**
 * Input helpers with Go encoding/json semantics for the three request bodies:
 * field names match case-insensitively (last matching key wins, as Go assigns each
 * in turn), and base64 is Go's StdEncoding (padding required, CR/LF skipped).
 */

export type FieldRead =
  | { kind: 'missing' }
  | { kind: 'string'; value: string }
  | { kind: 'wrong_type'; jsonType: string };

/** Go's EqualFold for the ASCII field names we use, plus the two non-ASCII folds it honours. */
function foldKey(key: string): string {
  return key.toLowerCase().replace(/\u017f/g, 's');
}

function jsonTypeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'object' ? 'object' : typeof v;
}

/** Reads a string field of a decoded JSON object the way Go decodes into a `string` struct field. */
export function readStringField(body: Record<string, unknown>, name: string): FieldRead {
  const wanted = foldKey(name);
  let found: FieldRead = { kind: 'missing' };
  for (const key of Object.keys(body)) {
    if (foldKey(key) !== wanted) continue;
    const v = body[key];
    // Go leaves a string field untouched when the JSON value is null.
    if (v === null) continue;
    found = typeof v === 'string' ? { kind: 'string', value: v } : { kind: 'wrong_type', jsonType: jsonTypeOf(v) };
  }
  return found;
}

export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** base64.StdEncoding.DecodeString: strict alphabet and padding; '\r' and '\n' are ignored. */
export function decodeStdBase64(text: string, maxDecodedBytes: number): Buffer {
  const compact = text.includes('\n') || text.includes('\r') ? text.replace(/[\r\n]/g, '') : text;
  if (compact.length % 4 !== 0 || !B64.test(compact)) {
    throw identityError('bad_base64', 'illegal base64 data');
  }
  // 3 bytes per 4 characters, checked before allocating.
  if ((compact.length / 4) * 3 > maxDecodedBytes + 2) {
    throw identityError('input_too_large', `decoded data exceeds ${maxDecodedBytes} bytes`);
  }
  const pad = compact.endsWith('==') ? 2 : compact.endsWith('=') ? 1 : 0;
  if (compact.slice(0, compact.length - pad).includes('=')) throw identityError('bad_base64', 'illegal base64 data');
  return Buffer.from(compact, 'base64');
}

/** decodeStdBase64 whose error details carry a coderd-style prefix ("decode signature: ..."). */
export function decodeStdBase64As(what: string, text: string, maxDecodedBytes: number): Buffer {
  try {
    return decodeStdBase64(text, maxDecodedBytes);
  } catch (err) {
    const e = err as IdentityError;
    throw identityError(e.code, `${what}: ${e.detail}`);
  }
}

/** Case-insensitive lookup of a string member of a parsed JSON document (Go struct decoding). */
export function readDocumentString(doc: Record<string, unknown>, name: string, what: string): string {
  const r = readStringField(doc, name);
  if (r.kind === 'wrong_type') {
    throw identityError('bad_document', `${what}: json: cannot unmarshal ${r.jsonType} into Go value of type string`);
  }
  return r.kind === 'string' ? r.value : '';
}
