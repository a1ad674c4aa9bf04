/**
 * Micro-bench for the fan-out write: `ws.send(payload)` per socket (ws frames
 * each time) versus one pre-built frame written to every raw socket (what the
 * coordinator does). Times only the synchronous write loop; receivers (raw
 * sockets in the same process) drain between rounds.
 * Usage: node --import tsx bench/coordinator/frame-write.ts
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { binaryFrameFromText } from '../../src/coordinator/ws-frame.js';
import { rawConnect, stampedNode } from './wire.js';

const SOCKETS = 200;
const ROUNDS = 300;

export async function runFrameWrite(log: (s: string) => void = console.log): Promise<{ wsSend: number; preframed: number }> {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });
  const conns: WebSocket[] = [];
  const server = createServer();
  server.on('upgrade', (req, socket: Duplex, head) => wss.handleUpgrade(req, socket, head, (ws) => conns.push(ws)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  let received = 0;
  for (let i = 0; i < SOCKETS; i++) await rawConnect(`ws://127.0.0.1:${port}/`, '127.0.0.1', () => received++);
  while (conns.length < SOCKETS) await new Promise((r) => setTimeout(r, 10));
  const raw = conns.map((c) => (c as unknown as { _socket: Duplex })._socket);

  const run = async (label: string, fn: (text: string) => void): Promise<number> => {
    let us = 0;
    const target = received + ROUNDS * SOCKETS;
    for (let r = 0; r < ROUNDS; r++) {
      const text = `[${stampedNode()}]`;
      const c0 = process.cpuUsage();
      fn(text);
      const c = process.cpuUsage(c0);
      us += c.user + c.system;
      if (r % 10 === 9) await new Promise((res) => setImmediate(res));
    }
    while (received < target) await new Promise((res) => setTimeout(res, 5));
    const per = (us * 1000) / (ROUNDS * SOCKETS);
    log(`${label}: ${per.toFixed(0)} ns CPU per socket write`);
    return per;
  };
  const wsSend: number[] = [];
  const pre: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const a = await run('ws.send per socket      ', (text) => {
      const buf = Buffer.from(text);
      for (const c of conns) c.send(buf, { binary: true });
    });
    const b = await run('pre-framed raw write     ', (text) => {
      const frame = binaryFrameFromText(text);
      for (const s of raw) s.write(frame);
    });
    wsSend.push(a);
    pre.push(b);
  }
  for (const c of conns) c.terminate();
  await new Promise<void>((r) => server.close(() => r()));
  const med = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
  return { wsSend: med(wsSend), preframed: med(pre) };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() as string)) {
  void runFrameWrite().then((r) => {
    console.log(`median: ws.send ${r.wsSend.toFixed(0)} ns, pre-framed ${r.preframed.toFixed(0)} ns, ratio ${(r.preframed / r.wsSend).toFixed(2)}`);
    process.exit(0);
  });
}
