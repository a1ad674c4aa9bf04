import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import {
  bindingRequest,
  bindingResponse,
  crc32,
  parseBindingRequest,
  parseBindingResponse,
} from '../../src/derp/stun-codec.js';
import { startStunServer } from '../../src/derp/stun.js';
import { createDerpMetrics } from '../../src/metrics/derp.js';
import { V, hex } from './vectors.js';

const txid = hex('0102030405060708090a0b0c');

describe('STUN codec', () => {
  it('builds the spec request and accepts it', () => {
    expect(bindingRequest(txid).toString('hex')).toBe(V.stunRequest);
    expect(parseBindingRequest(hex(V.stunRequest))?.equals(txid)).toBe(true);
  });
  it('builds the spec responses (IPv4 and IPv6) and parses them back', () => {
    expect(bindingResponse(txid, Buffer.from([192, 0, 2, 1]), 41641).toString('hex')).toBe(V.stunResponseV4);
    const v6 = hex('20010db8000000000000000000000001');
    expect(bindingResponse(txid, v6, 41641).toString('hex')).toBe(V.stunResponseV6);
    expect(parseBindingResponse(hex(V.stunResponseV4))).toEqual({ txid, ip: Buffer.from([192, 0, 2, 1]), port: 41641 });
    expect(parseBindingResponse(hex(V.stunResponseV6))).toEqual({ txid, ip: v6, port: 41641 });
  });
  it('ignores requests without tailnode, with a bad fingerprint, or truncated', () => {
    const r = hex(V.stunRequest);
    const badFp = Buffer.from(r);
    badFp[39]! ^= 1;
    expect(parseBindingRequest(badFp)).toBeNull();
    const noSoftware = Buffer.from(r);
    noSoftware.write('tailnodX', 24);
    expect(parseBindingRequest(noSoftware)).toBeNull();
    expect(parseBindingRequest(r.subarray(0, 38))).toBeNull();
    const notRequest = Buffer.from(r);
    notRequest[1] = 0x11;
    expect(parseBindingRequest(notRequest)).toBeNull();
  });
  it('crc32 is IEEE', () => {
    expect(crc32(Buffer.from('123456789')).toString(16)).toBe('cbf43926');
  });
  it('never throws on arbitrary datagrams', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        parseBindingRequest(Buffer.from(b));
        parseBindingResponse(Buffer.from(b));
      }),
      { numRuns: 300 },
    );
  });
});

describe('STUN server', () => {
  it('answers a Tailscale binding request with the source address, ignores others', async () => {
    const registry = new Registry();
    const { stats } = createDerpMetrics(registry);
    const srv = await startStunServer({ host: '127.0.0.1', port: 0, stats });
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const replies: Buffer[] = [];
    sock.on('message', (m) => replies.push(m));
    sock.send(Buffer.from('not stun at all'), srv.port, '127.0.0.1');
    sock.send(hex(V.stunRequest), srv.port, '127.0.0.1');
    const deadline = Date.now() + 2000;
    while (replies.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    expect(replies.length).toBe(1);
    const res = parseBindingResponse(replies[0]!);
    expect(res?.txid.equals(txid)).toBe(true);
    expect(res?.ip.equals(Buffer.from([127, 0, 0, 1]))).toBe(true);
    expect(res?.port).toBe(sock.address().port);
    expect(replies[0]!.length).toBe(32); // family 1, single attribute
    const text = await registry.getSingleMetric('coder_derp_stun_requests_total')!.get();
    const by = Object.fromEntries(text.values.map((v) => [v.labels['disposition'], v.value]));
    expect(by).toMatchObject({ success: 1, not_stun: 1 });
    sock.close();
    await srv.close();
  });
});
