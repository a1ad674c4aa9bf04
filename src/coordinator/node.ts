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

/** Largest canonical node JSON: `[` + node + `]` must fit one 32 KiB message. */
export const MAX_NODE_JSON = 32 * 1024 - 2;
const ZERO_TIME = '0001-01-01T00:00:00Z';
const ZERO_HEX = '0'.repeat(64);
const HEX64 = /^[0-9a-fA-F]{64}$/;
const INT_TEXT = /^-?(?:0|[1-9]\d*)$/;
const MAP_INT_KEY = /^[+-]?\d{1,19}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function bad(detail: string): CoordinatorError {
  return coordError('bad_node', `read json: ${detail}`);
}

/** Decodes one JSON object (the splitter's output) into a validated NodeRecord. */
export function decodeNode(bytes: Buffer | string): NodeRecord {
  const text = typeof bytes === 'string' ? bytes : bytes.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw bad('invalid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw bad('expected a node object');
  const obj = parsed as Record<string, unknown>;
  const raw = rawTopLevelNumbers(text);
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
  const json = encodeNode(node);
  if (json.length > MAX_NODE_JSON) throw bad('node too large');
  return { node, json };
}

/** Builds a NodeRecord from an already-typed node (e.g. from a v2 protobuf adapter). */
export function nodeRecord(node: Node): NodeRecord {
  return { node, json: encodeNode(node) };
}

/** Canonical Go-style JSON for a node. */
export function encodeNode(n: Node): string {
  return (
    `{"id":${n.id.toString()},"as_of":${JSON.stringify(n.asOf)},"key":${JSON.stringify(n.key)},` +
    `"disco":${JSON.stringify(n.disco)},"preferred_derp":${n.preferredDerp},` +
    `"derp_latency":${encodeMap(n.derpLatency)},"derp_forced_websockets":${encodeMap(n.derpForcedWebsockets)},` +
    `"addresses":${encodeList(n.addresses)},"allowed_ips":${encodeList(n.allowedIps)},` +
    `"endpoints":${encodeList(n.endpoints)}}`
  );
}

function encodeMap(m: Readonly<Record<string, number | string>> | null): string {
  if (m === null) return 'null';
  const keys = Object.keys(m).sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    if (i > 0) out += ',';
    out += JSON.stringify(k) + ':' + JSON.stringify(m[k]);
  }
  return out + '}';
}

function encodeList(l: readonly string[] | null): string {
  return l === null ? 'null' : JSON.stringify(l);
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
  if (typeof v !== 'string' || !v.startsWith(prefix) || !HEX64.test(v.slice(prefix.length))) {
    throw bad(`${name}: expected ${prefix}<64 hex digits>`);
  }
  return prefix + v.slice(prefix.length).toLowerCase();
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
