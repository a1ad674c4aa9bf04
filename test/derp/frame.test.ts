import { describe, expect, it } from 'vitest';
import {
  FrameParser,
  FrameType,
  KEEPALIVE_FRAME,
  PeerGoneReason,
  SKIP,
  WATCH_CONNS_FRAME,
  closePeerFrame,
  forwardPacketFrame,
  frameHeader,
  healthFrame,
  ipTo16,
  isDisco,
  notePreferredFrame,
  peerGoneFrame,
  peerPresentFrame,
  pingFrame,
  pongFrame,
  readFrameHeader,
  recvPacketFrame,
  restartingFrame,
  sendPacketFrame,
  serverKeyFrame,
  writeRecvPacket,
} from '../../src/derp/frame.js';
import { isDerpError } from '../../src/derp/errors.js';
import { V, hex } from './vectors.js';

const c1 = hex(V.clientPub);
const c2 = hex(V.client2Pub);

describe('frame header', () => {
  it('decodes the Go test headers', () => {
    expect(readFrameHeader(hex('0400000400'))).toEqual({ type: FrameType.SendPacket, len: 1024 });
    expect(readFrameHeader(hex('0600000000'))).toEqual({ type: FrameType.KeepAlive, len: 0 });
    expect(readFrameHeader(hex('05ffffffff'))).toEqual({ type: FrameType.RecvPacket, len: 0xffffffff });
  });
  it('encodes the same headers', () => {
    expect(frameHeader(FrameType.SendPacket, 1024).toString('hex')).toBe('0400000400');
    expect(frameHeader(FrameType.KeepAlive, 0).toString('hex')).toBe('0600000000');
    expect(frameHeader(FrameType.RecvPacket, 0xffffffff).toString('hex')).toBe('05ffffffff');
  });
});

describe('frame builders match the spec vectors', () => {
  it.each([
    ['ServerKey', () => serverKeyFrame(hex(V.serverPub)), V.serverKeyFrame],
    ['SendPacket', () => sendPacketFrame(c2, Buffer.from('hello')), V.sendPacket],
    ['RecvPacket', () => recvPacketFrame(c1, Buffer.from('hello')), V.recvPacket],
    ['KeepAlive', () => KEEPALIVE_FRAME, V.keepAlive],
    ['NotePreferred', () => notePreferredFrame(true), V.notePreferred],
    ['PeerGone', () => peerGoneFrame(c1, PeerGoneReason.NotHere), V.peerGoneNotHere],
    ['PeerPresent', () => peerPresentFrame(c1, ipTo16('192.0.2.1'), 41641, 1), V.peerPresent],
    ['ForwardPacket', () => forwardPacketFrame(c1, c2, Buffer.from('hello')), V.forwardPacket],
    ['WatchConns', () => WATCH_CONNS_FRAME, V.watchConns],
    ['ClosePeer', () => closePeerFrame(c2), V.closePeer],
    ['Ping', () => pingFrame(hex('010203040506072a')), V.ping],
    ['Pong', () => pongFrame(hex('010203040506072a')), V.pong],
    ['Health', () => healthFrame('BAD'), V.health],
    ['Restarting', () => restartingFrame(1000, 5000), V.restarting],
    ['Go client Ping', () => pingFrame(hex('0102030405060708')), '12000000080102030405060708'],
    ['Go client Pong', () => pongFrame(hex('0102030405060708')), '13000000080102030405060708'],
  ])('%s', (_name, build, want) => {
    expect(build().toString('hex')).toBe(want);
  });

  it('writeRecvPacket rewrites a SendPacket payload in place of a copy', () => {
    const send = hex(V.sendPacket).subarray(5);
    const out = Buffer.alloc(5 + 32 + 5);
    expect(writeRecvPacket(out, 0, c1, send, 32)).toBe(out.length);
    expect(out.toString('hex')).toBe(V.recvPacket);
  });
});

describe('helpers', () => {
  it('detects disco packets by magic and minimum length', () => {
    const d = Buffer.concat([hex('5453f09f92ac'), Buffer.alloc(56)]);
    expect(isDisco(d)).toBe(true);
    expect(isDisco(d.subarray(0, 61))).toBe(false);
    expect(isDisco(Buffer.alloc(62))).toBe(false);
  });
  it('maps addresses to 16 bytes', () => {
    expect(ipTo16('::ffff:10.1.2.3')?.toString('hex')).toBe('00000000000000000000ffff0a010203');
    expect(ipTo16('2001:db8::1')?.toString('hex')).toBe('20010db8000000000000000000000001');
    expect(ipTo16('::1')?.toString('hex')).toBe('00000000000000000000000000000001');
    expect(ipTo16('fe80::1%eth0')?.toString('hex')).toBe('fe800000000000000000000000000001');
    expect(ipTo16('nonsense')).toBeNull();
    expect(ipTo16('300.1.1.1')).toBeNull();
    expect(ipTo16(undefined)).toBeNull();
  });
});

describe('FrameParser', () => {
  const collect = (limit = 1 << 20) => {
    const got: [number, string][] = [];
    const p = new FrameParser(
      () => limit,
      (t, b) => {
        got.push([t, b.toString('hex')]);
        return true;
      },
    );
    return { p, got };
  };
  const stream = Buffer.concat([hex(V.sendPacket), hex(V.keepAlive), hex(V.ping), hex(V.forwardPacket)]);
  const want: [number, string][] = [
    [4, V.sendPacket.slice(10)],
    [6, ''],
    [0x12, V.ping.slice(10)],
    [0x0a, V.forwardPacket.slice(10)],
  ];

  it('parses several frames from one chunk', () => {
    const { p, got } = collect();
    p.push(stream);
    expect(got).toEqual(want);
  });

  it('parses the same frames fed one byte at a time', () => {
    const { p, got } = collect();
    for (let i = 0; i < stream.length; i++) p.push(stream.subarray(i, i + 1));
    expect(got).toEqual(want);
  });

  it('rejects an oversize length from the header alone', () => {
    const { p } = collect(65568);
    let err: unknown;
    try {
      p.push(hex('04ffffffff'));
    } catch (e) {
      err = e;
    }
    expect(isDerpError(err) && err.code).toBe('frame_too_large');
  });

  it('discards skipped frames without buffering them', () => {
    const got: number[] = [];
    const p = new FrameParser(
      (t) => (t === 0x0b ? SKIP : 100),
      (t) => {
        got.push(t);
        return true;
      },
    );
    p.push(hex('0bffffffff'));
    p.push(Buffer.alloc(1 << 16));
    expect(p.buffered).toBe(0);
    expect(got).toEqual([]);
    expect(p.skipped).toBe(1);
  });

  it('pauses and resumes without losing bytes', () => {
    const got: number[] = [];
    let allow = 1;
    const p = new FrameParser(
      () => 1 << 20,
      (t) => {
        got.push(t);
        return --allow > 0;
      },
    );
    p.push(stream);
    expect(got).toEqual([4]);
    expect(p.paused).toBe(true);
    p.push(hex(V.keepAlive));
    allow = 100;
    p.resume();
    expect(got).toEqual([4, 6, 0x12, 0x0a, 6]);
  });
});
