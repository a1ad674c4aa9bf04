/**
 * One C5 core-only run in its own process, for instruction counting under
 * callgrind (bench/coordinator/core-instructions.ts): N peers, warm-up, then
 * U updates. Prints nothing; the parent reads valgrind's total.
 *
 *   node --expose-gc --import tsx bench/coordinator/core-scale-child.ts <peers> <updates>
 */
import { coreCostPerUpdate } from './core-scale.js';

const [peers, updates] = process.argv.slice(2).map(Number);
coreCostPerUpdate(peers ?? 1000, updates ?? 1000, true);
