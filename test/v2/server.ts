/** startTestServer plus what v2 tests reach into: the DERP map provider. */
import { startTestServer, type TestServer, type TestServerOptions } from '../helpers/server.js';
import type { DerpMapProvider } from '../../src/derpmap/index.js';

export interface V2TestServer extends TestServer {
  derpMap: DerpMapProvider;
}

export async function startV2TestServer(opts: TestServerOptions = {}): Promise<V2TestServer> {
  const ts = await startTestServer(opts);
  const derpMap = (ts.app as unknown as { derpMap: DerpMapProvider }).derpMap;
  return Object.assign(ts, { derpMap });
}
