/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): self time per function.
 *
 *   node --import tsx bench/derp/prof-top.ts <file.cpuprofile> [top=30]
 */
import { readFileSync } from 'node:fs';

interface ProfNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: prof-top.ts <file.cpuprofile> [top]\n');
  process.exit(2);
}
const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
let total = 0;
prof.samples.forEach((id, i) => {
  const dt = prof.timeDeltas[i] ?? 0;
  const n = byId.get(id);
  if (!n) return;
  const cf = n.callFrame;
  const where = cf.url ? `${cf.url.replace(/^.*\/work\/main\//, '').replace(/^file:\/\//, '')}:${cf.lineNumber + 1}` : '';
  const k = `${cf.functionName || '(anonymous)'} ${where}`.trim();
  self.set(k, (self.get(k) ?? 0) + dt);
  total += dt;
});
const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 30));
process.stdout.write(`total ${(total / 1e6).toFixed(2)} s sampled\n`);
for (const [k, v] of top) process.stdout.write(`${((100 * v) / total).toFixed(1).padStart(5)} %  ${(v / 1e3).toFixed(0).padStart(7)} ms  ${k}\n`);
