/**
 * StreamDERPMaps (tailnet-v2.md §3.4, §7.2 case 26): the map at once, a new message when the
 * map changes, nothing while it does not; home_params always present. Also Manifest.derp_map.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ap from '../../src/rpc/proto/agent.js';
import { RpcClient } from './client.js';
import { startV2TestServer, type V2TestServer } from './server.js';

const region = (id: number, host: string) => ({
  Regions: { [String(id)]: { RegionID: id, RegionCode: `r${id}`, RegionName: `Region ${id}`, Nodes: [{ Name: `${id}a`, RegionID: id, HostName: host, DERPPort: 443 }] } },
});

describe('StreamDERPMaps', () => {
  let s: V2TestServer;
  let file: string;
  beforeAll(async () => {
    file = join(mkdtempSync(join(tmpdir(), 'derpmap-')), 'map.json');
    writeFileSync(file, JSON.stringify(region(900, 'one.example.com')));
    s = await startV2TestServer({ env: { TAILNETD_DERP_CONFIG_PATH: file, TAILNETD_DERP_CONFIG_REFRESH_INTERVAL: '0' } });
  });
  afterAll(async () => {
    await s.stop();
  });

  it('sends the current map at once and each change once', async () => {
    const owner = await s.user();
    const b = await s.workspace(owner.username, [{ name: 'main' }]);
    const rpc = await RpcClient.dial(s.url, '/api/v2/workspaceagents/me/rpc', { token: b.agents[0]!.token!, query: { version: '2.4' } });
    const maps = await rpc.derpMaps();
    const first = (await maps.next())!;
    expect(first.homeParams).toBeDefined();
    expect(first.regions.get(900)?.nodes[0]?.hostName).toBe('one.example.com');
    const manifest = await rpc.unary(ap.AgentMethods.GetManifest, ap.GetManifestRequest, ap.Manifest, {});
    expect(manifest.derpMap!.homeParams).toBeDefined();
    expect(manifest.derpMap!.regions.get(900)).toBeDefined();

    writeFileSync(file, JSON.stringify(region(900, 'two.example.com')));
    expect(await s.derpMap.refresh()).toBe(true);
    const second = (await maps.next())!;
    expect(second.homeParams).toBeDefined();
    expect(second.regions.get(900)?.nodes[0]?.hostName).toBe('two.example.com');
    expect(await s.derpMap.refresh()).toBe(false);
    expect(await maps.call.quiet(200)).toBe(true);
    rpc.close();
  });
});
