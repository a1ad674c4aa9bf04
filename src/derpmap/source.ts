/**
 * Reads a DERP map from a URL or a file. Unlike Coder (which decodes any
 * body) a non-2xx status is an error, so a proxy's HTML error page never
 * replaces a good map. Bodies are capped before decoding.
 */
import { readFile } from 'node:fs/promises';
import { systemClock, type Clock } from '../util/clock.js';
import { DerpMapError } from './errors.js';
import { checkDerpMap } from './check.js';
import { parseDerpMapJson } from './schema.js';
import type { DERPMap, DerpMapCheck } from './types.js';

export interface FetchResponseLike {
  ok: boolean;
  status: number;
  text(): Promise<string>;
}
export type FetchFn = (url: string, init: { signal: AbortSignal; headers: Record<string, string> }) => Promise<FetchResponseLike>;
export type ReadFileFn = (path: string) => Promise<string>;

export const MAX_MAP_BYTES = 4 * 1024 * 1024;
export const FETCH_TIMEOUT_MS = 10_000;

export interface SourceIO {
  fetch?: FetchFn;
  readFile?: ReadFileFn;
  clock?: Clock;
  timeoutMs?: number;
}

const defaultFetch: FetchFn = (url, init) => fetch(url, init);
const defaultReadFile: ReadFileFn = (p) => readFile(p, 'utf8');

export function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

async function fetchText(url: string, io: SourceIO): Promise<string> {
  const clock = io.clock ?? systemClock;
  const ctl = new AbortController();
  const timer = clock.setTimeout(() => ctl.abort(), io.timeoutMs ?? FETCH_TIMEOUT_MS);
  try {
    const res = await (io.fetch ?? defaultFetch)(url, { signal: ctl.signal, headers: { accept: 'application/json' } });
    if (!res.ok) throw new DerpMapError('fetch_failed', `GET ${url}: HTTP status ${res.status}`);
    return await res.text();
  } catch (e) {
    if (e instanceof DerpMapError) throw e;
    const why = ctl.signal.aborted ? `timed out after ${io.timeoutMs ?? FETCH_TIMEOUT_MS} ms` : (e as Error).message;
    throw new DerpMapError('fetch_failed', `GET ${url}: ${why}`);
  } finally {
    timer.cancel();
  }
}

/** Raw text of a URL or file, size-capped. */
export async function readSource(source: string, io: SourceIO = {}): Promise<string> {
  let text: string;
  if (isUrl(source)) text = await fetchText(source, io);
  else {
    try {
      text = await (io.readFile ?? defaultReadFile)(source);
    } catch (e) {
      throw new DerpMapError('read_failed', `read ${source}: ${(e as Error).message}`);
    }
  }
  if (Buffer.byteLength(text) > MAX_MAP_BYTES) {
    throw new DerpMapError('invalid_map', `${source}: DERP map larger than ${MAX_MAP_BYTES} bytes`);
  }
  return text;
}

export interface LoadedMap {
  map: DERPMap;
  check: DerpMapCheck;
}

/** Reads and decodes; throws on I/O or decode errors, returns semantic findings. */
export async function loadDerpMapSource(source: string, io: SourceIO = {}): Promise<LoadedMap> {
  const text = await readSource(source, io);
  const parsed = parseDerpMapJson(text);
  if (!parsed.ok) {
    throw new DerpMapError('bad_json', `${source}: not a valid DERP map`, parsed.errors);
  }
  return { map: parsed.map, check: checkDerpMap(parsed.map) };
}
