/**
 * Holds the DERP map being served and keeps it fresh:
 *
 *   config ─► embedded region ─┐
 *   URL/file ─(every refresh)──┴► buildDerpMap ─► check ─► changed? ─► subscribers
 *
 * A failed or invalid refresh keeps the last good map. Subscribers (v2
 * StreamDERPMaps, metadata) are called only when the Go-shaped JSON changes.
 */
import type { Logger } from 'pino';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import { buildDerpMap } from './build.js';
import { checkDerpMap } from './check.js';
import type { DerpMapConfig } from './config.js';
import { embeddedRegion } from './embedded.js';
import { encodeDerpMap, toGoShape } from './encode.js';
import { DerpMapError } from './errors.js';
import { loadDerpMapSource, type FetchFn, type ReadFileFn } from './source.js';
import type { DERPMap, DERPRegion } from './types.js';

export interface DerpMapProviderOptions {
  config: DerpMapConfig;
  /** Public URL of this server; the embedded region points here. */
  accessUrl: string | URL;
  clock?: Clock;
  fetch?: FetchFn;
  readFile?: ReadFileFn;
  logger?: Logger;
}

export type DerpMapListener = (map: DERPMap) => void;

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

export class DerpMapProvider {
  private map: DERPMap = { Regions: {} };
  private encoded = '';
  private readonly listeners = new Set<DerpMapListener>();
  private readonly region: DERPRegion | null;
  private readonly source: string | undefined;
  private readonly clock: Clock;
  private timer: TimerHandle | null = null;
  private inFlight: Promise<boolean> | null = null;
  private closed = false;
  /** Last refresh failure, cleared by the next success. */
  lastError: DerpMapError | null = null;

  private constructor(private readonly opts: DerpMapProviderOptions) {
    const c = opts.config;
    if (c.configUrl && c.configPath) {
      throw new DerpMapError('both_sources', 'a remote URL or local path must be specified, not both');
    }
    this.clock = opts.clock ?? systemClock;
    this.source = c.configUrl ?? c.configPath;
    this.region = c.serverEnable
      ? embeddedRegion({ accessUrl: opts.accessUrl, regionId: c.regionId, regionCode: c.regionCode, regionName: c.regionName })
      : null;
  }

  /** Loads the first map (throws DerpMapError if unusable) and starts refreshing. */
  static async create(opts: DerpMapProviderOptions): Promise<DerpMapProvider> {
    const p = new DerpMapProvider(opts);
    p.install(await p.compute());
    const every = opts.config.refreshIntervalMs;
    if (p.source !== undefined && every > 0) {
      p.timer = p.clock.setInterval(() => void p.refresh(), every);
    }
    return p;
  }

  /** The map to serve (frozen, Go shape). */
  current(): DERPMap {
    return this.map;
  }

  get forceWebsockets(): boolean {
    return this.opts.config.forceWebsockets;
  }

  get disableStun(): boolean {
    return this.opts.config.disableStun;
  }

  /** Calls `fn` with every new map; returns the unsubscribe function. */
  subscribe(fn: DerpMapListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Re-reads the source now; resolves true if the map changed. Never rejects. */
  refresh(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    this.inFlight ??= this.compute()
      .then((m) => {
        this.lastError = null;
        return this.install(m);
      })
      .catch((e: unknown) => {
        this.lastError = e instanceof DerpMapError ? e : new DerpMapError('fetch_failed', String(e));
        this.opts.logger?.warn(
          { err: this.lastError.message, details: this.lastError.details, source: this.source },
          'DERP map refresh failed; keeping the previous map',
        );
        return false;
      })
      .finally(() => {
        this.inFlight = null;
      });
    return this.inFlight;
  }

  /** Resolves when no refresh is running (for tests driving a ManualClock). */
  async whenIdle(): Promise<void> {
    while (this.inFlight) await this.inFlight;
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = null;
    this.listeners.clear();
  }

  private async compute(): Promise<DERPMap> {
    let base: DERPMap | undefined;
    if (this.source !== undefined) {
      base = (await loadDerpMapSource(this.source, { fetch: this.opts.fetch, readFile: this.opts.readFile, clock: this.clock })).map;
    }
    const c = this.opts.config;
    const map = buildDerpMap({
      base,
      source: this.source,
      region: this.region,
      stunAddresses: c.stunAddresses,
      disableStun: c.disableStun,
    });
    const check = checkDerpMap(map);
    if (check.errors.length > 0) {
      throw new DerpMapError('invalid_map', `DERP map from ${JSON.stringify(this.source ?? 'config')} is invalid`, check.errors);
    }
    for (const w of check.warnings) this.opts.logger?.warn({ source: this.source }, `DERP map: ${w}`);
    return map;
  }

  private install(map: DERPMap): boolean {
    const shaped = toGoShape(map);
    const encoded = encodeDerpMap(shaped);
    if (encoded === this.encoded) return false;
    this.encoded = encoded;
    this.map = deepFreeze(shaped);
    for (const fn of this.listeners) {
      try {
        fn(this.map);
      } catch (e) {
        this.opts.logger?.error({ err: String(e) }, 'DERP map listener threw');
      }
    }
    return true;
  }
}
