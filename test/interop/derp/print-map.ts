/** Prints the DERP map tailnetd would serve for an access URL (used to point Go region clients at a relay). */
import { DerpMapProvider, derpMapConfigSchema, encodeDerpMap } from '../../../src/derpmap/index.js';

const accessUrl = process.argv[2];
if (!accessUrl) {
  process.stderr.write('usage: print-map.ts <access-url>\n');
  process.exit(2);
}
const p = await DerpMapProvider.create({ config: derpMapConfigSchema.parse({ stunAddresses: [] }), accessUrl });
process.stdout.write(encodeDerpMap(p.current()) + '\n');
p.close();
