/**
 * ICMP and ICMPv6: a port unreachable sent for a datagram no socket takes, that error handed
 * back to the transport that sent the datagram, echo replies to echo requests, and echo
 * replies handed to the ping socket they are for (ping.ts).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { isV4, v4Mapped } from "./address.ts";
import { checksum, finish, pseudoHeaderSum, sumBytes } from "./checksum.ts";
import type { NetworkPacket } from "./ipv4.ts";
import type { NIC } from "./nic.ts";
import type { PingProtocol } from "./ping.ts";
import { DEFAULT_TTL, IPPROTO_ICMP, IPPROTO_ICMPV6, type Stack } from "./stack.ts";

const ICMP_ECHOREPLY = 0;
const ICMP_DEST_UNREACH = 3;
const ICMP_PORT_UNREACH = 3;
const ICMP_ECHO = 8;
const ICMPV6_DEST_UNREACH = 1;
const ICMPV6_PORT_UNREACH = 4;
const ICMPV6_ECHO_REQUEST = 128;
const ICMPV6_ECHO_REPLY = 129;
/** An error quotes the offending packet up to this many bytes (the minimum MTU's worth). */
const QUOTE_MAX = 576 - 20 - 8;

function build(stack: Stack, to: NetworkPacket, type: number, code: number, body: Uint8Array) {
  let r;
  try {
    r = stack.route(to.src, to.dst);
  } catch {
    return;
  }
  const v4 = isV4(to.src);
  const msg = new Uint8Array(8 + body.length);
  msg[0] = type;
  msg[1] = code;
  msg.set(body, 8);
  const proto = v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
  const c = v4
    ? checksum(msg)
    : finish(sumBytes(msg, pseudoHeaderSum(r.src, r.dst, proto, msg.length)));
  new DataView(msg.buffer).setUint16(2, c);
  return { r, msg, proto };
}

/** Answers pkt (a datagram for a port no socket holds) with a port unreachable. */
export function sendPortUnreachable(stack: Stack, pkt: NetworkPacket): void {
  const v4 = isV4(pkt.src);
  const quote = pkt.raw.subarray(0, Math.min(pkt.raw.length, QUOTE_MAX));
  const m = v4
    ? build(stack, pkt, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, quote)
    : build(stack, pkt, ICMPV6_DEST_UNREACH, ICMPV6_PORT_UNREACH, quote);
  if (m) stack.send(m.r, m.proto, m.msg, DEFAULT_TTL, 0);
}

/** The transports that take errors about what they sent. */
export type ErrorHandler = (
  src: Uint8Array,
  sport: number,
  dst: Uint8Array,
  dport: number,
  errno: number,
) => void;

/** ICMP (v4 or v6) of one stack. */
export class ICMPProtocol {
  readonly handlers = new Map<number, ErrorHandler>();
  /** The ping sockets that take this family's echo replies (ping.ts). */
  ping: PingProtocol | null = null;
  constructor(readonly stack: Stack, readonly v6: boolean) {
    stack.registerProtocol(v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP, this);
  }

  handlePacket(pkt: NetworkPacket, nic: NIC): void {
    const p = pkt.payload;
    if (p.length < 8) return;
    const type = p[0], code = p[1];
    if (this.v6 ? type === ICMPV6_ECHO_REPLY : type === ICMP_ECHOREPLY) {
      this.ping?.handleReply(pkt, nic);
      return;
    }
    if (this.v6 ? type === ICMPV6_ECHO_REQUEST : type === ICMP_ECHO) {
      const m = build(
        this.stack,
        pkt,
        this.v6 ? ICMPV6_ECHO_REPLY : ICMP_ECHOREPLY,
        0,
        p.subarray(8),
      );
      if (!m) return;
      // The identifier and sequence number come back in the first four bytes after the type.
      m.msg.set(p.subarray(4, 8), 4);
      new DataView(m.msg.buffer).setUint16(2, 0);
      const c = this.v6
        ? finish(sumBytes(m.msg, pseudoHeaderSum(m.r.src, m.r.dst, m.proto, m.msg.length)))
        : checksum(m.msg);
      new DataView(m.msg.buffer).setUint16(2, c);
      this.stack.send(m.r, m.proto, m.msg, DEFAULT_TTL, 0);
      return;
    }
    const unreach = this.v6
      ? type === ICMPV6_DEST_UNREACH && code === ICMPV6_PORT_UNREACH
      : type === ICMP_DEST_UNREACH && code === ICMP_PORT_UNREACH;
    if (!unreach) return;
    const inner = p.subarray(8);
    let src, dst, proto, t;
    if (this.v6) {
      if (inner.length < 48) return;
      src = inner.slice(8, 24);
      dst = inner.slice(24, 40);
      proto = inner[6];
      t = inner.subarray(40);
    } else {
      const ihl = (inner[0] & 0xf) * 4;
      if (inner.length < ihl + 8 || ihl < 20) return;
      src = v4Mapped(inner.subarray(12, 16));
      dst = v4Mapped(inner.subarray(16, 20));
      proto = inner[9];
      t = inner.subarray(ihl);
    }
    const sport = (t[0] << 8) | t[1], dport = (t[2] << 8) | t[3];
    this.handlers.get(proto)?.(src, sport, dst, dport, Errno.ECONNREFUSED);
  }
}
