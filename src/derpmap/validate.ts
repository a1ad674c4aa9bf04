/**
 * `tailnetd derpmap validate <file|url>`: decode + semantic check, never
 * throws. `ok` means no errors (warnings are allowed).
 */
import { DerpMapError } from './errors.js';
import { toGoShape } from './encode.js';
import { loadDerpMapSource, type SourceIO } from './source.js';
import type { DERPMap } from './types.js';

export interface ValidateResult {
  ok: boolean;
  errors: string[];
  warnings: string[];
  /** The decoded map in Go shape, when it decoded at all. */
  map: DERPMap | null;
}

export async function validateDerpMap(fileOrUrl: string, io: SourceIO = {}): Promise<ValidateResult> {
  try {
    const { map, check } = await loadDerpMapSource(fileOrUrl, io);
    return { ok: check.errors.length === 0, errors: check.errors, warnings: check.warnings, map: toGoShape(map) };
  } catch (e) {
    const errors = e instanceof DerpMapError ? [e.message, ...e.details] : [String(e)];
    return { ok: false, errors, warnings: [], map: null };
  }
}
