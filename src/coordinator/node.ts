/**
 * tailnet.Node (v1 JSON) codec. Pure.
 *
 * Decoding validates like Go's encoding/json into tailnet.Node would (key
 * prefixes + hex, prefixes, int64 id) and re-encodes canonically like Go's
 * json.Marshal: fixed field order, unknown fields dropped, map keys sorted.
 * The 63-bit `id` is read from the raw JSON text and kept as a bigint: it
 * never passes through a JS number.
 */
import { coordError, type CoordinatorError } from './errors.js';
import { isEndpointText, isPrefixText } from './netparse.js';

export interface Node {
  readonly id: bigint;
  readonly asOf: string;
  readonly key: string;
  readonly disco: string;
  readonly preferredDerp: number;
  readonly derpLatency: Readonly<Record<string, number>> | null;
  /** Region id (decimal text) → reason. */
  readonly derpForcedWebsockets: Readonly<Record<string, string>> | null;
  readonly addresses: readonly string[] | null;
  readonly allowedIps: readonly string[] | null;
  readonly endpoints: readonly string[] | null;
}

/** A decoded node plus its canonical JSON, computed once at ingestion. */
export interface NodeRecord {
  readonly node: Node;
  readonly json: string;
}

/**
 * Keeps only the canonical JSON; the typed view is rebuilt from it on first
 * use (API lookups, other transports). Most nodes are only ever forwarded as
 * JSON, and the typed object graph costs more memory than the text.
 */
class StoredNode implements NodeRecord {
  private typed: Node | null = null;
  constructor(readonly json: string) {}

  get node(): Node {
    return (this.typed ??= parseNode(this.json));
  }
}

/** Largest canonical node JSON: `[` + node + `]` must fit one 32 KiB message. */
export const MAX_NODE_JSON = 32 * 1024 - 2;
const ZERO_TIME = '0001-01-01T00:00:00Z';
const ZERO_HEX = '0'.repeat(64);
const INT_TEXT = /^-?(?:0|[1-9]\d*)$/;
const MAP_INT_KEY = /^[+-]?\d{1,19}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function bad(detail: string): CoordinatorError {
  return coordError('bad_node', `read json: ${detail}`);
}

/**
 * Decodes one JSON object (the splitter's output) into a validated NodeRecord.
 * Same checks, in the same order, and the same text as
 * encodeNode(parseNode(text)), but written straight from the parsed object:
 * this runs once per update, and the typed Node, its null-prototype maps and
 * entry arrays would be garbage at once (young-generation churn per update).
 */
export function decodeNode(bytes: Buffer | string): NodeRecord {
  const text = typeof bytes === 'string' ? bytes : bytes.toString('utf8');
  const obj = parseObject(text);
  const raw = fastRawNumbers(text) ?? rawTopLevelNumbers(text);
  const id = int64Text(obj.id, raw.id, 'id');
  const asOf = timeField(obj.as_of);
  const key = keyField(obj.key, 'nodekey:', 'key');
  const disco = keyField(obj.disco, 'discokey:', 'disco');
  const derp = intField(obj.preferred_derp, raw.preferred_derp, 'preferred_derp');
  const latency = latencyObject(obj.derp_latency);
  const forced = obj.derp_forced_websockets === undefined || obj.derp_forced_websockets === null ? 'null' : encodeMap(forcedField(obj.derp_forced_websockets));
  const addresses = listField(obj.addresses, isPrefixText, 'addresses');
  const allowedIps = listField(obj.allowed_ips, isPrefixText, 'allowed_ips');
  const endpoints = listField(obj.endpoints, isEndpointText, 'endpoints');
  // Go peers send json.Marshal output, which is already canonical: then the
  // received text is kept as is (one flat string, nothing rebuilt).
  const json = isCanonical(text, id, asOf, key, disco, derp, latency, forced, addresses, allowedIps, endpoints)
    ? text
    : `{"id":${id},"as_of":"${asOf}","key":"${key}",` +
      `"disco":"${disco}","preferred_derp":${derp},` +
      `"derp_latency":${encodeMap(latency)},"derp_forced_websockets":${forced},` +
      `"addresses":${encodeList(addresses)},"allowed_ips":${encodeList(allowedIps)},` +
      `"endpoints":${encodeList(endpoints)}}`;
  if (json.length > MAX_NODE_JSON) throw bad('node too large');
  return new StoredNode(json);
}

/** Read cursor of isCanonical (module state: the check is synchronous and allocates nothing). */
let at = 0;

function lit(text: string, piece: string): boolean {
  if (!text.startsWith(piece, at)) return false;
  at += piece.length;
  return true;
}

/** Whether `text` is exactly what decodeNode would build from these validated fields, compared piece by piece. */
function isCanonical(
  text: string,
  id: string,
  asOf: string,
  key: string,
  disco: string,
  derp: number,
  latency: Readonly<Record<string, number>> | null,
  forced: string,
  addresses: readonly string[] | null,
  allowedIps: readonly string[] | null,
  endpoints: readonly string[] | null,
): boolean {
  at = 0;
  return (
    lit(text, '{"id":') &&
    lit(text, id) &&
    lit(text, ',"as_of":"') &&
    lit(text, asOf) &&
    lit(text, '","key":"') &&
    lit(text, key) &&
    lit(text, '","disco":"') &&
    lit(text, disco) &&
    lit(text, '","preferred_derp":') &&
    lit(text, String(derp)) &&
    lit(text, ',"derp_latency":') &&
    mapIsCanonical(text, latency) &&
    lit(text, ',"derp_forced_websockets":') &&
    lit(text, forced) &&
    lit(text, ',"addresses":') &&
    listIsCanonical(text, addresses) &&
    lit(text, ',"allowed_ips":') &&
    listIsCanonical(text, allowedIps) &&
    lit(text, ',"endpoints":') &&
    listIsCanonical(text, endpoints) &&
    lit(text, '}') &&
    at === text.length
  );
}

/** encodeMap's output for a number map, compared at the cursor. */
function mapIsCanonical(text: string, m: Readonly<Record<string, number>> | null): boolean {
  if (m === null) return lit(text, 'null');
  const keys = Object.keys(m);
  if (keys.length > 1) sortInPlace(keys);
  if (!lit(text, '{')) return false;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    if (i > 0 && !lit(text, ',')) return false;
    if (PLAIN_KEY.test(k)) {
      if (!lit(text, '"') || !lit(text, k) || !lit(text, '":')) return false;
    } else if (!lit(text, JSON.stringify(k) + ':')) return false;
    if (!lit(text, String(m[k] as number))) return false;
  }
  return lit(text, '}');
}

/** encodeList's output, compared at the cursor. */
function listIsCanonical(text: string, l: readonly string[] | null): boolean {
  if (l === null) return lit(text, 'null');
  if (l.length === 0) return lit(text, '[]');
  for (const s of l) if (s.includes('%')) return lit(text, JSON.stringify(l));
  if (!lit(text, '["')) return false;
  for (let i = 0; i < l.length; i++) {
    if (i > 0 && !lit(text, '","')) return false;
    if (!lit(text, l[i] as string)) return false;
  }
  return lit(text, '"]');
}

function parseObject(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw bad('invalid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw bad('expected a node object');
  return parsed as Record<string, unknown>;
}

/** Parses and validates node JSON text into a typed Node (exported for the codec's equivalence tests). */
export function parseNode(text: string): Node {
  const obj = parseObject(text);
  const raw = fastRawNumbers(text) ?? rawTopLevelNumbers(text);
  const node: Node = {
    id: int64Field(obj.id, raw.id, 'id'),
    asOf: timeField(obj.as_of),
    key: keyField(obj.key, 'nodekey:', 'key'),
    disco: keyField(obj.disco, 'discokey:', 'disco'),
    preferredDerp: intField(obj.preferred_derp, raw.preferred_derp, 'preferred_derp'),
    derpLatency: latencyField(obj.derp_latency),
    derpForcedWebsockets: forcedField(obj.derp_forced_websockets),
    addresses: listField(obj.addresses, isPrefixText, 'addresses'),
    allowedIps: listField(obj.allowed_ips, isPrefixText, 'allowed_ips'),
    endpoints: listField(obj.endpoints, isEndpointText, 'endpoints'),
  };
  return node;
}

/** Builds a NodeRecord from an already-typed node (e.g. from a v2 protobuf adapter). */
export function nodeRecord(node: Node): NodeRecord {
  return { node, json: encodeNode(node) };
}

/** Canonical Go-style JSON for a node. */
export function encodeNode(n: Node): string {
  return (
    // as_of, key and disco passed strict regexes: plain ASCII that needs no escaping.
    `{"id":${n.id.toString()},"as_of":"${n.asOf}","key":"${n.key}",` +
    `"disco":"${n.disco}","preferred_derp":${n.preferredDerp},` +
    `"derp_latency":${encodeMap(n.derpLatency)},"derp_forced_websockets":${encodeMap(n.derpForcedWebsockets)},` +
    `"addresses":${encodeList(n.addresses)},"allowed_ips":${encodeList(n.allowedIps)},` +
    `"endpoints":${encodeList(n.endpoints)}}`
  );
}

const PLAIN_KEY = /^[\w.+-]*$/;

function encodeMap(m: Readonly<Record<string, number | string>> | null): string {
  if (m === null) return 'null';
  const keys = Object.keys(m);
  if (keys.length > 1) sortInPlace(keys);
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    const v = m[k] as number | string;
    if (i > 0) out += ',';
    // Plain keys and finite numbers print the same as JSON.stringify would.
    out += PLAIN_KEY.test(k) ? `"${k}":` : JSON.stringify(k) + ':';
    out += typeof v === 'number' ? String(v) : JSON.stringify(v);
  }
  return out + '}';
}

function encodeList(l: readonly string[] | null): string {
  if (l === null) return 'null';
  if (l.length === 0) return '[]';
  // Validated prefixes/endpoints need no escaping, except an endpoint zone.
  for (const s of l) if (s.includes('%')) return JSON.stringify(l);
  return '["' + l.join('","') + '"]';
}

/**
 * Insertion sort by UTF-16 code units (what Array#sort does for strings):
 * maps here have a handful of keys, and Array#sort allocates a work copy.
 */
function sortInPlace(keys: string[]): void {
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i] as string;
    let j = i - 1;
    while (j >= 0 && (keys[j] as string) > k) {
      keys[j + 1] = keys[j] as string;
      j--;
    }
    keys[j + 1] = k;
  }
}

/** derp_latency validated like latencyField, but the parsed object itself is returned (no null-prototype copy). */
function latencyObject(v: unknown): Readonly<Record<string, number>> | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw bad('derp_latency: expected an object');
  const m = v as Record<string, unknown>;
  const keys = Object.keys(m);
  for (let i = 0; i < keys.length; i++) if (typeof m[keys[i] as string] !== 'number') throw bad('derp_latency: expected numbers');
  return m as Record<string, number>;
}

/** int64Field's value as decimal text (bigint.toString()), without a BigInt when the text is short. */
function int64Text(v: unknown, rawText: string | undefined, name: string): string {
  if (v === undefined || v === null) return '0';
  if (typeof v !== 'number' || rawText === undefined || !INT_TEXT.test(rawText)) throw bad(`${name}: expected an int64`);
  // INT_TEXT has no leading zeros, so up to 18 digits the text is in range and already canonical, except "-0".
  if (rawText.length <= 18 && rawText !== '-0') return rawText;
  return int64Field(v, rawText, name).toString();
}

function int64Field(v: unknown, rawText: string | undefined, name: string): bigint {
  if (v === undefined || v === null) return 0n;
  if (typeof v !== 'number' || rawText === undefined || !INT_TEXT.test(rawText)) throw bad(`${name}: expected an int64`);
  const n = BigInt(rawText);
  if (n < INT64_MIN || n > INT64_MAX) throw bad(`${name}: int64 out of range`);
  return n;
}

function intField(v: unknown, rawText: string | undefined, name: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || rawText === undefined || !INT_TEXT.test(rawText) || !Number.isSafeInteger(v)) {
    throw bad(`${name}: expected an integer`);
  }
  return v;
}

function timeField(v: unknown): string {
  if (v === undefined || v === null) return ZERO_TIME;
  if (typeof v !== 'string' || !RFC3339.test(v)) throw bad('as_of: expected an RFC 3339 time');
  return v;
}

function keyField(v: unknown, prefix: string, name: string): string {
  if (v === undefined || v === null) return prefix + ZERO_HEX;
  if (typeof v !== 'string' || v.length !== prefix.length + 64 || !v.startsWith(prefix)) {
    throw bad(`${name}: expected ${prefix}<64 hex digits>`);
  }
  // Checked in place: the usual key is already lower-case and is kept as is (no slice or copy).
  let upper = false;
  for (let i = prefix.length; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66)) continue;
    if (c >= 0x41 && c <= 0x46) upper = true;
    else throw bad(`${name}: expected ${prefix}<64 hex digits>`);
  }
  return upper ? prefix + v.slice(prefix.length).toLowerCase() : v;
}

function latencyField(v: unknown): Record<string, number> | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw bad('derp_latency: expected an object');
  const out = Object.create(null) as Record<string, number>;
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (typeof val !== 'number') throw bad('derp_latency: expected numbers');
    out[k] = val;
  }
  return out;
}

function forcedField(v: unknown): Record<string, string> | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw bad('derp_forced_websockets: expected an object');
  const out = Object.create(null) as Record<string, string>;
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (!MAP_INT_KEY.test(k) || typeof val !== 'string') throw bad('derp_forced_websockets: expected int keys and string values');
    const key = BigInt(k);
    if (key < INT64_MIN || key > INT64_MAX) throw bad('derp_forced_websockets: key out of range');
    out[key.toString()] = val;
  }
  return out;
}

function listField(v: unknown, valid: (s: string) => boolean, name: string): string[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v)) throw bad(`${name}: expected an array`);
  for (const item of v) {
    if (typeof item !== 'string' || !valid(item)) throw bad(`${name}: invalid entry`);
  }
  return v as string[];
}

const RAW_KEYS = ['id', 'preferred_derp'] as const;
const RAW_PATTERNS = RAW_KEYS.map((k) => `"${k}"`);

/**
 * Fast path for rawTopLevelNumbers: with no \u escapes in the text, a key
 * that occurs once as `"name":` and that JSON.parse saw at the top level must
 * be that occurrence. Returns null when the text needs the full scan.
 */
function fastRawNumbers(text: string): { id?: string; preferred_derp?: string } | null {
  if (text.includes('\\u')) return null;
  const out: { id?: string; preferred_derp?: string } = {};
  for (let k = 0; k < RAW_KEYS.length; k++) {
    const key = RAW_KEYS[k] as 'id' | 'preferred_derp';
    const pat = RAW_PATTERNS[k] as string;
    const i = text.indexOf(pat);
    if (i < 0) continue;
    if (text.indexOf(pat, i + 1) >= 0) return null;
    let j = skipWs(text, i + pat.length);
    if (text.charCodeAt(j) !== 0x3a) return null;
    j = skipWs(text, j + 1);
    out[key] = text.slice(j, skipValue(text, j));
  }
  return out;
}

/**
 * Raw number text of the top-level `id` and `preferred_derp` members (last one
 * wins, as in Go). Runs on text JSON.parse already accepted, so it only needs
 * to skip values correctly, not to validate.
 */
export function rawTopLevelNumbers(text: string): { id?: string; preferred_derp?: string } {
  const out: { id?: string; preferred_derp?: string } = {};
  const n = text.length;
  let i = text.indexOf('{') + 1;
  while (i < n) {
    i = skipWs(text, i);
    if (text.charCodeAt(i) !== 0x22) break; // '}' or end
    const keyEnd = stringEnd(text, i);
    const keyRaw = text.slice(i + 1, keyEnd);
    const key = keyRaw.includes('\\') ? (JSON.parse(text.slice(i, keyEnd + 1)) as string) : keyRaw;
    i = skipWs(text, keyEnd + 1) + 1; // past ':'
    i = skipWs(text, i);
    const valueEnd = skipValue(text, i);
    if (key === 'id' || key === 'preferred_derp') out[key] = text.slice(i, valueEnd);
    i = skipWs(text, valueEnd) + 1; // past ',' or '}'
  }
  return out;
}

function skipWs(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

/** Index of the closing quote of the string starting at i. */
function stringEnd(s: string, i: number): number {
  for (let j = i + 1; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x5c) j++;
    else if (c === 0x22) return j;
  }
  return s.length;
}

/** Index just past the JSON value starting at i. */
function skipValue(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === 0x22) return stringEnd(s, i) + 1;
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    for (let j = i; j < s.length; j++) {
      const d = s.charCodeAt(j);
      if (d === 0x22) j = stringEnd(s, j);
      else if (d === 0x7b || d === 0x5b) depth++;
      else if ((d === 0x7d || d === 0x5d) && --depth === 0) return j + 1;
    }
    return s.length;
  }
  let j = i;
  while (j < s.length) {
    const d = s.charCodeAt(j);
    if (d === 0x2c || d === 0x7d || d === 0x5d || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) break;
    j++;
  }
  return j;
}
