/**
 * Strong interop: wireguard-go's device with its gVisor netstack TUN (the
 * stack the Coder agent runs) as the remote end over real UDP on 127.0.0.1.
 * Our Device + TcpStack handshake with it and speak HTTP and TCP echo.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TcpStack, decodeIpv6 } from '../../src/tailnet/index.js';
import { Device, type PeerEvent, generateKeyPair, parsePrefix6 } from '../../src/wireguard/index.js';

const GO_DIR = join(dirname(fileURLToPath(import.meta.url)), 'go');
const GO = ['/usr/local/go/bin/go', 'go'].find((p) => p === 'go' || existsSync(p))!;
const TS_ADDR = 'fd7a:115c:a1e0:4a2b:1c3d:4e5f:6a7b:8c9d';
const GO_ADDR = 'fd7a:115c:a1e0:49d6:b259:b7ac:b1b2:48f4';
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * The same main.go built twice: against today's wireguard-go/gVisor, and
 * against wireguard-go 2023-02 whose gVisor (703fd9b7fbc0) is exactly the one
 * Coder's 2023 agents pin (that gVisor only builds with Go < 1.21).
 */
const VARIANTS = [
  { name: 'wireguard-go 2025 + gVisor 2025', bin: 'wgpeer', modfile: 'go.mod', toolchain: null },
  { name: 'wireguard-go 2023-02 + gVisor 703fd9b7fbc0 (Coder 2023 pin)', bin: 'wgpeer2022', modfile: 'go2022.mod', toolchain: 'go1.20.14' },
] as const;
type Variant = (typeof VARIANTS)[number];

const buildErrors = new Map<string, Error>();

function build(v: Variant): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env, GOFLAGS: '-mod=mod' };
  if (v.toolchain) env['GOTOOLCHAIN'] = v.toolchain;
  return new Promise<void>((resolve) => {
    execFile(GO, ['build', `-modfile=${v.modfile}`, '-o', v.bin, '.'], { cwd: GO_DIR, timeout: 280_000, env }, (err, _o, stderr) => {
      if (err) buildErrors.set(v.bin, new Error(`go build (${v.name}) failed: ${stderr || err.message}`));
      resolve();
    });
  });
}

beforeAll(async () => {
  for (const v of VARIANTS) await build(v);
}, 590_000);

interface Rig {
  go: ChildProcess;
  udp: Socket;
  dev: Device;
  stack: TcpStack;
  events: PeerEvent[];
  delivered: Uint8Array[];
}

const rigs: Rig[] = [];
afterEach(() => {
  for (const r of rigs.splice(0)) {
    r.go.stdin?.end();
    r.go.kill();
    r.udp.close();
    r.dev.close();
  }
});

async function rig(v: Variant, opts: { hello?: boolean; loss?: number } = {}): Promise<Rig> {
  const buildError = buildErrors.get(v.bin);
  if (buildError) throw buildError;
  const ts = generateKeyPair();
  const goKeys = generateKeyPair();
  const udp = createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const args = ['-priv', hex(goKeys.privateKey), '-peer', hex(ts.publicKey), '-addr', GO_ADDR, '-peer-addr', TS_ADDR];
  if (opts.hello) args.push('-hello', '-endpoint', `127.0.0.1:${udp.address().port}`);
  const go = spawn(join(GO_DIR, v.bin), args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const rl = createInterface({ input: go.stdout! });
    rl.once('line', (l) => (l.startsWith('READY ') ? resolve(Number(l.slice(6))) : reject(new Error(l))));
    go.once('exit', (c) => reject(new Error(`wgpeer exited ${c}`)));
  });
  const events: PeerEvent[] = [];
  const delivered: Uint8Array[] = [];
  // Deterministic loss in both directions (a lossy DERP path), sparing nothing: handshakes too.
  let seed = 12345;
  const lose = (): boolean => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) / 2 ** 24 < (opts.loss ?? 0);
  };
  let stack: TcpStack | null = null;
  const dev = new Device({
    privateKey: ts.privateKey,
    send: (_p, d) => {
      if (!lose()) udp.send(d, port, '127.0.0.1');
    },
    deliver: (_p, pkt) => {
      delivered.push(pkt);
      stack?.input(pkt);
    },
    onEvent: (_p, e) => events.push(e),
  });
  udp.on('message', (m) => {
    if (!lose()) dev.receive(new Uint8Array(m.buffer, m.byteOffset, m.byteLength));
  });
  const peer = dev.addPeer({ publicKey: goKeys.publicKey, allowedIps: [parsePrefix6(`${GO_ADDR}/128`)] });
  stack = new TcpStack({ localAddress: TS_ADDR, remoteAddress: GO_ADDR, output: (p) => peer.send(p) });
  const r = { go, udp, dev, stack, events, delivered };
  rigs.push(r);
  return r;
}

function httpGet(stack: TcpStack, path: string, body?: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        createConnection: () => stack.connect(80, { timeoutMs: 15_000 }),
        host: GO_ADDR,
        port: 80,
        path,
        method: body ? 'POST' : 'GET',
        headers: { Connection: 'close' },
        // No `agent` at all: with agent:false Node builds a fresh Agent that ignores createConnection.
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe.each(VARIANTS)('interop with $name netstack over UDP', (v) => {
  it('handshakes (TS initiates) and does an HTTP GET over the TS TCP client', async () => {
    const r = await rig(v);
    const res = await httpGet(r.stack, '/');
    expect(res.status).toBe(200);
    expect(res.body.toString()).toContain('hello from wireguard-go netstack');
    expect(res.body.toString()).toContain(`[${TS_ADDR}]:`);
    expect(r.events.some((e) => e.type === 'handshake-complete')).toBe(true);
  });

  it('downloads 400 KB and uploads 200 KB intact', async () => {
    const r = await rig(v);
    const big = await httpGet(r.stack, '/big?n=400000');
    expect(big.body.length).toBe(400_000);
    for (let i = 0; i < big.body.length; i += 997) expect(big.body[i]).toBe(i % 251);
    const up = Buffer.alloc(200_000);
    for (let i = 0; i < up.length; i++) up[i] = (i * 7) % 256;
    const echoed = await httpGet(r.stack, '/echo', up);
    expect(echoed.body.equals(up)).toBe(true);
  });

  it('bulk transfer both ways survives 3% loss in each direction (gVisor retransmits, so do we)', async () => {
    const r = await rig(v, { loss: 0.03 });
    const big = await httpGet(r.stack, '/big?n=300000');
    expect(big.body.length).toBe(300_000);
    for (let i = 0; i < big.body.length; i += 499) expect(big.body[i]).toBe(i % 251);
    const up = Buffer.alloc(150_000);
    for (let i = 0; i < up.length; i++) up[i] = (i * 11) % 256;
    const echoed = await httpGet(r.stack, '/echo', up);
    expect(echoed.body.equals(up)).toBe(true);
  }, 60_000);

  it('TCP echo: small writes come back in order, then both sides close', async () => {
    const r = await rig(v);
    const s = await r.stack.dial(7, { timeoutMs: 15_000 });
    const got: Buffer[] = [];
    s.on('data', (b: Buffer) => got.push(b));
    for (let i = 0; i < 50; i++) s.write(`line ${i}\n`);
    const want = Array.from({ length: 50 }, (_, i) => `line ${i}\n`).join('');
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (Buffer.concat(got).toString() === want) resolve();
      };
      s.on('data', check);
    });
    s.end();
    await new Promise((resolve) => s.on('close', resolve));
    expect(Buffer.concat(got).toString()).toBe(want);
  });

  it('the PTY init header reaches a Go reader doing single Reads (agent semantics) in one segment', async () => {
    const r = await rig(v);
    const s = await r.stack.dial(2, { timeoutMs: 15_000 });
    const json = Buffer.from(JSON.stringify({ ID: '6f1c1c7e-4d2a-4b8e-9c55-0a1b2c3d4e5f', Height: 24, Width: 80, Command: 'x'.repeat(1000) }));
    const header = Buffer.alloc(2 + json.length);
    header.writeUInt16LE(json.length, 0);
    json.copy(header, 2);
    let text = '';
    s.on('data', (b: Buffer) => (text += b.toString()));
    s.write(header);
    s.write('{"data":"echo hi\\r"}');
    const want = `ok 6f1c1c7e-4d2a-4b8e-9c55-0a1b2c3d4e5f 24x80 "${'x'.repeat(1000)}"\n{"data":"echo hi\\r"}`;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && text.length < want.length) await new Promise((res) => setTimeout(res, 10));
    expect(text).toBe(want);
    s.destroy();
  });

  it('answers a handshake initiated by wireguard-go (TS as responder)', async () => {
    const r = await rig(v, { hello: true });
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !r.delivered.some((p) => decodeIpv6(p)?.nextHeader === 17)) {
      await new Promise((res) => setTimeout(res, 20));
    }
    const udp = r.delivered.map(decodeIpv6).find((p) => p?.nextHeader === 17)!;
    expect(udp).toBeTruthy();
    expect(Buffer.from(udp.payload.subarray(8)).toString()).toBe('hello from go');
    expect(r.events.some((e) => e.type === 'response-sent')).toBe(true);
    // The session now carries TCP too, on the Go-initiated keys.
    const res = await httpGet(r.stack, '/');
    expect(res.status).toBe(200);
  });
});
