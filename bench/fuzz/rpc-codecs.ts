/**
 * Long fuzz run for the v2 transport codecs (not part of npm test):
 *
 *   node --import tsx bench/fuzz/rpc-codecs.ts [runs=50000]
 *
 * yamux header codec + server session on garbage, drpcwire reassembly under
 * arbitrary chunking, protobuf decoders on garbage and round-trips.
 */
import fc from 'fast-check';
import { ProtoDecodeError } from '../../src/rpc/proto/errors.js';
import * as agent from '../../src/rpc/proto/agent.js';
import * as tailnet from '../../src/rpc/proto/tailnet.js';
import type { MessageCodec } from '../../src/rpc/proto/schema.js';
import { DrpcProtocolError } from '../../src/rpc/drpc/errors.js';
import { PacketReassembler } from '../../src/rpc/drpc/reassembler.js';
import { encodePacket } from '../../src/rpc/drpc/wire.js';
import { YamuxError } from '../../src/rpc/yamux/errors.js';
import { decodeHeader } from '../../src/rpc/yamux/frame.js';
import { YamuxSession } from '../../src/rpc/yamux/session.js';
import type { ByteStream, ByteStreamHandlers } from '../../src/rpc/byte-stream.js';

const runs = Number(process.argv[2] ?? 50_000);

function check(name: string, prop: fc.IProperty<unknown[]>, n: number): void {
  const t0 = performance.now();
  fc.assert(prop, { numRuns: n });
  console.log(`${name}: ${n} cases ok in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

class Sink implements ByteStream {
  h: ByteStreamHandlers | null = null;
  attach(h: ByteStreamHandlers): void {
    this.h = h;
  }
  write(): boolean {
    return true;
  }
  close(): void {}
}

check(
  'yamux header: only YamuxError',
  fc.property(fc.uint8Array({ minLength: 12, maxLength: 12 }), (b) => {
    try {
      decodeHeader(b);
    } catch (e) {
      if (!(e instanceof YamuxError)) throw e;
    }
  }),
  runs,
);

check(
  'yamux server session: garbage never escapes as an exception',
  fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 12 }), (chunks) => {
    const t = new Sink();
    const s = new YamuxSession(t, { keepaliveIntervalMs: null, onStream: (st) => void st.read() });
    for (const c of chunks) t.h!.onData(c);
    s.close();
  }),
  runs,
);

const packets = fc.array(fc.record({ kind: fc.integer({ min: 1, max: 7 }), data: fc.uint8Array({ maxLength: 200 }), control: fc.boolean() }), { minLength: 1, maxLength: 6 });
check(
  'drpc reassembler: chunking invariance',
  fc.property(packets, fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 100 }), (pkts, cuts, split) => {
    const bytes = Buffer.concat(pkts.map((p, i) => encodePacket({ ...p, streamId: 1, messageId: i + 1 }, split)));
    const r = new PacketReassembler();
    let o = 0;
    let k = 0;
    const out: string[] = [];
    while (o < bytes.length) {
      const n = cuts[k++ % cuts.length]!;
      r.push(bytes.subarray(o, o + n));
      o += n;
      for (let p = r.next(); p; p = r.next()) out.push(`${p.kind}:${Buffer.from(p.data).toString('hex')}`);
    }
    const want = pkts.map((p) => `${p.kind}:${Buffer.from(p.data).toString('hex')}`);
    if (out.join() !== want.join()) throw new Error('mismatch');
  }),
  runs / 5,
);

check(
  'drpc reassembler: only DrpcProtocolError on garbage',
  fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
    const r = new PacketReassembler(4096);
    r.push(b);
    try {
      while (r.next());
    } catch (e) {
      if (!(e instanceof DrpcProtocolError)) throw e;
    }
  }),
  runs,
);

const codecs = [
  tailnet.CoordinateRequest, tailnet.CoordinateResponse, tailnet.DERPMap, tailnet.TelemetryRequest, tailnet.WorkspaceUpdate,
  agent.Manifest, agent.UpdateStatsRequest, agent.BatchCreateLogsRequest, agent.BatchUpdateMetadataRequest, agent.UpdateStartupRequest,
  agent.PushResourcesMonitoringUsageRequest, agent.ReportConnectionRequest, agent.WorkspaceAgentScriptCompletedRequest,
] as MessageCodec<unknown>[];

check(
  'proto decoders: only ProtoDecodeError on garbage; re-encode of a decoded message decodes equal',
  fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
    for (const c of codecs) {
      let m: unknown;
      try {
        m = c.decode(b);
      } catch (e) {
        if (!(e instanceof ProtoDecodeError)) throw e;
        continue;
      }
      const again = c.decode(c.encode(m));
      if (JSON.stringify(again, replacer) !== JSON.stringify(m, replacer)) throw new Error(`${c.typeName} not stable`);
    }
  }),
  runs / 5,
);

function replacer(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Map) return [...v];
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (typeof v === 'number' && Number.isNaN(v)) return 'NaN';
  return v;
}
