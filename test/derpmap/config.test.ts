import { describe, expect, it } from 'vitest';
import { derpMapConfigEnv, derpMapConfigFromEnv, derpMapConfigSchema, parseDurationMs } from '../../src/derpmap/index.js';

describe('derpMapConfigSchema', () => {
  it('has Coder-compatible defaults', () => {
    expect(derpMapConfigSchema.parse({})).toEqual({
      serverEnable: true,
      regionId: 999,
      regionCode: 'coder',
      regionName: 'Coder Embedded Relay',
      stunAddresses: ['stun.l.google.com:19302'],
      refreshIntervalMs: 300_000,
      disableStun: false,
      forceWebsockets: false,
    });
  });

  it('coerces env strings', () => {
    const c = derpMapConfigSchema.parse(
      derpMapConfigFromEnv({
        TAILNETD_DERP_SERVER_REGION_ID: '900',
        TAILNETD_DERP_SERVER_STUN_ADDRESSES: 'a:1, b:2',
        TAILNETD_BLOCK_DIRECT: 'true',
        TAILNETD_DERP_FORCE_WEBSOCKETS: '1',
        TAILNETD_DERP_CONFIG_REFRESH_INTERVAL: '1m30s',
        TAILNETD_DERP_CONFIG_URL: 'https://example.com/derp.json',
        UNRELATED: 'x',
      }),
    );
    expect(c).toMatchObject({ regionId: 900, stunAddresses: ['a:1', 'b:2'], disableStun: true, forceWebsockets: true, refreshIntervalMs: 90_000, configUrl: 'https://example.com/derp.json' });
  });

  it('takes "disable" as no STUN addresses, as Coder\'s flag does (found by the Coder interop harness)', () => {
    expect(derpMapConfigSchema.parse({ stunAddresses: 'disable' }).stunAddresses).toEqual([]);
    expect(derpMapConfigSchema.parse({ stunAddresses: 'DISABLE' }).stunAddresses).toEqual([]);
  });

  it('rejects both sources, no source without the embedded relay, and bad values', () => {
    const both = derpMapConfigSchema.safeParse({ configUrl: 'https://a/b', configPath: '/x' });
    expect(both.success).toBe(false);
    expect(both.error?.issues[0]?.message).toBe('a remote URL or local path must be specified, not both');
    expect(derpMapConfigSchema.safeParse({ serverEnable: false }).success).toBe(false);
    expect(derpMapConfigSchema.safeParse({ regionId: '0' }).success).toBe(false);
    expect(derpMapConfigSchema.safeParse({ configUrl: 'ftp://x/y' }).success).toBe(false);
    expect(derpMapConfigSchema.safeParse({ refreshIntervalMs: '5 minutes' }).success).toBe(false);
  });

  it('documents one TAILNETD_ variable per field', () => {
    const fields = Object.keys(derpMapConfigSchema.parse({}));
    for (const f of [...fields, 'configUrl', 'configPath']) expect(derpMapConfigEnv).toHaveProperty(f);
    for (const name of Object.values(derpMapConfigEnv)) expect(name).toMatch(/^TAILNETD_[A-Z_]+$/);
  });

  it('parses Go-style durations', () => {
    expect(parseDurationMs('250ms')).toBe(250);
    expect(parseDurationMs('1h')).toBe(3_600_000);
    expect(parseDurationMs('1.5s')).toBe(1500);
    expect(parseDurationMs('42')).toBe(42);
    expect(parseDurationMs('1d')).toBeNull();
  });
});
