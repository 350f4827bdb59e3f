/**
 * The TCP protocol of one stack: arriving segments to their endpoint, and resets for
 * segments that no endpoint takes (a connection refused).
 *
 * @module
 */

import type { IPAddress } from "./address.ts";
import type { NetworkPacket } from "./ipv4.ts";
import type { ICMPError } from "./icmp.ts";
import type { NIC } from "./nic.ts";
import type { LocalPacket } from "./link.ts";
import { IPPROTO_TCP, type Stack, TransportTable } from "./stack.ts";
import { TCPEndpoint } from "./tcp_endpoint.ts";
import type { CongestionName } from "./tcp_congestion.ts";
import { ACK, decodeTCP, encodeTCP, FIN, RST, type Segment, seqAdd, SYN } from "./tcp_header.ts";
import { DEFAULT_TTL } from "./stack.ts";

export class TCPProtocol {
  readonly table = new TransportTable<TCPEndpoint>();
  /** Connections in TIME_WAIT (bounded: see TCPEndpoint). */
  timeWaitCount = 0;
  /** Whether SYNs offer selective acknowledgments (Linux's net.ipv4.tcp_sack). */
  sack = true;
  /** Whether SYNs offer timestamps (RFC 7323; Linux's net.ipv4.tcp_timestamps). */
  timestamps = true;
  /** The retransmission timeout's floor once connected (Linux's TCP_RTO_MIN, tcp_rto_min_us). */
  rtoMinMs = 200;
  /** New sockets' congestion control (Linux's net.ipv4.tcp_congestion_control). */
  congestion: CongestionName = "cubic";
  constructor(readonly stack: Stack) {
    stack.registerProtocol(IPPROTO_TCP, this);
  }

  newEndpoint(v4: boolean): TCPEndpoint {
    return new TCPEndpoint(this, v4);
  }

  handlePacket(pkt: NetworkPacket, nic: NIC): void {
    const s = decodeTCP(pkt.src, pkt.dst, pkt.payload, !nic.link.checksumOffload);
    if (!s) return;
    this.handleAgain(pkt, s);
  }

  handleLocal(pkt: LocalPacket): void {
    this.handleAgain(pkt, pkt.transport as Segment);
  }

  /** Dispatches a parsed segment (again, when a TIME_WAIT endpoint gave way to a new SYN). */
  handleAgain(pkt: { src: IPAddress; dst: IPAddress }, s: Segment): void {
    const ep = this.table.find(pkt.dst, s.dport, pkt.src, s.sport);
    if (!ep) {
      if (!(s.flags & RST)) this.sendReset(pkt.dst, pkt.src, s);
      return;
    }
    ep.handleSegment(pkt, s);
  }

  /** An ICMP error about a segment src:sport sent to dst:dport (icmp.ts). */
  handleError(src: IPAddress, sport: number, dst: IPAddress, dport: number, err: ICMPError): void {
    const ep = this.table.find(src, sport, dst, dport);
    // Listeners and unconnected endpoints sent nothing an error could be about.
    if (ep && ep.remoteAddr && err.quote.length >= 8) {
      ep.handleError(err, new DataView(err.quote.buffer, err.quote.byteOffset).getUint32(4));
    }
  }

  /** Answers s (which src sent to dst... from dst's side) with a reset, as RFC 9293 says. */
  sendReset(from: IPAddress, to: IPAddress, s: Segment): void {
    let r;
    try {
      r = this.stack.route(to, from);
    } catch {
      return;
    }
    const len = s.data.length + (s.flags & SYN ? 1 : 0) + (s.flags & FIN ? 1 : 0);
    const reply: Segment = s.flags & ACK
      ? {
        sport: s.dport,
        dport: s.sport,
        seq: s.ack,
        ack: 0,
        flags: RST,
        window: 0,
        mss: null,
        wscale: null,
        data: new Uint8Array(0),
      }
      : {
        sport: s.dport,
        dport: s.sport,
        seq: 0,
        ack: seqAdd(s.seq, len),
        flags: RST | ACK,
        window: 0,
        mss: null,
        wscale: null,
        data: new Uint8Array(0),
      };
    this.stack.send(r, IPPROTO_TCP, encodeTCP(r.src, r.dst, reply), DEFAULT_TTL, 0);
  }
}
