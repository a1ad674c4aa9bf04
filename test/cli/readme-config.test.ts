/**
 * The README's configuration table lists every server option with its flag and environment
 * names, so a new option cannot ship undocumented.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { optionDefs } from '../../src/config/schema.js';

const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');

describe('README configuration table', () => {
  it('has a row for every option, naming its flag and every environment name', () => {
    const missing = optionDefs
      .filter((d) => !readme.includes(`| \`--${d.flag}\` | ${d.env.map((e) => `\`${e}\``).join(', ')} |`))
      .map((d) => d.flag);
    expect(missing).toEqual([]);
  });
});
