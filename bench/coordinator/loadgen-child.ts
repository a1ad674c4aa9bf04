/**
 * Load generator process. Receivers are raw WebSockets (identical cost for
 * every system); senders and C1 peers use the `ws` client (or socket.io-client
 * for the socket.io peer). Latency = receive time − send time stamped in the
 * node id, same machine clock.
 */
import { io as sioConnect, type Socket as SioSocket } from 'socket.io-client';
import WebSocket from 'ws';
import { serveIpc } from './ipc.js';
import { nowMicros, rawConnect, sentMicros, stampedNode, type RawWs } from './wire.js';

type System = 'coord' | 'ws' | 'sio';

const CAP = 200_000;
const samples = new Float64Array(CAP);
let nSamples = 0;
let seen = 0;
let frames = 0;

function record(payload: Buffer): void {
  const t = sentMicros(payload);
  if (t < 0) return;
  const ms = (nowMicros() - t) / 1000;
  seen++;
  if (nSamples < CAP) samples[nSamples++] = ms;
  else {
    const j = Math.floor(Math.random() * seen);
    if (j < CAP) samples[j] = ms;
  }
}

const receivers: RawWs[] = [];
let addrSeq = 0;
const localAddr = (base: number): string => `127.0.0.${2 + ((base + addrSeq++) % 40)}`;

async function inBatches<T>(n: number, batch: number, f: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += batch) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, k) => f(i + k)))));
  }
  return out;
}

async function openReceiver(system: System, url: string, sample: boolean, base: number): Promise<RawWs> {
  if (system !== 'sio') {
    return rawConnect(url, localAddr(base), (payload) => {
      frames++;
      if (sample) record(payload);
    });
  }
  let ready: () => void = () => {};
  const readyP = new Promise<void>((r) => (ready = r));
  const ws = await rawConnect(url, localAddr(base), (payload) => {
    const c = payload[0];
    if (c === 0x34 && payload[1] === 0x32) {
      frames++;
      if (sample) record(payload);
    } else if (c === 0x30) ws.sendText('40');
    else if (c === 0x32) ws.sendText('3');
    else if (c === 0x34 && payload[1] === 0x30) ready();
  });
  await readyP;
  return ws;
}

let sender: { send(text: string): void; close(): void } | null = null;

async function openSender(system: System, url: string): Promise<void> {
  if (system === 'sio') {
    const u = new URL(url);
    const s: SioSocket = sioConnect(`http://${u.host}`, { transports: ['websocket'], query: Object.fromEntries(u.searchParams), forceNew: true });
    await new Promise<void>((r, j) => {
      s.once('connect', () => r());
      s.once('connect_error', j);
    });
    sender = { send: (t) => s.emit('n', t), close: () => s.close() };
    return;
  }
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise<void>((r, j) => {
    ws.once('open', () => r());
    ws.once('error', j);
  });
  sender = { send: (t) => ws.send(Buffer.from(t), { binary: true }), close: () => ws.close() };
}

/** Token-bucket paced sends: `rate` per second for `ms`. */
async function runSender(rate: number, ms: number): Promise<number> {
  const s = sender;
  if (!s) throw new Error('no sender');
  const start = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const t = setInterval(() => {
      const el = performance.now() - start;
      const due = Math.min(Math.floor((el * rate) / 1000), Math.floor((ms * rate) / 1000));
      while (sent < due) {
        s.send(stampedNode());
        sent++;
      }
      if (el >= ms) {
        clearInterval(t);
        resolve();
      }
    }, 2);
  });
  return sent;
}

// ---- C1 peers (ws clients that send on a ReSTUN-like schedule) ----
const peers: WebSocket[] = [];

async function openPeer(url: string, base: number): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false, localAddress: localAddr(base) });
  ws.on('message', (d: Buffer) => {
    frames++;
    record(d);
  });
  ws.on('error', () => {});
  await new Promise<void>((r, j) => {
    ws.once('open', () => r());
    ws.once('error', j);
  });
  return ws;
}

function runPeers(ms: number, periodMs: number, burstFraction: number): Promise<number> {
  let sent = 0;
  const timers: NodeJS.Timeout[] = [];
  const send = (ws: WebSocket): void => {
    if (ws.readyState === WebSocket.OPEN) {
      ws.send(Buffer.from(stampedNode()), { binary: true });
      sent++;
    }
  };
  for (const ws of peers) {
    const schedule = (): void => {
      timers.push(
        setTimeout(() => {
          send(ws);
          schedule();
        }, periodMs * (0.87 + Math.random() * 0.26)),
      );
    };
    // First update at a random phase so the load is spread.
    timers.push(
      setTimeout(() => {
        send(ws);
        schedule();
      }, Math.random() * periodMs),
    );
  }
  const burst = setInterval(() => {
    const k = Math.ceil(peers.length * burstFraction);
    for (let i = 0; i < k; i++) {
      const ws = peers[Math.floor(Math.random() * peers.length)] as WebSocket;
      send(ws);
      send(ws);
      send(ws);
    }
  }, 5000);
  return new Promise((resolve) =>
    setTimeout(() => {
      clearInterval(burst);
      for (const t of timers) clearTimeout(t);
      resolve(sent);
    }, ms),
  );
}

serveIpc({
  async recvOpen(p) {
    const { system, urls, sampleEvery, base } = p as { system: System; urls: string[]; sampleEvery: number; base: number };
    const opened = await inBatches(urls.length, 100, (i) => openReceiver(system, urls[i] as string, i % sampleEvery === 0, base));
    receivers.push(...opened);
    return opened.length;
  },
  async senderOpen(p) {
    const { system, url } = p as { system: System; url: string };
    await openSender(system, url);
    return true;
  },
  async senderRun(p) {
    const { rate, ms } = p as { rate: number; ms: number };
    return runSender(rate, ms);
  },
  async peersOpen(p) {
    const { urls, base } = p as { urls: string[]; base: number };
    const opened = await inBatches(urls.length, 100, (i) => openPeer(urls[i] as string, base));
    peers.push(...opened);
    return opened.length;
  },
  async peersSendOnce() {
    for (const ws of peers) ws.send(Buffer.from(stampedNode()), { binary: true });
    return peers.length;
  },
  async peersRun(p) {
    const { ms, periodMs, burstFraction } = p as { ms: number; periodMs: number; burstFraction: number };
    return runPeers(ms, periodMs, burstFraction);
  },
  stats(p) {
    const reset = (p as { reset?: boolean } | null)?.reset ?? false;
    const out = { frames, samples: Array.from(samples.subarray(0, nSamples)), seen };
    if (reset) {
      frames = 0;
      nSamples = 0;
      seen = 0;
    }
    return out;
  },
  async closeAll() {
    for (const r of receivers.splice(0)) r.socket.destroy();
    for (const w of peers.splice(0)) w.terminate();
    sender?.close();
    sender = null;
    return true;
  },
});
