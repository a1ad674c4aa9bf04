import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateSecret } from '../../src/util/secret-file.js';

describe('loadOrCreateSecret', () => {
  it('creates a private secret once and returns the same bytes afterwards', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'tailnetd-secret-')), 'sub', 'k.key');
    const first = loadOrCreateSecret(path, 64);
    expect(first.length).toBe(64);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(loadOrCreateSecret(path, 64).equals(first)).toBe(true);
    expect(readFileSync(path, 'utf8').trim()).toBe(first.toString('hex'));
  });
});
