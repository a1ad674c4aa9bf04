import { describe, expect, it } from 'vitest';
import { API_VERSION_MISMATCH_MESSAGE, CURRENT_API_VERSION, negotiateVersion } from '../../src/rpc/version.js';

const detail = (route: Parameters<typeof negotiateVersion>[0], v: string | null) => {
  const r = negotiateVersion(route, v);
  if (r.ok) throw new Error(`accepted ${v}`);
  expect(r.status).toBe(400);
  expect(r.body.message).toBe(API_VERSION_MISMATCH_MESSAGE);
  expect(r.body.validations).toHaveLength(1);
  expect(r.body.validations[0]!.field).toBe('version');
  return r.body.validations[0]!.detail;
};

describe('API version negotiation (§2)', () => {
  const at = `${CURRENT_API_VERSION.major}.${CURRENT_API_VERSION.minor}`;

  it('defaults: /me/rpc → 2.0, /coordinate → 1.0 (v1 JSON), /tailnet → 2.0', () => {
    expect(negotiateVersion('agent-rpc', null)).toEqual({ ok: true, version: { major: 2, minor: 0 }, raw: '2.0' });
    expect(negotiateVersion('agent-rpc', '')).toMatchObject({ ok: true, raw: '2.0' });
    expect(negotiateVersion('coordinate', undefined)).toEqual({ ok: true, version: { major: 1, minor: 0 }, raw: '1.0' });
    expect(negotiateVersion('tailnet', null)).toMatchObject({ ok: true, version: { major: 2, minor: 0 } });
  });

  it('declares at least 2.9 so the newest agents connect', () => {
    expect(CURRENT_API_VERSION.major).toBe(2);
    expect(CURRENT_API_VERSION.minor).toBeGreaterThanOrEqual(9);
  });

  it('accepts every minor from 2.0 to the declared one', () => {
    for (let m = 0; m <= CURRENT_API_VERSION.minor; m++) {
      expect(negotiateVersion('agent-rpc', `2.${m}`)).toMatchObject({ ok: true, version: { major: 2, minor: m } });
    }
  });

  it('rejects with the exact §2.2 texts', () => {
    expect(detail('agent-rpc', `2.${CURRENT_API_VERSION.minor + 1}`)).toBe(`server is at version ${at}, behind requested minor version 2.${CURRENT_API_VERSION.minor + 1}`);
    expect(detail('agent-rpc', '3.0')).toBe(`server is at version ${at}, behind requested major version 3.0`);
    expect(detail('agent-rpc', '1.0')).toBe('version 1.0 is no longer supported');
    expect(detail('agent-rpc', 'abc')).toBe('invalid version string: abc');
    expect(detail('agent-rpc', '2')).toBe('invalid version string: 2');
    expect(detail('agent-rpc', '2.0.1')).toBe('invalid version string: 2.0.1');
    expect(detail('agent-rpc', '2.x')).toBe('invalid minor version: 2.x');
    expect(detail('agent-rpc', 'x.1')).toBe('invalid major version: x.1');
    expect(detail('tailnet', '1.0')).toBe('version 1.0 is no longer supported');
  });

  it('keeps major 1 on /coordinate for the v1 JSON adapter', () => {
    expect(negotiateVersion('coordinate', '1.0')).toMatchObject({ ok: true, version: { major: 1, minor: 0 } });
    expect(negotiateVersion('coordinate', '2.0')).toMatchObject({ ok: true, version: { major: 2, minor: 0 } });
  });

  it('a policy without v1 rejects a missing version on /coordinate', () => {
    const r = negotiateVersion('coordinate', null, { current: CURRENT_API_VERSION, backwardCompatMajors: [] });
    expect(r).toMatchObject({ ok: false, status: 400 });
  });

  it('parses like Go strconv.Atoi (sign allowed, leading zeros allowed)', () => {
    expect(negotiateVersion('agent-rpc', '+2.01')).toMatchObject({ ok: true, version: { major: 2, minor: 1 } });
    expect(detail('agent-rpc', '2. 1')).toBe('invalid minor version: 2. 1');
  });
});
