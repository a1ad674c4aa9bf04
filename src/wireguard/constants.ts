/** WireGuard protocol constants (spec tailnet-peer.md §1.2, wireguard-go constants.go). */
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

export const CONSTRUCTION = enc('Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s');
export const IDENTIFIER = enc('WireGuard v1 zx2c4 Jason@zx2c4.com');
export const LABEL_MAC1 = enc('mac1----');
export const LABEL_COOKIE = enc('cookie--');

export const MSG_INITIATION = 1;
export const MSG_RESPONSE = 2;
export const MSG_COOKIE_REPLY = 3;
export const MSG_TRANSPORT = 4;

export const SIZE_INITIATION = 148;
export const SIZE_RESPONSE = 92;
export const SIZE_COOKIE_REPLY = 64;
export const SIZE_TRANSPORT_HEADER = 16;
export const SIZE_KEEPALIVE = 32;
export const SIZE_MIN_MESSAGE = 32;

export const REKEY_AFTER_MESSAGES = 1n << 60n;
export const REJECT_AFTER_MESSAGES = (1n << 64n) - (1n << 13n) - 1n;

export const REKEY_AFTER_TIME_MS = 120_000;
export const REKEY_ATTEMPT_TIME_MS = 90_000;
export const REKEY_TIMEOUT_MS = 5_000;
export const REKEY_TIMEOUT_JITTER_MAX_MS = 334;
export const MAX_TIMER_HANDSHAKES = REKEY_ATTEMPT_TIME_MS / REKEY_TIMEOUT_MS;
export const REJECT_AFTER_TIME_MS = 180_000;
export const KEEPALIVE_TIMEOUT_MS = 10_000;
export const COOKIE_REFRESH_TIME_MS = 120_000;
export const HANDSHAKE_INITIATION_RATE_MS = 20;
export const PADDING_MULTIPLE = 16;
export const QUEUE_STAGED_SIZE = 128;
/** Tunnel MTU of Tailscale (net/tstun DefaultMTU). */
export const DEFAULT_MTU = 1280;
