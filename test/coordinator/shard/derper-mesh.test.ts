/**
 * Interop: a real Tailscale derper (v1.102.5) meshed with two tailnetd
 * replicas (--mesh-with both; the replicas link to derper statically and to
 * each other through Redis discovery) relays between clients on different
 * servers in both directions. Everything over TLS with one private
 * certificate for 127.0.0.1 (derper trusts it through SSL_CERT_FILE).
 * Skipped when no derper binary is found (TAILNETD_DERPER_BIN or
 * bench/.out/bin/derper, which `npm run bench:derp` installs).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { txClient } from '../../../src/coordinator/shard/bus.js';
import { DerpMeshManager, type DerpMeshOptions } from '../../../src/coordinator/shard/derp-mesh.js';
import { DerpClient } from '../../../src/derp/client.js';
import { createDerpHttpHandlers } from '../../../src/derp/http.js';
import { keyPair } from '../../../src/derp/key.js';
import { derpTlsServerOptions } from '../../../src/derp/metacert.js';
import { DerpServer } from '../../../src/derp/server.js';
import { next, waitFor } from '../../derp/helpers.js';
import { freePort } from './harness.js';

const DERPER = process.env.TAILNETD_DERPER_BIN ?? fileURLToPath(new URL('../../../bench/.out/bin/derper', import.meta.url));
const have = existsSync(DERPER) && spawnSync('openssl', ['version']).status === 0;
const log = pino({ level: 'silent' });

describe.skipIf(!have)('DERP mesh interop with a real derper', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tailnetd-derper-'));
  const meshKey = randomBytes(32).toString('hex');
  const prefix = `tailnetd:test:${randomBytes(6).toString('hex')}:`;
  let derper: ChildProcess;
  let derperUrl = '';
  let ca = '';
  const replicas: Array<{ derp: DerpServer; http: Server; url: string; mesh: DerpMeshManager; redis: Redis }> = [];
  const clients: DerpClient[] = [];
  const meshOpts: DerpMeshOptions[] = [];
  const pending: Array<{ derp: DerpServer; http: Server; url: string; redis: Redis }> = [];

  beforeAll(async () => {
    const crt = join(dir, '127.0.0.1.crt');
    const key = join(dir, '127.0.0.1.key');
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', crt, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']);
    if (r.status !== 0) throw new Error(r.stderr.toString());
    ca = readFileSync(crt, 'utf8');
    const keyPem = readFileSync(key, 'utf8');
    writeFileSync(join(dir, 'psk'), meshKey);
    const ports = [await freePort(), await freePort()];
    for (const port of ports) {
      const k = keyPair();
      const derp = new DerpServer({ privateKey: k.privateKey, meshKey, logger: log, registry: new Registry() });
      const h = createDerpHttpHandlers(derp);
      const http = createServer(derpTlsServerOptions({ cert: ca, key: keyPem, serverPublicKey: k.publicKey }), (req, res) => {
        if (!h.handleRequest(req, res)) res.writeHead(404).end();
      });
      http.on('upgrade', (req, sock, head) => {
        if (!h.handleUpgrade(req, sock, head)) sock.destroy();
      });
      await new Promise<void>((res) => http.listen(port, '127.0.0.1', res));
      const url = `https://127.0.0.1:${(http.address() as AddressInfo).port}/derp`;
      const redis = new Redis('redis://127.0.0.1:6379', { enableOfflineQueue: false, lazyConnect: true });
      await redis.connect();
      meshOpts.push({ derp, meshKey, privateKey: k.privateKey, selfUrl: url, redis: txClient(redis), prefix, intervalMs: 300, linkRetryMs: 200, linkClient: { tls: { ca } }, logger: log });
      pending.push({ derp, http, url, redis });
    }
    const dport = await freePort();
    derperUrl = `https://127.0.0.1:${dport}/derp`;
    derper = spawn(
      DERPER,
      ['-a', `127.0.0.1:${dport}`, '-http-port=-1', '-stun=false', '-certmode', 'manual', '-certdir', dir, '-hostname', '127.0.0.1', '-c', join(dir, 'derper.json'), '--mesh-psk-file', join(dir, 'psk'), '--mesh-with', ports.map((p) => `127.0.0.1:${p}`).join(',')],
      { env: { ...process.env, SSL_CERT_FILE: join(dir, '127.0.0.1.crt') }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    derper.stderr!.on('data', (d: Buffer) => (stderr += d.toString()).length > 20000 && (stderr = stderr.slice(-10000)));
    await waitFor(() => /derper: serving|listening|HTTPS/i.test(stderr) || derper.exitCode !== null, 15_000).catch(() => {});
    if (derper.exitCode !== null) throw new Error(`derper exited: ${stderr}`);
    for (const [i, r] of pending.entries()) {
      const mesh = new DerpMeshManager({ ...meshOpts[i]!, staticUrls: [derperUrl] });
      replicas.push({ ...r, mesh });
      await mesh.start();
    }
    await waitFor(() => replicas.every((r) => r.mesh.connectedPeers() === 2), 15_000);
  }, 40_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    derper?.kill('SIGKILL');
    for (const r of pending) {
      await replicas.find((x) => x.derp === r.derp)?.mesh.stop();
      r.redis.disconnect();
      await r.derp.close({ graceMs: 100 });
      r.http.closeAllConnections();
      r.http.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const client = async (url: string): Promise<DerpClient> => {
    const c = await DerpClient.connect(url, keyPair().privateKey, { tls: { ca } });
    clients.push(c);
    return c;
  };

  it('relays derper ↔ replica and replica ↔ replica, both directions', async () => {
    const onDerper = await client(derperUrl);
    const onA = await client(replicas[0]!.url);
    const onB = await client(replicas[1]!.url);
    // derper learns remote keys through its WatchConns links; ours through theirs.
    await waitFor(() => replicas.every((r) => r.derp.stats.clientsRemote >= 2), 10_000);
    await new Promise((r) => setTimeout(r, 500));
    onDerper.send(onA.publicKey, Buffer.from('derper→A'));
    expect(await next(onA, 5000)).toMatchObject({ type: 'packet', src: onDerper.publicKey });
    onA.send(onDerper.publicKey, Buffer.from('A→derper'));
    expect(await next(onDerper, 5000)).toMatchObject({ type: 'packet', src: onA.publicKey });
    onB.send(onDerper.publicKey, Buffer.from('B→derper'));
    expect(await next(onDerper, 5000)).toMatchObject({ type: 'packet', src: onB.publicKey });
    onA.send(onB.publicKey, Buffer.from('A→B'));
    expect(await next(onB, 5000)).toMatchObject({ type: 'packet', src: onA.publicKey });
    onB.send(onA.publicKey, Buffer.from('B→A'));
    expect(await next(onA, 5000)).toMatchObject({ type: 'packet', src: onB.publicKey });
  });
});
