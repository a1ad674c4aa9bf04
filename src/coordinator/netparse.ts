/**
 * Strict text checks for IP prefixes and endpoints, matching what Go's
 * net/netip accepts (ParsePrefix / ParseAddrPort) closely enough that a value
 * we pass is one a Go peer can parse. Pure.
 */
import { isIPv6 } from 'node:net';

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const BITS = /^(?:0|[1-9]\d{0,2})$/;
const PORT = /^(?:0|[1-9]\d{0,4})$/;

export function isIPv4Text(s: string): boolean {
  return IPV4.test(s);
}

/** IPv6 text without a zone (netip.ParsePrefix rejects zones). */
export function isIPv6Text(s: string): boolean {
  return s.length <= 45 && !s.includes('%') && isIPv6(s);
}

/** `addr/bits` as accepted by netip.ParsePrefix. */
export function isPrefixText(s: string): boolean {
  const slash = s.lastIndexOf('/');
  if (slash < 0) return false;
  const addr = s.slice(0, slash);
  const bitsText = s.slice(slash + 1);
  if (!BITS.test(bitsText)) return false;
  const bits = Number(bitsText);
  if (isIPv4Text(addr)) return bits <= 32;
  if (isIPv6Text(addr)) return bits <= 128;
  return false;
}

/** `a.b.c.d:port` or `[v6]:port` as accepted by netip.ParseAddrPort. */
export function isEndpointText(s: string): boolean {
  const colon = s.lastIndexOf(':');
  if (colon < 0) return false;
  const portText = s.slice(colon + 1);
  if (!PORT.test(portText) || Number(portText) > 65535) return false;
  const host = s.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) {
    const inner = host.slice(1, -1);
    const pct = inner.indexOf('%');
    const addr = pct >= 0 ? inner.slice(0, pct) : inner;
    if (pct >= 0 && pct === inner.length - 1) return false;
    return isIPv6Text(addr);
  }
  return isIPv4Text(host);
}
