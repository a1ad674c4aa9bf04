import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/util/clock.js';
import { DerpMapError, DerpMapProvider, derpMapConfigSchema, validateDerpMap, type DERPMap } from '../../src/derpmap/index.js';

function remoteMap(host: string, id = 10): DERPMap {
  return {
    Regions: {
      [String(id)]: { EmbeddedRelay: false, RegionID: id, RegionCode: 'ext', RegionName: 'External', Nodes: [{ Name: `${id}a`, RegionID: id, HostName: host }] },
    },
  };
}

let server: Server;
let url: string;
let body: string;
let status: number;
let hits: number;

beforeEach(async () => {
  body = JSON.stringify(remoteMap('derp-a.example'));
  status = 200;
  hits = 0;
  server = createServer((req, res) => {
    hits++;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/derpmap.json`;
});

afterEach(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

const cfg = (over: Record<string, unknown>) => derpMapConfigSchema.parse({ stunAddresses: [], ...over });

describe('DerpMapProvider', () => {
  it('serves the embedded region merged with a URL map', async () => {
    const p = await DerpMapProvider.create({ config: cfg({ configUrl: url }), accessUrl: 'https://coder.example.com', clock: new ManualClock() });
    try {
      expect(Object.keys(p.current().Regions).sort()).toEqual(['10', '999']);
      expect(p.current().Regions['999']?.EmbeddedRelay).toBe(true);
      expect(Object.isFrozen(p.current().Regions['10'])).toBe(true);
    } finally {
      p.close();
    }
  });

  it('refreshes on the clock, notifies subscribers only on change and keeps the old map on failures', async () => {
    const clock = new ManualClock();
    const p = await DerpMapProvider.create({ config: cfg({ configUrl: url, refreshIntervalMs: 60_000 }), accessUrl: 'http://coder.test:3000', clock });
    const seen: DERPMap[] = [];
    p.subscribe((m) => seen.push(m));
    try {
      expect(hits).toBe(1);
      clock.advance(59_999);
      await p.whenIdle();
      expect(hits).toBe(1);

      clock.advance(1);
      await p.whenIdle();
      expect(hits).toBe(2);
      expect(seen).toHaveLength(0); // same content ⇒ no notification

      body = JSON.stringify(remoteMap('derp-b.example'));
      clock.advance(60_000);
      await p.whenIdle();
      expect(seen).toHaveLength(1);
      expect(seen[0]?.Regions['10']?.Nodes[0]?.HostName).toBe('derp-b.example');
      expect(p.current()).toBe(seen[0]);

      status = 502;
      body = '<html>bad gateway</html>';
      clock.advance(60_000);
      await p.whenIdle();
      expect(p.lastError?.code).toBe('fetch_failed');
      expect(p.lastError?.message).toContain('HTTP status 502');
      expect(p.current().Regions['10']?.Nodes[0]?.HostName).toBe('derp-b.example');

      status = 200;
      body = JSON.stringify(remoteMap('derp-c.example', 999)); // now conflicts with the embedded region
      clock.advance(60_000);
      await p.whenIdle();
      expect(p.lastError?.code).toBe('region_conflict');
      expect(seen).toHaveLength(1);

      body = JSON.stringify(remoteMap('derp-c.example'));
      clock.advance(60_000);
      await p.whenIdle();
      expect(p.lastError).toBeNull();
      expect(seen).toHaveLength(2);
      expect(p.current().Regions['999']?.Nodes[0]).toMatchObject({ HostName: 'coder.test', DERPPort: 3000, ForceHTTP: true });
    } finally {
      p.close();
    }
  });

  it('fails start-up on a conflicting region with Coder\'s error text', async () => {
    body = JSON.stringify(remoteMap('x', 999));
    const err = await DerpMapProvider.create({ config: cfg({ configUrl: url }), accessUrl: 'https://c', clock: new ManualClock() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DerpMapError);
    expect((err as Error).message).toBe(`the default region ID conflicts with a remote region from ${JSON.stringify(url)}`);
  });

  it('fails start-up on an undecodable or invalid map, listing the problems', async () => {
    body = '{"Regions":{"1":{"RegionID":"one"}}}';
    const e1 = (await DerpMapProvider.create({ config: cfg({ configUrl: url }), accessUrl: 'https://c', clock: new ManualClock() }).catch((e: unknown) => e)) as DerpMapError;
    expect(e1.code).toBe('bad_json');
    expect(e1.details.join()).toContain('Regions["1"].RegionID');

    body = JSON.stringify({ Regions: { '1': { RegionID: 2, RegionCode: 'a', Nodes: [{ Name: 'a', RegionID: 2, HostName: 'h' }] } } });
    const e2 = (await DerpMapProvider.create({ config: cfg({ configUrl: url }), accessUrl: 'https://c', clock: new ManualClock() }).catch((e: unknown) => e)) as DerpMapError;
    expect(e2.code).toBe('invalid_map');
    expect(e2.details).toContain('Regions["1"].RegionID: 2 does not match its map key 1');
  });

  it('applies disableStun and STUN addresses to the served map and exposes forceWebsockets', async () => {
    const p1 = await DerpMapProvider.create({ config: cfg({ stunAddresses: ['stun.example:3478'] }), accessUrl: 'https://c.example', clock: new ManualClock() });
    expect(p1.current().Regions['999']?.Nodes.map((n) => n.Name)).toEqual(['999b', '999stun0']);
    expect(p1.forceWebsockets).toBe(false);
    p1.close();
    const p2 = await DerpMapProvider.create({
      config: cfg({ stunAddresses: ['stun.example:3478'], disableStun: true, forceWebsockets: true }),
      accessUrl: 'https://c.example',
      clock: new ManualClock(),
    });
    expect(p2.current().Regions['999']?.Nodes.map((n) => n.Name)).toEqual(['999b']);
    expect(p2.forceWebsockets).toBe(true);
    expect(p2.disableStun).toBe(true);
    p2.close();
  });

  it('reloads a map file on refresh and works without an embedded region', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'derpmap-'));
    const file = join(dir, 'map.json');
    try {
      await writeFile(file, JSON.stringify(remoteMap('file-a')));
      const clock = new ManualClock();
      const p = await DerpMapProvider.create({ config: cfg({ configPath: file, serverEnable: false, refreshIntervalMs: 1000 }), accessUrl: 'https://unused', clock });
      expect(Object.keys(p.current().Regions)).toEqual(['10']);
      await writeFile(file, JSON.stringify(remoteMap('file-b')));
      clock.advance(1000);
      await p.whenIdle();
      expect(p.current().Regions['10']?.Nodes[0]?.HostName).toBe('file-b');
      p.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('uses an injected fetch function', async () => {
    const calls: string[] = [];
    const p = await DerpMapProvider.create({
      config: cfg({ configUrl: 'https://maps.invalid/m.json' }),
      accessUrl: 'https://c',
      clock: new ManualClock(),
      fetch: async (u) => {
        calls.push(u);
        return { ok: true, status: 200, text: async () => JSON.stringify(remoteMap('injected')) };
      },
    });
    expect(calls).toEqual(['https://maps.invalid/m.json']);
    expect(p.current().Regions['10']?.Nodes[0]?.HostName).toBe('injected');
    p.close();
  });
});

describe('validateDerpMap', () => {
  it('validates a URL and returns the map in Go shape', async () => {
    body = JSON.stringify({ regions: { '10': { regionid: 10, regioncode: 'x', nodes: [{ name: 'n', regionid: 10, hostname: 'h' }] } } });
    const r = await validateDerpMap(url);
    expect(r.ok).toBe(true);
    expect(r.errors).toEqual([]);
    expect(r.map?.Regions['10']?.Nodes[0]).toEqual({ Name: 'n', RegionID: 10, HostName: 'h' });
  });

  it('reports errors for a bad file and a missing file without throwing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'derpmap-'));
    try {
      const file = join(dir, 'bad.json');
      await writeFile(file, JSON.stringify({ Regions: { '3': { RegionID: 3, RegionCode: 'a', Nodes: [{ Name: 'a', RegionID: 3, HostName: 'h', DERPPort: -5 }] } } }));
      const r = await validateDerpMap(file);
      expect(r.ok).toBe(false);
      expect(r.errors).toEqual(['Regions["3"].Nodes[0].DERPPort: -5 out of range 0..65535']);
      expect(r.map).not.toBeNull();

      const missing = await validateDerpMap(join(dir, 'nope.json'));
      expect(missing.ok).toBe(false);
      expect(missing.map).toBeNull();
      expect(missing.errors[0]).toMatch(/^read .*nope\.json/);

      status = 404;
      const r404 = await validateDerpMap(url);
      expect(r404.errors[0]).toContain('HTTP status 404');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
