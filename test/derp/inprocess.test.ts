import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, next, waitFor, type Harness } from './helpers.js';
import { DerpClient } from '../../src/derp/client.js';
import { keyPair } from '../../src/derp/key.js';
import { PeerGoneReason } from '../../src/derp/frame.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe('in-process sessions (embedded relay)', () => {
  it('relays between an in-process client and a TCP client, and reports departure', async () => {
    h = await startHarness();
    const local = await DerpClient.connectDuplex(h.derp.connectInProcess(), keyPair().privateKey);
    const remote = await h.connect();
    local.send(remote.publicKey, Buffer.from('from inside'));
    expect(await next(remote)).toMatchObject({ type: 'packet', src: local.publicKey });
    const big = Buffer.alloc(65536, 5);
    for (let i = 0; i < 50; i++) remote.send(local.publicKey, big);
    let got = 0;
    for (let i = 0; i < 50; i++) {
      const m = await next(local);
      if (m.type === 'packet' && m.data.equals(big)) got++;
    }
    expect(got).toBe(50);
    await local.ping();
    local.close();
    expect(await next(remote)).toEqual({ type: 'peerGone', key: local.publicKey, reason: PeerGoneReason.Disconnected });
    await waitFor(() => h.derp.connectionCount === 1);
  });
});
