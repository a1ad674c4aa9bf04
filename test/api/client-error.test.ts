import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Regression (found by the Coder interop harness): 2023 clients send a TLS ClientHello to the
 * plain-HTTP DERP port for latency checks and never close; the server must answer 400 and close.
 */
describe('non-HTTP bytes on the HTTP port', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => {
    await s.stop();
  });

  it('answers 400 and closes the socket even though the peer keeps it open', async () => {
    const { port } = new URL(s.url);
    const sock = connect(Number(port), '127.0.0.1');
    let received = '';
    sock.on('data', (d: Buffer) => (received += d.toString('latin1')));
    const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()));
    sock.on('error', () => {});
    await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
    // The first bytes of a TLS 1.x ClientHello record.
    sock.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xea, 0x01, 0x00, 0x00, 0xe6, 0x03, 0x03, ...new Array<number>(64).fill(0x41)]));
    await closed;
    expect(received.startsWith('HTTP/1.1 400 Bad Request')).toBe(true);
  });

  it('does not hold up a graceful stop', async () => {
    const other = await startTestServer();
    const { port } = new URL(other.url);
    const sock = connect(Number(port), '127.0.0.1');
    sock.on('error', () => {});
    await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
    sock.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xea]));
    await new Promise((r) => setTimeout(r, 50));
    const started = performance.now();
    await other.app.stop(10_000);
    await other.backend.cleanup();
    expect(performance.now() - started).toBeLessThan(5_000);
    sock.destroy();
  });
});
