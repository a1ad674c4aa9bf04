import type { z } from 'zod';
import type { RequestContext } from './http/context.js';
import { apiError, Msg } from './http/errors.js';
import { foldKeys } from '../util/go-json.js';

/**
 * Reads a JSON body the way Go's httpapi.Read does: first value only, case-insensitive field
 * names, unknown fields ignored; a type mismatch is a decode error (400 "Request body must be valid JSON.").
 */
export async function readGoBody<T extends z.ZodObject>(ctx: RequestContext, schema: T): Promise<z.infer<T>> {
  const raw = await ctx.json();
  if (raw === null) return schema.parse({}) as z.infer<T>;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw apiError(400, Msg.invalidJson, `json: cannot unmarshal ${Array.isArray(raw) ? 'array' : typeof raw} into Go value of type object`);
  }
  const folded = foldKeys(raw, Object.keys(schema.shape));
  const parsed = schema.safeParse(folded);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue ? issue.path.join('.') : '';
    throw apiError(400, Msg.invalidJson, `json: cannot unmarshal into Go struct field ${field}: ${issue?.message ?? 'invalid value'}`);
  }
  return parsed.data as z.infer<T>;
}

/** coderd's "Validation failed." for a required field left empty. */
export function requireFields(values: Record<string, unknown>, fields: string[]): void {
  const validations = fields
    .filter((f) => values[f] === undefined || values[f] === '' || values[f] === null)
    .map((f) => ({ field: f, detail: `Validation failed for tag "required" with value: "${String(values[f] ?? '')}"` }));
  if (validations.length > 0) throw apiError(400, Msg.validationFailed, undefined, validations);
}
