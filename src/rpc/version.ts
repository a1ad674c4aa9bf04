/**
 * `?version=` negotiation for the v2 routes (Coder's apiversion.Validate).
 * Pure: returns the accepted version or the exact 400 response to send
 * before the WebSocket upgrade.
 */

export interface ApiVersion {
  major: number;
  minor: number;
}

export interface VersionPolicy {
  current: ApiVersion;
  /** Older majors still served (1 = v1 JSON coordinator on /coordinate). */
  backwardCompatMajors: readonly number[];
}

/**
 * Highest API version tailnetd declares. Go agents never downgrade, so this
 * must be ≥ the newest agent's request. Every Agent RPC up to 2.10
 * (PushContextState) is served; raise this only with all of a newer minor's RPCs.
 */
export const CURRENT_API_VERSION: ApiVersion = { major: 2, minor: 10 };

export type RpcRoute = 'agent-rpc' | 'coordinate' | 'tailnet';

/** Version assumed when the query parameter is absent. */
export const DEFAULT_VERSION: Record<RpcRoute, string> = {
  // v2.7.x agents dialled /me/rpc without a version.
  'agent-rpc': '2.0',
  // Missing version on /{agent}/coordinate = legacy v1 JSON coordinator.
  coordinate: '1.0',
  tailnet: '2.0',
};

export const DEFAULT_POLICY: Record<RpcRoute, VersionPolicy> = {
  'agent-rpc': { current: CURRENT_API_VERSION, backwardCompatMajors: [] },
  coordinate: { current: CURRENT_API_VERSION, backwardCompatMajors: [1] },
  tailnet: { current: CURRENT_API_VERSION, backwardCompatMajors: [] },
};

export const API_VERSION_MISMATCH_MESSAGE = 'Unknown or unsupported API version';

export interface VersionErrorBody {
  message: string;
  validations: { field: string; detail: string }[];
}

export type VersionResult = { ok: true; version: ApiVersion; raw: string } | { ok: false; status: 400; body: VersionErrorBody };

/** Go strconv.Atoi: optional sign, decimal digits, must fit in int64. */
function atoi(s: string): number | null {
  if (!/^[+-]?\d+$/.test(s)) return null;
  const n = Number(s);
  if (!Number.isSafeInteger(n)) return null;
  return n === 0 ? 0 : n; // normalise -0
}

/** Validation text per §2.2, or null when acceptable. */
export function validateVersion(v: string, policy: VersionPolicy): { error: string } | { version: ApiVersion } {
  const parts = v.split('.');
  if (parts.length !== 2) return { error: `invalid version string: ${v}` };
  const major = atoi(parts[0]!);
  if (major === null) return { error: `invalid major version: ${v}` };
  const minor = atoi(parts[1]!);
  if (minor === null) return { error: `invalid minor version: ${v}` };
  const { current } = policy;
  const at = `${current.major}.${current.minor}`;
  if (major > current.major) return { error: `server is at version ${at}, behind requested major version ${v}` };
  if (major === current.major) {
    if (minor > current.minor) return { error: `server is at version ${at}, behind requested minor version ${v}` };
    return { version: { major, minor } };
  }
  if (!policy.backwardCompatMajors.includes(major)) return { error: `version ${v} is no longer supported` };
  return { version: { major, minor } };
}

/**
 * `raw` is the query parameter value (null/undefined when absent; an empty
 * string counts as absent, like Go's r.URL.Query().Get).
 */
export function negotiateVersion(route: RpcRoute, raw: string | null | undefined, policy: VersionPolicy = DEFAULT_POLICY[route]): VersionResult {
  const v = raw ? raw : DEFAULT_VERSION[route];
  const r = validateVersion(v, policy);
  if ('version' in r) return { ok: true, version: r.version, raw: v };
  return {
    ok: false,
    status: 400,
    body: { message: API_VERSION_MISMATCH_MESSAGE, validations: [{ field: 'version', detail: r.error }] },
  };
}
