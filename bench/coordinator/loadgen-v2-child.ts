/**
 * v2 load generator process: the same IPC surface as loadgen-child.ts (so
 * proto.ts drives v1 and v2 fleets with one orchestration), with v2 peers
 * (v2-peer.ts) in place of JSON WebSockets. `frames` counts delivered NODE
 * updates; latency = receive time − the send time stamped in the node id.
 */
import { serveIpc } from './ipc.js';
import { nowMicros } from './wire.js';
import { V2Peer, updateSentMicros } from './v2-peer.js';
import * as tp from '../../src/rpc/proto/tailnet.js';

const CAP = 200_000;
const samples = new Float64Array(CAP);
let nSamples = 0;
let seen = 0;
let frames = 0;

function sample(sentUs: number): void {
  if (sentUs < 0) return;
  const ms = (nowMicros() - sentUs) / 1000;
  seen++;
  if (nSamples < CAP) samples[nSamples++] = ms;
  else {
    const j = Math.floor(Math.random() * seen);
    if (j < CAP) samples[j] = ms;
  }
}

/**
 * Sampled peers decode every response and count its NODE updates; unsampled
 * receivers count responses undecoded (each carries one update in these
 * benches: one agent per client, one client per agent or one sender), as the
 * v1 raw receivers count frames.
 */
function onResponse(sampled: boolean): (decode: () => tp.CoordinateResponse) => void {
  if (!sampled) return () => void frames++;
  return (decode) => {
    for (const u of decode().peerUpdates) {
      if (u.kind !== tp.PeerUpdateKind.NODE) continue;
      frames++;
      sample(updateSentMicros(u));
    }
  };
}

let addrSeq = 0;
const localAddr = (base: number): string => `127.0.0.${2 + ((base + addrSeq++) % 40)}`;

async function openAll(urls: string[], base: number, sampled: (i: number) => boolean): Promise<V2Peer[]> {
  const out: V2Peer[] = [];
  for (let i = 0; i < urls.length; i += 100) {
    const batch = urls.slice(i, i + 100).map((u, k) => V2Peer.open(u, localAddr(base), onResponse(sampled(i + k))));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

const receivers: V2Peer[] = [];
const peers: V2Peer[] = [];
let sender: V2Peer | null = null;

/** Paced update_self from the single agent: `rate` per second for `ms`. */
function runSender(rate: number, ms: number): Promise<number> {
  const s = sender;
  if (!s) throw new Error('no sender');
  const start = performance.now();
  const total = Math.floor((ms * rate) / 1000);
  let sent = 0;
  return new Promise((resolve) => {
    const t = setInterval(() => {
      const el = performance.now() - start;
      for (const due = Math.min(Math.floor((el * rate) / 1000), total); sent < due; sent++) s.sendNode();
      if (el >= ms) {
        clearInterval(t);
        resolve(sent);
      }
    }, 2);
  });
}

/**
 * ReSTUN-like schedule, as the v1 generator: each peer at a random phase, then
 * every period ±13 %; every 5 s a `burstFraction` of peers sends 3 at once.
 */
function runPeers(ms: number, periodMs: number, burstFraction: number): Promise<number> {
  let sent = 0;
  let running = true;
  const pending = new Set<NodeJS.Timeout>();
  const fire = (p: V2Peer): void => {
    if (!p.open) return;
    p.sendNode();
    sent++;
  };
  const later = (p: V2Peer, delay: number): void => {
    const t = setTimeout(() => {
      pending.delete(t);
      if (!running) return;
      fire(p);
      later(p, periodMs * (0.87 + Math.random() * 0.26));
    }, delay);
    pending.add(t);
  };
  for (const p of peers) later(p, Math.random() * periodMs);
  const bursts = setInterval(() => {
    const n = Math.ceil(peers.length * burstFraction);
    for (let i = 0; i < n; i++) {
      const p = peers[Math.floor(Math.random() * peers.length)] as V2Peer;
      for (let r = 0; r < 3; r++) fire(p);
    }
  }, 5000);
  return new Promise((resolve) =>
    setTimeout(() => {
      running = false;
      clearInterval(bursts);
      for (const t of pending) clearTimeout(t);
      pending.clear();
      resolve(sent);
    }, ms),
  );
}

serveIpc({
  async recvOpen(p) {
    const { urls, sampleEvery, base } = p as { urls: string[]; sampleEvery: number; base: number };
    const opened = await openAll(urls, base, (i) => i % sampleEvery === 0);
    receivers.push(...opened);
    return opened.length;
  },
  async senderOpen(p) {
    const { url } = p as { url: string };
    sender = (await openAll([url], 0, () => false))[0] as V2Peer;
    return true;
  },
  senderRun(p) {
    const { rate, ms } = p as { rate: number; ms: number };
    return runSender(rate, ms);
  },
  async peersOpen(p) {
    const { urls, base } = p as { urls: string[]; base: number };
    const opened = await openAll(urls, base, () => true);
    peers.push(...opened);
    return opened.length;
  },
  peersSendOnce() {
    for (const p of peers) p.sendNode();
    return peers.length;
  },
  peersRun(p) {
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
  closeAll() {
    for (const r of receivers.splice(0)) r.close();
    for (const w of peers.splice(0)) w.close();
    sender?.close();
    sender = null;
    return true;
  },
});
