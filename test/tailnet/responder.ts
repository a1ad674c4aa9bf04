/**
 * Test-only passive TCP echo responder (LISTEN → SYN-RECEIVED → ESTABLISHED
 * collapsed): answers SYNs, echoes in-order data, acknowledges cumulatively,
 * drops out-of-order data, answers FIN with FIN. It never retransmits, so
 * loopback tests only lose packets in the client → responder direction.
 */
import { ACK, FIN, PSH, SYN, type TcpSegment, decodeIpv6, decodeTcp, encodeIpv6, encodeTcp, segLen, seqAdd } from '../../src/tailnet/index.js';

interface Conn {
  rcvNxt: number;
  sndNxt: number;
  finSent: boolean;
}

export class EchoResponder {
  private conns = new Map<number, Conn>();
  echoed = 0;

  constructor(
    private readonly local: Uint8Array,
    private readonly remote: Uint8Array,
    private readonly out: (packet: Uint8Array) => void,
  ) {}

  input(packet: Uint8Array): void {
    const ip = decodeIpv6(packet);
    if (!ip) return;
    const seg = decodeTcp(ip.payload, ip.src, ip.dst);
    if (!seg) return;
    let c = this.conns.get(seg.srcPort);
    if (seg.flags & SYN) {
      if (!c) {
        c = { rcvNxt: seqAdd(seg.seq, 1), sndNxt: 9000, finSent: false };
        this.conns.set(seg.srcPort, c);
      }
      this.send(seg, { seq: 9000, ack: c.rcvNxt, flags: SYN | ACK, mss: 1220 });
      c.sndNxt = 9001;
      return;
    }
    if (!c) return;
    if (seg.seq !== c.rcvNxt) {
      this.send(seg, { seq: c.sndNxt, ack: c.rcvNxt, flags: ACK });
      return;
    }
    if (seg.payload.length > 0) {
      c.rcvNxt = seqAdd(c.rcvNxt, seg.payload.length);
      for (let off = 0; off < seg.payload.length; off += 1220) {
        const chunk = seg.payload.subarray(off, off + 1220);
        this.send(seg, { seq: c.sndNxt, ack: c.rcvNxt, flags: ACK | PSH, payload: chunk });
        c.sndNxt = seqAdd(c.sndNxt, chunk.length);
        this.echoed += chunk.length;
      }
    }
    if (seg.flags & FIN && segLen(seg) === seg.payload.length + 1) {
      c.rcvNxt = seqAdd(c.rcvNxt, 1);
      if (!c.finSent) {
        this.send(seg, { seq: c.sndNxt, ack: c.rcvNxt, flags: ACK | FIN });
        c.sndNxt = seqAdd(c.sndNxt, 1);
        c.finSent = true;
      } else {
        this.send(seg, { seq: c.sndNxt, ack: c.rcvNxt, flags: ACK });
      }
    } else if (seg.payload.length === 0 && c.finSent) {
      // ACK of our FIN: nothing to do.
    }
  }

  /** Sends unsolicited data to the client on `clientPort` (agent-side output, e.g. PTY bytes). */
  push(clientPort: number, serverPort: number, data: Uint8Array): void {
    const c = this.conns.get(clientPort);
    if (!c) throw new Error('no connection');
    const to = { srcPort: clientPort, dstPort: serverPort } as TcpSegment;
    this.send(to, { seq: c.sndNxt, ack: c.rcvNxt, flags: ACK | PSH, payload: data });
    c.sndNxt = seqAdd(c.sndNxt, data.length);
  }

  private send(to: TcpSegment, s: { seq: number; ack: number; flags: number; mss?: number; payload?: Uint8Array }): void {
    const seg: TcpSegment = {
      srcPort: to.dstPort,
      dstPort: to.srcPort,
      seq: s.seq,
      ack: s.ack,
      flags: s.flags,
      window: 65535,
      urgent: 0,
      mss: s.mss ?? null,
      payload: s.payload ?? new Uint8Array(0),
    };
    this.out(encodeIpv6(this.local, this.remote, 6, encodeTcp(seg, this.local, this.remote)));
  }
}
