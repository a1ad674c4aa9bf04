/** The per-socket writer on a real TCP socket pair: per-turn corking and the queue bound within a turn. */
import { createServer, connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameWriter } from '../../src/coordinator/frame-writer.js';
import { ManualClock } from '../../src/util/clock.js';

const sockets: Socket[] = [];
const servers: ReturnType<typeof createServer>[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
});

async function pair(): Promise<{ out: Socket; received: () => number }> {
  let got = 0;
  const server = createServer((s) => {
    sockets.push(s);
    s.on('data', (d: Buffer) => (got += d.length));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const out = connect((server.address() as { port: number }).port, '127.0.0.1');
  sockets.push(out);
  await new Promise<void>((r) => out.once('connect', r));
  return { out, received: () => got };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('FrameWriter', () => {
  it('the first frame of a turn is written at once; the rest of the turn stays corked, then leaves together', async () => {
    const { out, received } = await pair();
    let timeouts = 0;
    const w = new FrameWriter(out, { onWriteTimeout: () => timeouts++ }, { clock: new ManualClock(), maxQueue: 8, writeTimeoutMs: 1000 });
    for (let i = 0; i < 3; i++) expect(w.send(Buffer.alloc(100, i))).toBe(true);
    expect(out.writableCorked).toBe(1);
    expect(out.writableLength).toBe(200); // the first frame went to the kernel; two wait corked
    await tick();
    expect(out.writableCorked).toBe(0);
    expect(out.writableLength).toBe(0);
    for (let i = 0; i < 50 && received() < 300; i++) await tick();
    expect(received()).toBe(300);
    expect(timeouts).toBe(0);
    w.end();
  });

  it('the queue bound holds within one turn: more than maxQueue frames in a turn is an overflow', async () => {
    const { out } = await pair();
    const w = new FrameWriter(out, { onWriteTimeout: () => undefined }, { clock: new ManualClock(), maxQueue: 4, writeTimeoutMs: 1000 });
    const accepted = Array.from({ length: 6 }, () => w.send(Buffer.alloc(10)));
    expect(accepted).toEqual([true, true, true, true, false, false]);
    await tick();
    expect(w.send(Buffer.alloc(10))).toBe(true); // a new turn, a new budget
    w.end();
  });
});
