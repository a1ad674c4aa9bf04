/**
 * Shard bus envelopes: msgpack (plain maps, no records) with a size cap and a
 * zod check after decode. Pure: no I/O.
 *
 *   {v:1, type, epoch, seq, from, ...}
 *     hb   heartbeat (also the watchdog's self-echo)
 *     bye  graceful drain: the sender's peers are gone now
 *     upd  rec = full state of one peer owned by the sender (versioned)
 *     del  peer left the sender (versioned; graceful = said goodbye)
 */
import { Packr } from 'msgpackr';
import { z } from 'zod';

export const ENVELOPE_VERSION = 1;
/** Above any legitimate envelope (a 32 KiB node + tunnels); bigger is dropped unread. */
export const MAX_ENVELOPE_BYTES = 96 * 1024;

const id = z.string().min(1).max(64);

export const peerRecSchema = z.object({
  id,
  kind: z.enum(['agent', 'client']),
  name: z.string().max(256),
  /** Canonical v1 node JSON, or null before the first node. */
  node: z.string().max(32 * 1024).nullable(),
  tunnels: z.array(id).max(4096),
  /** Owner's sequence number at the change: receivers apply only newer versions. */
  ver: z.number().int().nonnegative(),
  /** Owner's wall clock at the last node change (cross-shard duplicate: newest wins). */
  at: z.number(),
});
export type PeerRec = z.infer<typeof peerRecSchema>;

const base = { v: z.literal(ENVELOPE_VERSION), epoch: z.string().min(1).max(64), seq: z.number().int().nonnegative(), from: id };

export const envelopeSchema = z.discriminatedUnion('type', [
  z.object({ ...base, type: z.literal('hb') }),
  z.object({ ...base, type: z.literal('bye') }),
  z.object({ ...base, type: z.literal('upd'), rec: peerRecSchema }),
  z.object({ ...base, type: z.literal('del'), peer: id, ver: z.number().int().nonnegative(), graceful: z.boolean() }),
]);
export type Envelope = z.infer<typeof envelopeSchema>;

export type DecodeError = 'oversized' | 'corrupt' | 'schema';

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

export function encodeEnvelope(e: Envelope): Buffer {
  return packr.pack(e);
}

export function decodeEnvelope(buf: Buffer): { ok: true; env: Envelope } | { ok: false; error: DecodeError } {
  if (buf.length > MAX_ENVELOPE_BYTES) return { ok: false, error: 'oversized' };
  let raw: unknown;
  try {
    raw = packr.unpack(buf);
  } catch {
    return { ok: false, error: 'corrupt' };
  }
  const r = envelopeSchema.safeParse(raw);
  return r.success ? { ok: true, env: r.data } : { ok: false, error: 'schema' };
}

export function encodeRec(r: PeerRec): Buffer {
  return packr.pack(r);
}

export function decodeRec(buf: Buffer): PeerRec | null {
  if (buf.length > MAX_ENVELOPE_BYTES) return null;
  try {
    const r = peerRecSchema.safeParse(packr.unpack(buf));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

/** Mirror meta value: the owner's epoch and the seq of its last publish (written in the same pipeline). */
export interface ShardMeta {
  epoch: string;
  seq: number;
}

export function encodeMeta(m: ShardMeta): string {
  return `${m.epoch}:${m.seq}`;
}

export function decodeMeta(s: string | null): ShardMeta | null {
  if (s === null) return null;
  const i = s.lastIndexOf(':');
  const seq = Number(s.slice(i + 1));
  if (i <= 0 || !Number.isSafeInteger(seq) || seq < 0) return null;
  return { epoch: s.slice(0, i), seq };
}
