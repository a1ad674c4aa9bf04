/**
 * Frames → packets, with drpcwire's reader rules: (stream, message) ids never
 * go backwards, a higher id discards any partial packet, a kind change inside
 * a packet is an error, packets are capped at 4 MiB, and any control frame
 * marks the whole packet as control.
 */
import { drpcProtocolError } from './errors.js';
import { MAX_PACKET_SIZE, parseFrame, type Packet } from './wire.js';

export class PacketReassembler {
  private buf: Uint8Array = new Uint8Array(0);
  private off = 0;
  private lastStream = 0;
  private lastMessage = 0;
  private partial: { kind: number; streamId: number; messageId: number; control: boolean; parts: Uint8Array[]; size: number } | null = null;

  constructor(private readonly maxPacket = MAX_PACKET_SIZE) {}

  /** Appends transport bytes. */
  push(chunk: Uint8Array): void {
    if (this.off >= this.buf.length) {
      this.buf = chunk;
      this.off = 0;
      return;
    }
    const rest = this.buf.length - this.off;
    const merged = new Uint8Array(rest + chunk.length);
    merged.set(this.buf.subarray(this.off), 0);
    merged.set(chunk, rest);
    this.buf = merged;
    this.off = 0;
  }

  /** Bytes pushed but not yet parsed into frames. */
  get pendingBytes(): number {
    return this.buf.length - this.off;
  }

  /** Next complete packet, or null when more bytes are needed. Throws DrpcProtocolError. */
  next(): Packet | null {
    for (;;) {
      const r = parseFrame(this.buf, this.off, this.maxPacket);
      if (!r) return null;
      this.off = r.next;
      const f = r.frame;
      if (f.streamId < this.lastStream || (f.streamId === this.lastStream && f.messageId < this.lastMessage)) {
        throw drpcProtocolError('id_monotonicity', `id monotonicity violation (fr:${f.streamId}/${f.messageId} r:${this.lastStream}/${this.lastMessage})`);
      }
      let p = this.partial;
      if (!p || p.streamId !== f.streamId || p.messageId !== f.messageId) {
        p = this.partial = { kind: f.kind, streamId: f.streamId, messageId: f.messageId, control: f.control, parts: [], size: 0 };
        this.lastStream = f.streamId;
        this.lastMessage = f.messageId;
      } else if (p.kind !== f.kind) {
        throw drpcProtocolError('packet_kind_change', `packet kind change (fr:${f.kind} pkt:${p.kind})`);
      }
      p.control ||= f.control;
      if (f.data.length > 0) {
        p.parts.push(f.data);
        p.size += f.data.length;
      }
      if (p.size > this.maxPacket) throw drpcProtocolError('data_overflow', `data overflow (len:${p.size})`);
      if (f.done) {
        this.partial = null;
        // Same id is never accepted twice.
        this.lastMessage = f.messageId + 1;
        return { kind: p.kind, streamId: p.streamId, messageId: p.messageId, control: p.control, data: concat(p.parts, p.size) };
      }
    }
  }
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(size);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
