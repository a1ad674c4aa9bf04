/**
 * `npm run bench`: runs every benchmark in turn (each prints its own table and updates
 * bench/RESULTS.md). Pass names to run a subset: `npm run bench -- derp coordinator`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const benches: Record<string, string> = {
  api: 'bench/api.ts',
  coordinator: 'bench/coordinator/run.ts',
  derp: 'bench/derp/run.ts',
  'coordinator-sharded': 'bench/coordinator/cross-shard.ts',
  // Full size (5 000 peers, 3 shards, 5 min); scaled-down runs and --write: run bench/coordinator/soak.ts directly.
  'coordinator-soak': 'bench/coordinator/soak.ts',
  peer: 'bench/peer.ts',
};

const wanted = process.argv.slice(2);
const names = wanted.length > 0 ? wanted : Object.keys(benches);
let failed = 0;
for (const name of names) {
  const script = benches[name];
  if (!script) {
    console.error(`unknown bench "${name}"; known: ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
  if (!existsSync(script)) {
    console.error(`bench ${name}: ${script} is missing`);
    failed++;
    continue;
  }
  console.log(`\n##### ${name} (${script})`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed > 0 ? 1 : 0);
