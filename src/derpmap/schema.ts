/**
 * zod schemas that decode a DERP map the way Go's encoding/json does:
 * field names match case-insensitively (exact spelling wins), unknown
 * fields are ignored, `null` leaves a field at its zero value, and integer
 * fields reject fractions. Output always uses the Go field casing.
 */
import { z } from 'zod';
import type { DERPMap, DERPNode, DERPRegion } from './types.js';

type Shape = Record<string, z.ZodType>;

/** Rewrites keys of a plain object to the canonical field names of `fields`. */
function canonicalKeys(fields: readonly string[]): (input: unknown) => unknown {
  const byLower = new Map<string, string>();
  for (const f of fields) byLower.set(f.toLowerCase(), f);
  const exact = new Set(fields);
  return (input) => {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) return input;
    const out: Record<string, unknown> = {};
    // Like Go: each key in document order sets its field (so the last
    // spelling wins) and a null value leaves the field untouched.
    for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
      const field = exact.has(k) ? k : byLower.get(k.toLowerCase());
      if (field === undefined || v === null) continue;
      out[field] = v;
    }
    return out;
  };
}

function goStruct<S extends Shape>(shape: S) {
  return z.preprocess(canonicalKeys(Object.keys(shape)), z.object(shape));
}

const goInt = z.number().int().min(-(2 ** 53)).max(2 ** 53);
const intKey = /^[+-]?\d+$/;

export const derpNodeSchema = goStruct({
  Name: z.string().default(''),
  RegionID: goInt.default(0),
  HostName: z.string().default(''),
  CertName: z.string().optional(),
  IPv4: z.string().optional(),
  IPv6: z.string().optional(),
  STUNPort: goInt.optional(),
  STUNOnly: z.boolean().optional(),
  DERPPort: goInt.optional(),
  InsecureForTests: z.boolean().optional(),
  ForceHTTP: z.boolean().optional(),
  STUNTestIP: z.string().optional(),
  CanPort80: z.boolean().optional(),
});

export const derpRegionSchema = goStruct({
  EmbeddedRelay: z.boolean().default(false),
  RegionID: goInt.default(0),
  RegionCode: z.string().default(''),
  RegionName: z.string().default(''),
  Avoid: z.boolean().optional(),
  // A null element would be a nil *DERPNode that Go clients dereference.
  Nodes: z.array(derpNodeSchema).default([]),
});

const intKeyed = <T extends z.ZodType>(value: T) =>
  z.record(z.string().regex(intKey, 'map key must be a decimal integer'), value);

export const derpMapSchema = goStruct({
  HomeParams: goStruct({
    RegionScore: intKeyed(z.number()).optional(),
  }).optional(),
  Regions: intKeyed(derpRegionSchema).default({}),
  omitDefaultRegions: z.boolean().optional(),
});

/** Normalises a decimal key the way Go's strconv would print it back. */
function normKey(k: string): string {
  return String(Number.parseInt(k, 10));
}

function dropUndefined<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}

export type ParseResult = { ok: true; map: DERPMap } | { ok: false; errors: string[] };

/** Formats a zod issue path as `Regions["1"].Nodes[0].DERPPort`. */
function issuePath(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) {
    if (typeof p === 'number') s += `[${p}]`;
    else if (typeof p === 'string' && intKey.test(p)) s += `["${p}"]`;
    else s += s === '' ? String(p) : `.${String(p)}`;
  }
  return s === '' ? '(root)' : s;
}

/** Decodes an already-parsed JSON value. */
export function parseDerpMapValue(value: unknown): ParseResult {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, errors: ['(root): a DERP map must be a JSON object'] };
  }
  const r = derpMapSchema.safeParse(value);
  if (!r.success) {
    return {
      ok: false,
      errors: r.error.issues.map(
        (i) => `${issuePath(i.path)}: ${i.code === 'invalid_key' ? 'map key must be a decimal integer' : i.message}`,
      ),
    };
  }
  const regions: Record<string, DERPRegion> = {};
  for (const [k, reg] of Object.entries(r.data.Regions)) {
    regions[normKey(k)] = {
      ...dropUndefined(reg),
      Nodes: reg.Nodes.map((n) => dropUndefined(n) as DERPNode),
    };
  }
  const map: DERPMap = { Regions: regions };
  if (r.data.HomeParams) {
    const scores = r.data.HomeParams.RegionScore;
    map.HomeParams = {};
    if (scores) {
      map.HomeParams.RegionScore = Object.fromEntries(
        Object.entries(scores).map(([k, v]) => [normKey(k), v]),
      );
    }
  }
  if (r.data.omitDefaultRegions !== undefined) map.omitDefaultRegions = r.data.omitDefaultRegions;
  return { ok: true, map };
}

/** Decodes JSON text. */
export function parseDerpMapJson(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, errors: [`invalid JSON: ${(e as Error).message}`] };
  }
  return parseDerpMapValue(value);
}
