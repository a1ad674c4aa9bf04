/**
 * derper's TLS "meta certificate": an extra self-signed Ed25519 certificate
 * appended to the served chain whose CN is `derpkey<hex DERP public key>` and
 * whose serial is the protocol version. Go clients that see it over TLS 1.3
 * use fast start (no 101, ClientInfo pipelined). Built with a minimal DER
 * writer; it carries exactly one extension (basicConstraints, CA=false).
 */
import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { createSecureContext, type SecureContext, type TlsOptions } from 'node:tls';
import { PROTOCOL_VERSION } from './frame.js';

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>>= 8) bytes.unshift(v & 0xff);
  return Buffer.of(0x80 | bytes.length, ...bytes);
}

function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.of(tag), len(body.length), body]);
}

const seq = (...p: Buffer[]): Buffer => tlv(0x30, ...p);
const set = (...p: Buffer[]): Buffer => tlv(0x31, ...p);
const int = (n: number): Buffer => tlv(0x02, Buffer.of(n));
const oid = (hex: string): Buffer => tlv(0x06, Buffer.from(hex, 'hex'));
const OID_ED25519 = oid('2b6570'); // 1.3.101.112
const OID_CN = oid('550403'); // 2.5.4.3
const OID_BASIC_CONSTRAINTS = oid('551d13'); // 2.5.29.19

function utcTime(ms: number): Buffer {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, '0');
  const s = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return tlv(0x17, Buffer.from(s, 'latin1'));
}

const DAY = 24 * 3600 * 1000;

export interface SelfSignedOptions {
  commonName: string;
  serial: number;
  now?: number;
  validForMs?: number;
}

/** A self-signed Ed25519 certificate with one extension (basicConstraints, CA=false); returns DER and the key PEM. */
export function selfSignedCertificate(o: SelfSignedOptions): { der: Buffer; keyPem: string } {
  const now = o.now ?? Date.now();
  const valid = o.validForMs ?? 30 * DAY;
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const name = seq(set(seq(OID_CN, tlv(0x13, Buffer.from(o.commonName, 'latin1')))));
  const alg = seq(OID_ED25519);
  const ext = tlv(0xa3, seq(seq(OID_BASIC_CONSTRAINTS, tlv(0x01, Buffer.of(0xff)), tlv(0x04, seq()))));
  const tbs = seq(
    tlv(0xa0, int(2)), // v3
    int(o.serial),
    alg,
    name,
    seq(utcTime(now - valid), utcTime(now + valid)),
    name,
    publicKey.export({ format: 'der', type: 'spki' }),
    ext,
  );
  const sig = sign(null, tbs, privateKey);
  return { der: seq(tbs, alg, tlv(0x03, Buffer.of(0), sig)), keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
}

/** DER of a fresh meta certificate for `serverPublicKey` (valid now ± 30 days). */
export function derpMetaCertificate(serverPublicKey: Uint8Array, now = Date.now()): Buffer {
  return selfSignedCertificate({
    commonName: 'derpkey' + Buffer.from(serverPublicKey).toString('hex'),
    serial: PROTOCOL_VERSION,
    now,
  }).der;
}

export function derToPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
}

export interface DerpTlsOptions {
  /** PEM chain (leaf first) and key of the real certificate. */
  cert: string;
  key: string;
  serverPublicKey: Uint8Array;
  /** Rebuild the meta certificate this often (default daily; it is valid ±30 days). */
  refreshMs?: number;
}

/**
 * TLS options for a DERP-serving https server: HTTP/1.1 only (never h2),
 * TLS ≥ 1.2, and the chain + meta certificate (refreshed periodically through
 * SNICallback so long-running processes never serve an expired one).
 */
export function derpTlsServerOptions(opts: DerpTlsOptions): TlsOptions {
  const refreshMs = opts.refreshMs ?? DAY;
  createPrivateKey(opts.key); // fail fast on a bad key
  let ctx: SecureContext | null = null;
  let builtAt = 0;
  const chain = (): string => opts.cert.trimEnd() + '\n' + derToPem(derpMetaCertificate(opts.serverPublicKey));
  const current = (): SecureContext => {
    const now = Date.now();
    if (!ctx || now - builtAt >= refreshMs) {
      ctx = createSecureContext({ cert: chain(), key: opts.key, minVersion: 'TLSv1.2' });
      builtAt = now;
    }
    return ctx;
  };
  return {
    cert: chain(),
    key: opts.key,
    minVersion: 'TLSv1.2',
    ALPNProtocols: ['http/1.1'],
    SNICallback: (_servername, cb) => cb(null, current()),
  };
}
