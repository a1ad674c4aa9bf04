import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { DerpServer, type DerpServerOptions } from '../../src/derp/server.js';
import { createDerpHttpHandlers, type DerpHttpOptions } from '../../src/derp/http.js';
import { DerpClient, type DerpClientOptions, type DerpMessage } from '../../src/derp/client.js';
import { keyPair } from '../../src/derp/key.js';

export interface Harness {
  derp: DerpServer;
  http: Server;
  url: string;
  port: number;
  registry: Registry;
  connect(opts?: DerpClientOptions & { priv?: Buffer }): Promise<DerpClient>;
  close(): Promise<void>;
}

export async function startHarness(opts: Partial<DerpServerOptions> = {}, httpOpts: DerpHttpOptions = {}): Promise<Harness> {
  const registry = new Registry();
  const derp = new DerpServer({
    privateKey: keyPair().privateKey,
    logger: pino({ level: 'silent' }),
    registry,
    ...opts,
  });
  const h = createDerpHttpHandlers(derp, httpOpts);
  const http = createServer((req, res) => {
    if (!h.handleRequest(req, res)) {
      res.writeHead(404);
      res.end();
    }
  });
  http.on('upgrade', (req, sock, head) => {
    if (!h.handleUpgrade(req, sock, head)) sock.destroy();
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const port = (http.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/derp`;
  const clients: DerpClient[] = [];
  return {
    derp,
    http,
    url,
    port,
    registry,
    async connect(o = {}) {
      const c = await DerpClient.connect(url, o.priv ?? keyPair().privateKey, o);
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.close();
      await derp.close({ graceMs: 200 });
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}

/** Next message that is not a keep-alive / serverInfo (bounded wait). */
export async function next(c: DerpClient, ms = 3000): Promise<DerpMessage> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error('timeout waiting for message');
    const m = await c.recv(left);
    if (m.type === 'keepAlive' || m.type === 'serverInfo') continue;
    return m;
  }
}

/** Resolves true if no (non keep-alive) message arrives within `ms`. */
export async function quiet(c: DerpClient, ms = 200): Promise<boolean> {
  try {
    await next(c, ms);
    return false;
  } catch {
    return true;
  }
}

export async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function metric(reg: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await reg.getSingleMetric(name)?.get();
  if (!m) throw new Error(`no metric ${name}`);
  const v = m.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}
