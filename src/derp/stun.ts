/**
 * UDP STUN responder for DERP nodes (derper's behaviour: answer only
 * Tailscale binding requests, reply with the source address as seen here).
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { bindingResponse, parseBindingRequest } from './stun-codec.js';
import { ipTo16 } from './frame.js';
import { STUN_DISPOSITIONS, type DerpStats, type StunDisposition } from '../metrics/derp.js';

export interface StunServerOptions {
  /** Bind address; default `::` (dual stack) falling back to 0.0.0.0. */
  host?: string;
  /** UDP port; default 3478, 0 picks one. */
  port?: number;
  /** Counters (coder_derp_stun_requests_total) — pass DerpServer.stats to share the registry. */
  stats?: DerpStats;
}

export interface StunServer {
  readonly port: number;
  readonly address: string;
  close(): Promise<void>;
}

function bind(type: 'udp4' | 'udp6', host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type, ipv6Only: false, reuseAddr: false });
    const onErr = (e: Error): void => {
      s.close();
      reject(e);
    };
    s.once('error', onErr);
    s.bind(port, host, () => {
      s.off('error', onErr);
      resolve(s);
    });
  });
}

/** The mapped address for a reply: IPv4 (also from ::ffff:a.b.c.d) as 4 bytes, else 16. */
function addrBytes(addr: string): Buffer | null {
  const b = ipTo16(addr);
  if (!b) return null;
  const mapped = b.readUInt32BE(0) === 0 && b.readUInt32BE(4) === 0 && b.readUInt32BE(8) === 0xffff;
  return mapped ? Buffer.from(b.subarray(12)) : b;
}

export async function startStunServer(opts: StunServerOptions = {}): Promise<StunServer> {
  const port = opts.port ?? 3478;
  let sock: Socket;
  if (opts.host) {
    sock = await bind(isIP(opts.host) === 6 ? 'udp6' : 'udp4', opts.host, port);
  } else {
    try {
      sock = await bind('udp6', '::', port);
    } catch {
      sock = await bind('udp4', '0.0.0.0', port);
    }
  }
  const count = (d: StunDisposition): void => {
    if (opts.stats) opts.stats.stun[STUN_DISPOSITIONS.indexOf(d)]!++;
  };
  sock.on('error', () => count('read_error'));
  sock.on('message', (msg, rinfo) => {
    const txid = parseBindingRequest(msg);
    const ip = txid ? addrBytes(rinfo.address) : null;
    if (!txid || !ip) {
      count('not_stun');
      return;
    }
    sock.send(bindingResponse(txid, ip, rinfo.port), rinfo.port, rinfo.address, (err) => count(err ? 'write_error' : 'success'));
  });
  const a = sock.address();
  return {
    port: a.port,
    address: a.address,
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
}
