/** Configuration loading: env precedence and the empty-value rule. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';

describe('loadConfig', () => {
  it('TAILNETD_STUN_ADDRESS= (empty) turns STUN off instead of falling back to the default', () => {
    expect(loadConfig({ env: {} }).stunAddress).toBe('127.0.0.1:3478');
    expect(loadConfig({ env: { TAILNETD_STUN_ADDRESS: '' } }).stunAddress).toBe('');
  });
  it('an empty variable still means unset for options whose empty value is invalid', () => {
    const c = loadConfig({ env: { TAILNETD_POSTGRES_URL: '', TAILNETD_HTTP_ADDRESS: '' } });
    expect(c.postgresUrl).toBeUndefined();
    expect(c.httpAddress).toBe('127.0.0.1:3000');
  });
  it('flags > environment > defaults; one problem line per bad option', () => {
    expect(loadConfig({ env: { TAILNETD_HTTP_ADDRESS: '0.0.0.0:1' }, flags: { 'http-address': '127.0.0.1:2' } }).httpAddress).toBe('127.0.0.1:2');
    expect(loadConfig({ env: { CODER_HTTP_ADDRESS: '0.0.0.0:5' } }).httpAddress).toBe('0.0.0.0:5');
    try {
      loadConfig({ env: { TAILNETD_HTTP_ADDRESS: 'nope', TAILNETD_LOG_LEVEL: 'loud' } });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const problems = (e as ConfigError).problems;
      expect(problems).toHaveLength(2);
      expect(problems[0]).toMatch(/TAILNETD_HTTP_ADDRESS/);
      expect(problems[1]).toMatch(/TAILNETD_LOG_LEVEL/);
    }
  });
});
