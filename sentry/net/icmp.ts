/**
 * ICMP and ICMPv6: a port unreachable sent for a datagram no socket takes, the errors that
 * arrive handed back to the transport that sent what they quote (with the errno Linux gives
 * each, and whether it is fatal), "fragmentation needed" and "packet too big" lowering the
 * path's MTU (pmtu.ts), echo replies to echo requests, and echo replies handed to the ping
 * socket they are for (ping.ts).
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
const ICMP_FRAG_NEEDED = 4;
const ICMP_ECHO = 8;
const ICMP_TIME_EXCEEDED = 11;
const ICMP_PARAMETERPROB = 12;
const ICMPV6_DEST_UNREACH = 1;
const ICMPV6_PKT_TOOBIG = 2;
const ICMPV6_TIME_EXCEED = 3;
const ICMPV6_PARAMPROB = 4;
const ICMPV6_PORT_UNREACH = 4;

/**
 * ICMP destination unreachable codes 0-15: the errno Linux reports and whether the error is
 * fatal (a hard error ends a connection attempt; a soft one is kept and reported only if the
 * connection then times out).
 */
const UNREACH4: [number, boolean][] = [
  [Errno.ENETUNREACH, false], // network unreachable
  [Errno.EHOSTUNREACH, false], // host unreachable
  [Errno.ENOPROTOOPT, true], // protocol unreachable
  [Errno.ECONNREFUSED, true], // port unreachable
  [Errno.EMSGSIZE, false], // fragmentation needed
  [Errno.EOPNOTSUPP, false], // source route failed
  [Errno.ENETUNREACH, true], // network unknown
  [Errno.EHOSTDOWN, true], // host unknown
  [Errno.ENONET, true], // host isolated
  [Errno.ENETUNREACH, true], // network administratively prohibited
  [Errno.EHOSTUNREACH, true], // host administratively prohibited
  [Errno.ENETUNREACH, false], // network unreachable for the TOS
  [Errno.EHOSTUNREACH, false], // host unreachable for the TOS
  [Errno.EHOSTUNREACH, true], // communication administratively prohibited
  [Errno.EHOSTUNREACH, true], // host precedence violation
  [Errno.EHOSTUNREACH, true], // precedence cut-off
];
/** ICMPv6 destination unreachable codes 0-6, as UNREACH4. */
const UNREACH6: [number, boolean][] = [
  [Errno.ENETUNREACH, false], // no route
  [Errno.EACCES, true], // administratively prohibited
  [Errno.EHOSTUNREACH, false], // beyond the source's scope
  [Errno.EHOSTUNREACH, false], // address unreachable
  [Errno.ECONNREFUSED, true], // port unreachable
  [Errno.EACCES, true], // source address failed policy
  [Errno.EACCES, true], // reject route
];

/** An error about a packet this stack sent, as the transport that sent it gets it. */
export interface ICMPError {
  errno: number;
  fatal: boolean;
  /**
   * The next hop's MTU for "fragmentation needed" or "packet too big" (0 otherwise): the
   * transport that finds the report credible lowers the path's MTU (Stack.pmtu).
   */
  mtu: number;
  /** The quoted transport header (at least its first 8 bytes: ports, TCP's sequence number). */
  quote: Uint8Array;
}

/** The errno and fatality of an ICMP error type and code; null for what is not an error. */
function classify(v6: boolean, type: number, code: number): [number, boolean] | null {
  if (v6) {
    switch (type) {
      case ICMPV6_DEST_UNREACH:
        return UNREACH6[code] ?? [Errno.EPROTO, true];
      case ICMPV6_PKT_TOOBIG:
        return [Errno.EMSGSIZE, false];
      case ICMPV6_TIME_EXCEED:
        return [Errno.EHOSTUNREACH, false];
      case ICMPV6_PARAMPROB:
        return [Errno.EPROTO, true];
    }
    return null;
  }
  switch (type) {
    case ICMP_DEST_UNREACH:
      return UNREACH4[code] ?? null;
    case ICMP_TIME_EXCEEDED:
      return [Errno.EHOSTUNREACH, false];
    case ICMP_PARAMETERPROB:
      return [Errno.EPROTO, true];
  }
  return null;
}
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
  err: ICMPError,
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
    const kind = classify(this.v6, type, code);
    if (!kind) return;
    const inner = p.subarray(8);
    let src, dst, proto, t;
    if (this.v6) {
      if (inner.length < 48) return;
      src = inner.slice(8, 24);
      dst = inner.slice(24, 40);
      proto = inner[6];
      t = inner.subarray(40);
    } else {
      if (inner.length < 20 || inner[0] >> 4 !== 4) return;
      const ihl = (inner[0] & 0xf) * 4;
      if (inner.length < ihl + 8 || ihl < 20) return;
      src = v4Mapped(inner.subarray(12, 16));
      dst = v4Mapped(inner.subarray(16, 20));
      proto = inner[9];
      t = inner.subarray(ihl);
    }
    // Only an error about what this stack sent, from one of its addresses, counts.
    if (!this.stack.isLocal(src)) return;
    let mtu = 0;
    const toobig = this.v6
      ? type === ICMPV6_PKT_TOOBIG
      : type === ICMP_DEST_UNREACH && code === ICMP_FRAG_NEEDED;
    if (toobig) {
      // The next hop's MTU: 32 bits in ICMPv6 (RFC 4443), the low 16 of them in ICMP. The
      // transport lowers the path's MTU once it knows the report is about what it sent.
      const v = new DataView(p.buffer, p.byteOffset, 8);
      mtu = this.v6 ? v.getUint32(4) : v.getUint16(6);
    }
    const sport = (t[0] << 8) | t[1], dport = (t[2] << 8) | t[3];
    const [errno, fatal] = kind;
    this.handlers.get(proto)?.(src, sport, dst, dport, { errno, fatal, mtu, quote: t });
  }
}
