/**
 * STUN as Tailscale speaks it (pure codec): binding requests carrying
 * SOFTWARE "tailnode" and a trailing FINGERPRINT, answered with a single
 * XOR-MAPPED-ADDRESS. Anything else is "not STUN" for a derper.
 */
export const STUN_MAGIC_COOKIE = 0x2112a442;
const COOKIE = Buffer.from([0x21, 0x12, 0xa4, 0x42]);
const ATTR_SOFTWARE = 0x8022;
const ATTR_FINGERPRINT = 0x8028;
const ATTR_XOR_MAPPED = 0x0020;
const ATTR_XOR_MAPPED_ALT = 0x8020;
const ATTR_MAPPED = 0x0001;
const FINGERPRINT_XOR = 0x5354554e;
const SOFTWARE = Buffer.from('tailnode');

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(b: Uint8Array, start = 0, end = b.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Returns the 12-byte transaction id of a Tailscale binding request, or null. */
export function parseBindingRequest(b: Buffer): Buffer | null {
  if (b.length < 20 || (b[0]! & 0xc0) !== 0) return null;
  if (b.readUInt32BE(4) !== STUN_MAGIC_COOKIE) return null;
  if (b[0] !== 0x00 || b[1] !== 0x01) return null;
  let o = 20;
  let software = false;
  let lastType = -1;
  let lastStart = -1;
  while (o < b.length) {
    if (b.length - o < 4) return null;
    const type = b.readUInt16BE(o);
    const len = b.readUInt16BE(o + 2);
    const padded = (len + 3) & ~3;
    if (o + 4 + padded > b.length) return null;
    if (type === ATTR_SOFTWARE && len === SOFTWARE.length && b.compare(SOFTWARE, 0, 8, o + 4, o + 4 + len) === 0) {
      software = true;
    }
    lastType = type;
    lastStart = o;
    o += 4 + padded;
  }
  if (!software || lastType !== ATTR_FINGERPRINT || b.readUInt16BE(lastStart + 2) !== 4) return null;
  const want = (crc32(b, 0, lastStart) ^ FINGERPRINT_XOR) >>> 0;
  if (b.readUInt32BE(lastStart + 4) !== want) return null;
  return Buffer.from(b.subarray(8, 20));
}

/** What Tailscale clients send. */
export function bindingRequest(txid: Uint8Array): Buffer {
  const out = Buffer.alloc(40);
  out.writeUInt16BE(0x0001, 0);
  out.writeUInt16BE(20, 2);
  COOKIE.copy(out, 4);
  out.set(txid.subarray(0, 12), 8);
  out.writeUInt16BE(ATTR_SOFTWARE, 20);
  out.writeUInt16BE(8, 22);
  SOFTWARE.copy(out, 24);
  out.writeUInt16BE(ATTR_FINGERPRINT, 32);
  out.writeUInt16BE(4, 34);
  out.writeUInt32BE((crc32(out, 0, 32) ^ FINGERPRINT_XOR) >>> 0, 36);
  return out;
}

/** `ip` is 4 or 16 bytes. */
export function bindingResponse(txid: Uint8Array, ip: Uint8Array, port: number): Buffer {
  const alen = ip.length === 4 ? 8 : 20;
  const out = Buffer.alloc(20 + 4 + alen);
  out.writeUInt16BE(0x0101, 0);
  out.writeUInt16BE(4 + alen, 2);
  COOKIE.copy(out, 4);
  out.set(txid.subarray(0, 12), 8);
  out.writeUInt16BE(ATTR_XOR_MAPPED, 20);
  out.writeUInt16BE(alen, 22);
  out[24] = 0;
  out[25] = ip.length === 4 ? 1 : 2;
  out.writeUInt16BE((port ^ 0x2112) & 0xffff, 26);
  for (let i = 0; i < ip.length; i++) out[28 + i] = ip[i]! ^ (i < 4 ? COOKIE[i]! : txid[i - 4]!);
  return out;
}

export interface StunResponse {
  txid: Buffer;
  /** 4 bytes (IPv4, also for un-mapped ::ffff:a.b.c.d) or 16 bytes. */
  ip: Buffer;
  port: number;
}

/** Client-side parse: success response, XOR-MAPPED-ADDRESS preferred over MAPPED-ADDRESS. */
export function parseBindingResponse(b: Buffer): StunResponse | null {
  if (b.length < 20 || b.readUInt16BE(0) !== 0x0101 || b.readUInt32BE(4) !== STUN_MAGIC_COOKIE) return null;
  const txid = Buffer.from(b.subarray(8, 20));
  let xor: StunResponse | null = null;
  let plain: StunResponse | null = null;
  let o = 20;
  while (o + 4 <= b.length) {
    const type = b.readUInt16BE(o);
    const len = b.readUInt16BE(o + 2);
    const v = o + 4;
    if (v + len > b.length) return null;
    if ((type === ATTR_XOR_MAPPED || type === ATTR_XOR_MAPPED_ALT || type === ATTR_MAPPED) && len >= 8) {
      const fam = b[v + 1];
      const n = fam === 1 ? 4 : fam === 2 ? 16 : 0;
      if (n > 0 && len >= 4 + n) {
        const isXor = type !== ATTR_MAPPED;
        let port = b.readUInt16BE(v + 2);
        const ip = Buffer.from(b.subarray(v + 4, v + 4 + n));
        if (isXor) {
          port ^= 0x2112;
          for (let i = 0; i < n; i++) ip[i]! ^= i < 4 ? COOKIE[i]! : txid[i - 4]!;
        }
        const r = { txid, ip: unmap(ip), port };
        if (isXor) xor ??= r;
        else plain ??= r;
      }
    }
    o = v + ((len + 3) & ~3);
  }
  return xor ?? plain;
}

function unmap(ip: Buffer): Buffer {
  if (ip.length === 16 && ip.readUInt32BE(0) === 0 && ip.readUInt32BE(4) === 0 && ip.readUInt16BE(8) === 0 && ip.readUInt16BE(10) === 0xffff) {
    return Buffer.from(ip.subarray(12));
  }
  return ip;
}
