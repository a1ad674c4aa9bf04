/**
 * bench/RESULTS.md: each bench owns one `## <heading>` section and replaces only that one
 * (from its heading line to the next `## ` heading), or appends it when missing.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export const RESULTS_FILE = new URL('./RESULTS.md', import.meta.url);

/** `section` must start with its own `## <heading>` line. */
export function replaceResultsSection(section: string, file: string | URL = RESULTS_FILE): void {
  const heading = section.slice(0, section.indexOf('\n') < 0 ? section.length : section.indexOf('\n')).trimEnd();
  if (!heading.startsWith('## ')) throw new Error(`a results section starts with "## ": ${heading}`);
  const cur = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n';
  const lines = cur.split('\n');
  const start = lines.findIndex((l) => l.trimEnd() === heading);
  let next: string;
  if (start < 0) {
    next = `${cur.trimEnd()}\n\n${section.trimEnd()}\n`;
  } else {
    const endRel = lines.slice(start + 1).findIndex((l) => l.startsWith('## '));
    const end = endRel < 0 ? lines.length : start + 1 + endRel;
    const after = lines.slice(end).join('\n');
    next = `${lines.slice(0, start).join('\n')}${start > 0 ? '\n' : ''}${section.trimEnd()}\n${after ? '\n' + after : ''}`;
  }
  writeFileSync(file, next.endsWith('\n') ? next : next + '\n');
}
