/**
 * Config fragment for the DERP map, for the lead to merge into the server
 * config. Values may arrive as env strings, so booleans, integers, lists and
 * durations are coerced.
 *
 * | field             | env                                     | default                   |
 * |-------------------|-----------------------------------------|---------------------------|
 * | serverEnable      | TAILNETD_DERP_SERVER_ENABLE             | true                      |
 * | regionId          | TAILNETD_DERP_SERVER_REGION_ID          | 999                       |
 * | regionCode        | TAILNETD_DERP_SERVER_REGION_CODE        | coder                     |
 * | regionName        | TAILNETD_DERP_SERVER_REGION_NAME        | Coder Embedded Relay      |
 * | stunAddresses     | TAILNETD_DERP_SERVER_STUN_ADDRESSES     | stun.l.google.com:19302   |
 * | configUrl         | TAILNETD_DERP_CONFIG_URL                | (none)                    |
 * | configPath        | TAILNETD_DERP_CONFIG_PATH               | (none)                    |
 * | refreshIntervalMs | TAILNETD_DERP_CONFIG_REFRESH_INTERVAL   | 5m (0 = load once)        |
 * | disableStun       | TAILNETD_BLOCK_DIRECT                   | false                     |
 * | forceWebsockets   | TAILNETD_DERP_FORCE_WEBSOCKETS          | false                     |
 */
import { z } from 'zod';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `1h30m`, `45s`, `250ms` (Go duration subset) or a bare number of milliseconds. */
export function parseDurationMs(v: string): number | null {
  const s = v.trim();
  if (/^\d+$/.test(s)) return Number(s);
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(s)) return null;
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(m[1]) * (UNITS[m[2] ?? ''] ?? 0);
  return Math.round(total);
}

const envBool = z.preprocess((v) => {
  if (typeof v !== 'string') return v;
  const s = v.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(s)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
  return v;
}, z.boolean());

const envInt = z.preprocess((v) => (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v), z.number().int());

const envList = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter((s) => s !== '') : v),
  z.array(z.string()),
);

const envDuration = z.preprocess((v) => (typeof v === 'string' ? (parseDurationMs(v) ?? v) : v), z.number().int().min(0));

const optionalString = z.preprocess((v) => (v === '' ? undefined : v), z.string().optional());

export const derpMapConfigSchema = z
  .object({
    /** Serve the embedded relay region built from the access URL. */
    serverEnable: envBool.default(true),
    regionId: envInt.pipe(z.number().int().min(1).max(2 ** 31 - 1)).default(999),
    regionCode: z.string().min(1).default('coder'),
    regionName: z.string().min(1).default('Coder Embedded Relay'),
    /** `host:port` STUN servers advertised in the embedded region. */
    /** `disable` (alone) turns STUN off, as Coder's flag does. */
    stunAddresses: envList.transform((l) => (l.length === 1 && l[0]?.toLowerCase() === 'disable' ? [] : l)).default(['stun.l.google.com:19302']),
    /** Extra regions from a URL (JSON tailcfg.DERPMap) … */
    configUrl: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
    /** … or from a file; not both. */
    configPath: optionalString,
    /** Re-read configUrl/configPath this often; 0 = only at start. */
    refreshIntervalMs: envDuration.default(5 * 60_000),
    /** Coder's "block direct connections": no STUN anywhere in the map. */
    disableStun: envBool.default(false),
    /** Tell clients to use DERP over WebSocket only (Coder DERPForceWebSockets). */
    forceWebsockets: envBool.default(false),
  })
  .refine((c) => !(c.configUrl && c.configPath), {
    message: 'a remote URL or local path must be specified, not both',
    path: ['configUrl'],
  })
  .refine((c) => c.serverEnable || c.configUrl || c.configPath, {
    message: 'with the embedded DERP server disabled a DERP config URL or path is required',
    path: ['serverEnable'],
  });

export type DerpMapConfig = z.output<typeof derpMapConfigSchema>;
export type DerpMapConfigInput = z.input<typeof derpMapConfigSchema>;

/** Field → env variable, for the config loader and `--help`. */
export const derpMapConfigEnv = {
  serverEnable: 'TAILNETD_DERP_SERVER_ENABLE',
  regionId: 'TAILNETD_DERP_SERVER_REGION_ID',
  regionCode: 'TAILNETD_DERP_SERVER_REGION_CODE',
  regionName: 'TAILNETD_DERP_SERVER_REGION_NAME',
  stunAddresses: 'TAILNETD_DERP_SERVER_STUN_ADDRESSES',
  configUrl: 'TAILNETD_DERP_CONFIG_URL',
  configPath: 'TAILNETD_DERP_CONFIG_PATH',
  refreshIntervalMs: 'TAILNETD_DERP_CONFIG_REFRESH_INTERVAL',
  disableStun: 'TAILNETD_BLOCK_DIRECT',
  forceWebsockets: 'TAILNETD_DERP_FORCE_WEBSOCKETS',
} as const satisfies Record<keyof DerpMapConfig, string>;

/** Picks the fragment's variables out of an environment (unset ones are omitted). */
export function derpMapConfigFromEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [field, name] of Object.entries(derpMapConfigEnv)) {
    const v = env[name];
    if (v !== undefined) out[field] = v;
  }
  return out;
}
