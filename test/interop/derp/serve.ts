/**
 * Interop/bench launcher: a DerpServer with its HTTP handlers on
 * 127.0.0.1:<port> (0 = any) and the DERP map tailnetd would serve for that
 * address. Prints `KEY=value` lines on stdout and runs until SIGTERM/SIGINT.
 *
 *   npx tsx test/interop/derp/serve.ts [--port N] [--mesh-key HEX] [--map-out FILE]
 *
 * Prints TAILNETD_DERP_URL, TAILNETD_MESH_KEY, TAILNETD_DERP_MAP (when
 * --map-out is given) and finally READY=1.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { DerpServer, createDerpHttpHandlers, generatePrivateKey } from '../../../src/derp/index.js';
import { DerpMapProvider, derpMapConfigSchema, encodeDerpMap } from '../../../src/derpmap/index.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'mesh-key': { type: 'string' },
    'map-out': { type: 'string' },
  },
});

const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2));
const meshKey = values['mesh-key'] ?? process.env.TAILNETD_MESH_KEY ?? randomBytes(32).toString('hex');
const derp = new DerpServer({ privateKey: generatePrivateKey(), meshKey, logger, registry: new Registry() });
// TAILNETD_DERP_SHARED_READ=0: raw DERP through Node's Readable (bench A/B of the shared read buffer).
const { handleRequest, handleUpgrade } = createDerpHttpHandlers(derp, { sharedReadBuffer: process.env.TAILNETD_DERP_SHARED_READ !== '0' });

const http = createServer((req, res) => {
  if (handleRequest(req, res)) return;
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found\n');
});
http.on('upgrade', (req, socket, head) => {
  if (!handleUpgrade(req, socket, head)) socket.destroy();
});
// Backlog like Go's listeners (somaxconn): Node's default of 511 turns a
// connect storm into SYN retransmits.
await new Promise<void>((resolve) => http.listen({ port: Number(values.port), host: values.host, backlog: 4096 }, resolve));
const { port } = http.address() as AddressInfo;
const base = `http://${values.host}:${port}`;

const out: string[] = [`TAILNETD_DERP_URL=${base}/derp`, `TAILNETD_MESH_KEY=${meshKey}`, `PID=${process.pid}`];
if (values['map-out']) {
  const provider = await DerpMapProvider.create({
    config: derpMapConfigSchema.parse({ stunAddresses: [`${values.host}:3478`] }),
    accessUrl: base,
  });
  writeFileSync(values['map-out'], encodeDerpMap(provider.current()) + '\n');
  provider.close();
  out.push(`TAILNETD_DERP_MAP=${values['map-out']}`);
}
process.stdout.write(out.join('\n') + '\nREADY=1\n');

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  http.close();
  await derp.close({ graceMs: 500 });
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
