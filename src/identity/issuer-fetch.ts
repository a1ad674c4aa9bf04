import { X509Certificate } from 'node:crypto';
import { promises as dns } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import type { Clock } from '../util/clock.js';
import { identityError } from './errors.js';

/**
 * Fetches an issuing certificate named in an attacker-supplied certificate (AIA
 * caIssuers), so every step is fenced: http/https only, host on an allow-list, port
 * 80/443, every resolved address public (the connection is pinned to the address that
 * was checked, so DNS rebinding cannot swap it), no redirects, a timeout and a size cap.
 */

export interface IssuerFetchOptions {
  allowedHosts: readonly string[];
  timeoutMs?: number;
  maxBytes?: number;
  clock: Clock;
  /** Injected for tests; defaults to the system resolver. */
  resolve?: (host: string) => Promise<{ address: string; family: number }[]>;
  /** Injected for tests; defaults to isBlockedAddress. */
  isBlocked?: (address: string) => boolean;
  /** Injected for tests; defaults to 80 and 443 (and the scheme default). */
  allowedPorts?: readonly number[];
}

export const DEFAULT_ISSUER_HOSTS = ['www.microsoft.com', 'cacerts.digicert.com'];
export const ISSUER_FETCH_TIMEOUT_MS = 5_000;
export const ISSUER_FETCH_MAX_BYTES = 1 << 20;

const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
  ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b:1::', 48],
  ['100::', 64], ['2001:2::', 48], ['2001:db8::', 32],
] as const) blocked.addSubnet(net, bits, 'ipv6');

/** True for loopback, private, link-local, multicast, CGNAT, documentation and other special ranges. */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family !== 6) return true;
  const mapped = ipv4MappedOf(address);
  if (mapped !== null) return blocked.check(mapped, 'ipv4');
  return blocked.check(address, 'ipv6');
}

/** Eight 16-bit groups of an IPv6 literal (zone dropped), or null. */
function ipv6Groups(address: string): number[] | null {
  let text = address.split('%')[0]!;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const o = dotted[1]!.split('.').map(Number);
    text = text.slice(0, -dotted[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array<string>(Math.max(0, fill)).fill('0'), ...tail].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : null;
}

/** ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible) → a.b.c.d, so IPv6 spellings cannot dodge the IPv4 ranges. */
function ipv4MappedOf(address: string): string | null {
  const g = ipv6Groups(address);
  if (!g || g.slice(0, 5).some((x) => x !== 0) || (g[5] !== 0xffff && g[5] !== 0)) return null;
  if (g[5] === 0 && g[6] === 0) return null; // :: and ::1 stay IPv6
  return `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
}

export function checkIssuerUrl(raw: string, allowedHosts: readonly string[], allowedPorts: readonly number[] = [80, 443]): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw identityError('issuer_fetch_refused', 'issuing certificate URL is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw identityError('issuer_fetch_refused', 'issuing certificate URL scheme not allowed');
  }
  if (url.username || url.password) throw identityError('issuer_fetch_refused', 'issuing certificate URL has credentials');
  const host = url.hostname.toLowerCase();
  if (!allowedHosts.some((h) => h.toLowerCase() === host)) {
    throw identityError('issuer_fetch_refused', 'issuing certificate URL not on allowlist');
  }
  if (url.port !== '' && !allowedPorts.includes(Number(url.port))) {
    throw identityError('issuer_fetch_refused', 'issuing certificate URL port not allowed');
  }
  return url;
}

export async function fetchIssuerCertificate(raw: string, options: IssuerFetchOptions): Promise<X509Certificate> {
  const url = checkIssuerUrl(raw, options.allowedHosts, options.allowedPorts);
  const isBlocked = options.isBlocked ?? isBlockedAddress;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: { address: string; family: number }[];
  if (isIP(host)) addresses = [{ address: host, family: isIP(host) }];
  else {
    try {
      addresses = await (options.resolve ?? ((h) => dns.lookup(h, { all: true, verbatim: true })))(host);
    } catch {
      throw identityError('issuer_fetch_failed', 'resolve issuing certificate host failed');
    }
  }
  if (addresses.length === 0) throw identityError('issuer_fetch_failed', 'issuing certificate host has no addresses');
  // Any tainted answer refuses the whole fetch rather than racing it.
  if (addresses.some((a) => isBlocked(a.address))) {
    throw identityError('issuer_fetch_refused', 'issuing certificate host resolves to a non-public address');
  }
  const pinned = addresses[0]!;
  const body = await download(url, pinned, options);
  try {
    return new X509Certificate(body);
  } catch {
    // The body may be anything; never echo it.
    throw identityError('issuer_fetch_failed', 'fetched data is not a valid certificate');
  }
}

function download(url: URL, pinned: { address: string; family: number }, options: IssuerFetchOptions): Promise<Buffer> {
  const maxBytes = options.maxBytes ?? ISSUER_FETCH_MAX_BYTES;
  const timeoutMs = options.timeoutMs ?? ISSUER_FETCH_TIMEOUT_MS;
  const lookup: LookupFunction = (_host, opts, cb) => {
    if (opts.all) cb(null, [{ address: pinned.address, family: pinned.family }]);
    else cb(null, pinned.address, pinned.family);
  };
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise<Buffer>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, value?: Buffer): void => {
      if (settled) return;
      settled = true;
      timer.cancel();
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(value!);
    };
    const req = mod.request(url, { method: 'GET', lookup, agent: false, headers: { accept: '*/*' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        finish(identityError('issuer_fetch_failed', `certificate fetch returned status ${res.statusCode ?? 0}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) finish(identityError('issuer_fetch_failed', 'certificate response exceeds maximum size'));
        else chunks.push(chunk);
      });
      res.on('end', () => finish(null, Buffer.concat(chunks)));
      res.on('error', () => finish(identityError('issuer_fetch_failed', 'certificate fetch unsuccessful')));
    });
    const timer = options.clock.setTimeout(
      () => finish(identityError('issuer_fetch_failed', 'certificate fetch timed out')),
      timeoutMs,
    );
    req.on('error', () => finish(identityError('issuer_fetch_failed', 'certificate fetch unsuccessful')));
    req.end();
  });
}
