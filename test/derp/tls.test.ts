import { X509Certificate } from 'node:crypto';
import { createServer } from 'node:https';
import { connect } from 'node:tls';
import { spawn, spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { DerpServer } from '../../src/derp/server.js';
import { createDerpHttpHandlers } from '../../src/derp/http.js';
import { DerpClient } from '../../src/derp/client.js';
import { keyPair } from '../../src/derp/key.js';
import { derToPem, derpMetaCertificate, derpTlsServerOptions, selfSignedCertificate } from '../../src/derp/metacert.js';

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

describe('meta certificate', () => {
  it('has CN derpkey<hex>, serial 2, ±30 days, CA=false and a valid self-signature', () => {
    const pub = keyPair().publicKey;
    const now = Date.UTC(2026, 0, 15, 12);
    const c = new X509Certificate(derpMetaCertificate(pub, now));
    expect(c.subject).toBe('CN=derpkey' + pub.toString('hex'));
    expect(c.issuer).toBe(c.subject);
    expect(c.serialNumber).toBe('02');
    expect(c.ca).toBe(false);
    expect(Date.parse(c.validFrom)).toBe(now - 30 * 86400_000);
    expect(Date.parse(c.validTo)).toBe(now + 30 * 86400_000);
    expect(c.verify(c.publicKey)).toBe(true);
  });
});

describe('DERP over TLS', () => {
  it('serves HTTP/1.1 only, appends the meta certificate, and relays', async () => {
    const derpKeys = keyPair();
    const leaf = selfSignedCertificate({ commonName: 'localhost', serial: 1 });
    const derp = new DerpServer({ privateKey: derpKeys.privateKey, logger: pino({ level: 'silent' }), registry: new Registry() });
    const h = createDerpHttpHandlers(derp);
    const srv = createServer(derpTlsServerOptions({ cert: derToPem(leaf.der), key: leaf.keyPem, serverPublicKey: derp.publicKey }), (q, s) => {
      if (!h.handleRequest(q, s)) s.end();
    });
    srv.on('upgrade', (q, s, hd) => h.handleUpgrade(q, s, hd) || s.destroy());
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    cleanup.push(() => srv.close());
    const port = (srv.address() as AddressInfo).port;

    const alpn = await new Promise<string | false>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
        resolve(s.alpnProtocol ?? false);
        s.end();
      });
      s.on('error', reject);
    });
    expect(alpn).toBe('http/1.1');

    const url = `https://127.0.0.1:${port}/derp`;
    const tls = { rejectUnauthorized: false, servername: 'localhost' };
    const a = await DerpClient.connect(url, keyPair().privateKey, { tls });
    const b = await DerpClient.connect(url, keyPair().privateKey, { tls, websocket: true });
    cleanup.push(() => a.close(), () => b.close());
    a.send(b.publicKey, Buffer.from('over tls'));
    let m = await b.recv(3000);
    while (m.type !== 'packet') m = await b.recv(3000);
    expect(m.data.toString()).toBe('over tls');

    if (spawnSync('openssl', ['version']).status === 0) {
      // The chain as sent (Node only exposes issuer-linked certificates).
      const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-showcerts']);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const want = 'derpkey' + derp.publicKey.toString('hex');
      const deadline = Date.now() + 5000;
      while (!out.includes(want) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      child.kill();
      expect(out).toContain(want);
      expect(out).toContain('TLSv1.3');
    }
    await derp.close({ graceMs: 100 });
  });
});
