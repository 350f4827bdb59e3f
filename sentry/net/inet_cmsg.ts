/**
 * IP-level control messages of AF_INET and AF_INET6 sockets: those a send carries (per-packet
 * TTL/hop limit, TOS/traffic class, source address and interface) and those a datagram brings
 * back when its socket asked for them (IP_PKTINFO, IP_RECVTTL, IP_RECVTOS, IP_RECVORIGDSTADDR,
 * IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS, IPV6_FLOWINFO, IPV6_RECVORIGDSTADDR
 * and RFC 2292's two).
 *
 * The control buffer of a send is the application's bytes: every header is checked against
 * what is left of the buffer before its data is read, and a value of the wrong length or
 * range is EINVAL, as on Linux. A receive fills the buffer as Linux's put_cmsg does: a
 * message that does not fit whole is cut to the room left (its cmsg_len says so) with
 * MSG_CTRUNC, and the padding after each message is not written.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { SysError } from "../../abi/linux/error.ts";
import { be32, decodeValue, encodeValue, i32, u8 } from "../../abi/linux/layout.ts";
import {
  AF_INET,
  AF_INET6,
  cmsgAlign,
  Cmsghdr,
  In6Pktinfo,
  InPktinfo,
  IP_ORIGDSTADDR,
  IP_PKTINFO,
  IP_RECVORIGDSTADDR,
  IP_RECVTOS,
  IP_RECVTTL,
  IP_TOS,
  IP_TTL,
  IPV6_2292HOPLIMIT,
  IPV6_2292PKTINFO,
  IPV6_DONTFRAG,
  IPV6_FLOWINFO,
  IPV6_HOPLIMIT,
  IPV6_ORIGDSTADDR,
  IPV6_PKTINFO,
  IPV6_RECVHOPLIMIT,
  IPV6_RECVORIGDSTADDR,
  IPV6_RECVPKTINFO,
  IPV6_RECVTCLASS,
  IPV6_TCLASS,
  SCM_CREDENTIALS,
  SCM_RIGHTS,
  SCM_TXTIME,
  SO_MARK,
  SO_PRIORITY,
  SO_TIMESTAMPING_OLD,
  SockaddrIn,
  SockaddrIn6,
  SOL_IP,
  SOL_IPV6,
  SOL_SOCKET,
} from "../../abi/linux/socket.ts";
import {
  type IPAddress,
  isAny,
  isLinkLocal,
  isMulticast,
  isV4,
  v4Bytes,
  v4Mapped,
} from "./address.ts";

/** What a send's control messages ask of the packet; unset fields take the socket's. */
export interface SendControl {
  ttl?: number;
  tos?: number;
  /** The source address (IP_PKTINFO's ipi_spec_dst, IPV6_PKTINFO's ipi6_addr). */
  src?: IPAddress;
  /** The interface to send from (0: any). */
  ifindex?: number;
  /** The IPv6 flow label (from sin6_flowinfo with IPV6_FLOWINFO_SEND). */
  flowLabel?: number;
}

/** What the receiver may learn of a datagram besides its bytes and sender. */
export interface PacketInfo {
  /** The header's destination (v4-mapped for IPv4). */
  dst: IPAddress;
  /** The transport's destination port (0 for ping). */
  port: number;
  /** The IPv6 flow label (0 for IPv4). */
  flow: number;
  /** The TTL or hop limit it arrived with. */
  ttl: number;
  /** The TOS byte or traffic class it arrived with. */
  tos: number;
  /** The interface it arrived on. */
  ifindex: number;
}

/** What parseSendControl needs of the stack: whether an address and an interface exist. */
export interface ControlStack {
  isLocal(addr: IPAddress): boolean;
  hasInterface(ifindex: number): boolean;
}

const CMSG_HDR = Cmsghdr.size;
const INT = 4;

function intData(data: Uint8Array): number {
  return decodeValue(i32, data);
}

/**
 * Parses a send's control buffer for a socket of the family (v6: AF_INET6) and protocol kind
 * (`datagram`: IP-level messages apply; a stream checks only their framing and SOL_SOCKET's,
 * as Linux's TCP). Throws EINVAL (ENODEV for an interface that does not exist).
 */
export function parseSendControl(
  buf: Uint8Array,
  v6: boolean,
  datagram: boolean,
  stack: ControlStack,
): SendControl {
  const out: SendControl = {};
  // CMSG_FIRSTHDR/CMSG_NXTHDR: a header is read only when all of it lies in the buffer.
  for (let off = 0; off + CMSG_HDR <= buf.length;) {
    const h = Cmsghdr.decode(buf, off);
    if (h.len < BigInt(CMSG_HDR) || h.len > BigInt(buf.length - off)) {
      throw new SysError(Errno.EINVAL);
    }
    const len = Number(h.len);
    const data = buf.subarray(off + CMSG_HDR, off + len);
    if (h.level === SOL_SOCKET) socketMessage(h.type, data);
    else if (datagram && !v6 && h.level === SOL_IP) ipMessage(h.type, data, out, stack);
    else if (datagram && v6 && h.level === SOL_IPV6) ipv6Message(h.type, data, out, stack);
    // Other levels are not this socket's to read: Linux skips them.
    off += cmsgAlign(len);
  }
  return out;
}

/** SOL_SOCKET messages a send of any socket takes (the rest are EINVAL, as Linux's). */
function socketMessage(type: number, data: Uint8Array): void {
  switch (type) {
    case SCM_RIGHTS:
    case SCM_CREDENTIALS:
      // Meaningful only on AF_UNIX; elsewhere Linux lets them pass unread.
      return;
    case SO_MARK:
    case SO_PRIORITY:
    case SO_TIMESTAMPING_OLD:
      if (data.length !== INT) throw new SysError(Errno.EINVAL);
      return;
    case SCM_TXTIME:
      if (data.length !== 8) throw new SysError(Errno.EINVAL);
      return;
  }
  throw new SysError(Errno.EINVAL);
}

function ipMessage(type: number, data: Uint8Array, out: SendControl, stack: ControlStack) {
  switch (type) {
    case IP_TTL: {
      if (data.length !== INT) throw new SysError(Errno.EINVAL);
      const n = intData(data);
      if (n < 1 || n > 255) throw new SysError(Errno.EINVAL);
      out.ttl = n;
      return;
    }
    case IP_TOS: {
      // An int, or the byte itself.
      let n: number;
      if (data.length === INT) n = intData(data);
      else if (data.length === 1) n = decodeValue(u8, data);
      else throw new SysError(Errno.EINVAL);
      if (n < 0 || n > 255) throw new SysError(Errno.EINVAL);
      out.tos = n;
      return;
    }
    case IP_PKTINFO: {
      if (data.length !== InPktinfo.size) throw new SysError(Errno.EINVAL);
      const p = InPktinfo.decode(data);
      setSource(out, v4Mapped(p.specDst), p.ifindex, stack);
      return;
    }
  }
  throw new SysError(Errno.EINVAL);
}

function ipv6Message(type: number, data: Uint8Array, out: SendControl, stack: ControlStack) {
  switch (type) {
    case IPV6_PKTINFO:
    case IPV6_2292PKTINFO: {
      if (data.length < In6Pktinfo.size) throw new SysError(Errno.EINVAL);
      const p = In6Pktinfo.decode(data);
      if (p.ifindex !== 0 && out.ifindex && out.ifindex !== p.ifindex) {
        throw new SysError(Errno.EINVAL);
      }
      setSource(out, p.addr, p.ifindex, stack);
      return;
    }
    case IPV6_HOPLIMIT:
    case IPV6_2292HOPLIMIT: {
      if (data.length !== INT) throw new SysError(Errno.EINVAL);
      const n = intData(data);
      if (n < -1 || n > 255) throw new SysError(Errno.EINVAL);
      // -1 is the socket's own hop limit.
      if (n === -1) delete out.ttl;
      else out.ttl = n;
      return;
    }
    case IPV6_TCLASS: {
      if (data.length !== INT) throw new SysError(Errno.EINVAL);
      const n = intData(data);
      if (n < -1 || n > 255) throw new SysError(Errno.EINVAL);
      // Linux puts -1 into the header as it is: all eight bits set (seen natively).
      out.tos = n & 0xff;
      return;
    }
    case IPV6_DONTFRAG: {
      // Every datagram leaves whole or in fragments of the stack's choosing; only checked.
      if (data.length !== INT) throw new SysError(Errno.EINVAL);
      const n = intData(data);
      if (n < -1 || n > 1) throw new SysError(Errno.EINVAL);
      return;
    }
  }
  throw new SysError(Errno.EINVAL);
}

function setSource(out: SendControl, src: IPAddress, ifindex: number, stack: ControlStack) {
  if (ifindex !== 0) {
    if (!stack.hasInterface(ifindex)) throw new SysError(Errno.ENODEV);
    out.ifindex = ifindex;
  }
  if (isAny(src)) return;
  if (!stack.isLocal(src)) throw new SysError(Errno.EINVAL);
  out.src = src;
}

/** Which receive options are on, by their names. */
export interface ReceiveOptions {
  ipPktinfo: boolean;
  ipTtl: boolean;
  ipTos: boolean;
  ipOrigDstAddr: boolean;
  ipv6Pktinfo: boolean;
  ipv6Hoplimit: boolean;
  ipv6Tclass: boolean;
  ipv6Flowinfo: boolean;
  ipv6Pktinfo2292: boolean;
  ipv6Hoplimit2292: boolean;
  ipv6OrigDstAddr: boolean;
}

/** The receive options and the option names that turn them on. */
export const RECEIVE_OPTIONS: Record<keyof ReceiveOptions, [number, number]> = {
  ipPktinfo: [SOL_IP, IP_PKTINFO],
  ipTtl: [SOL_IP, IP_RECVTTL],
  ipTos: [SOL_IP, IP_RECVTOS],
  ipOrigDstAddr: [SOL_IP, IP_RECVORIGDSTADDR],
  ipv6Pktinfo: [SOL_IPV6, IPV6_RECVPKTINFO],
  ipv6Hoplimit: [SOL_IPV6, IPV6_RECVHOPLIMIT],
  ipv6Tclass: [SOL_IPV6, IPV6_RECVTCLASS],
  ipv6Flowinfo: [SOL_IPV6, IPV6_FLOWINFO],
  ipv6Pktinfo2292: [SOL_IPV6, IPV6_2292PKTINFO],
  ipv6Hoplimit2292: [SOL_IPV6, IPV6_2292HOPLIMIT],
  ipv6OrigDstAddr: [SOL_IPV6, IPV6_RECVORIGDSTADDR],
};

/** One control message's bytes and where they go in the application's buffer. */
export interface ControlPiece {
  at: number;
  bytes: Uint8Array;
}

/** Control messages laid out in a buffer of `cap` bytes by Linux's put_cmsg rules. */
export class ControlWriter {
  readonly pieces: ControlPiece[] = [];
  /** msg_controllen to report: the bytes used, padding included. */
  used = 0;
  truncated = false;
  constructor(readonly cap: number) {}

  put(level: number, type: number, data: Uint8Array): void {
    const room = this.cap - this.used;
    if (room < CMSG_HDR) {
      this.truncated = true;
      return;
    }
    let len = CMSG_HDR + data.length;
    if (room < len) {
      this.truncated = true;
      len = room;
    }
    const b = new Uint8Array(len);
    Cmsghdr.encodeInto(b, 0, { len: BigInt(len), level, type });
    b.set(data.subarray(0, len - CMSG_HDR), CMSG_HDR);
    this.pieces.push({ at: this.used, bytes: b });
    this.used += Math.min(cmsgAlign(CMSG_HDR + data.length), room);
  }
}

/**
 * The control messages a datagram carries to a socket of the family (v6: AF_INET6), in
 * Linux's order: IPv6's packet info for any datagram on an AF_INET6 socket, then the IPv4
 * messages for an IPv4 datagram or the IPv6 ones for an IPv6 datagram.
 */
export function receiveControl(
  w: ControlWriter,
  v6: boolean,
  on: ReceiveOptions,
  p: PacketInfo,
): void {
  const int = (n: number) => encodeValue(i32, n);
  if (v6 && on.ipv6Pktinfo) {
    w.put(SOL_IPV6, IPV6_PKTINFO, In6Pktinfo.encode({ addr: p.dst, ifindex: p.ifindex }));
  }
  if (isV4(p.dst)) {
    if (on.ipPktinfo) {
      const a = v4Bytes(p.dst);
      w.put(SOL_IP, IP_PKTINFO, InPktinfo.encode({ ifindex: p.ifindex, specDst: a, addr: a }));
    }
    if (on.ipTtl) w.put(SOL_IP, IP_TTL, int(p.ttl));
    // IP_TOS comes back as the byte itself.
    if (on.ipTos) w.put(SOL_IP, IP_TOS, Uint8Array.of(p.tos));
    if (on.ipOrigDstAddr) {
      const sin = { family: AF_INET, port: p.port, addr: v4Bytes(p.dst) };
      w.put(SOL_IP, IP_ORIGDSTADDR, SockaddrIn.encode(sin));
    }
    return;
  }
  if (!v6) return;
  if (on.ipv6Hoplimit) w.put(SOL_IPV6, IPV6_HOPLIMIT, int(p.ttl));
  if (on.ipv6Tclass) w.put(SOL_IPV6, IPV6_TCLASS, int(p.tos));
  // The header's traffic class and flow label, as they are on the wire; none when both are 0.
  const flowinfo = ((p.tos << 20) | p.flow) >>> 0;
  if (on.ipv6Flowinfo && flowinfo !== 0) {
    w.put(SOL_IPV6, IPV6_FLOWINFO, encodeValue(be32, flowinfo));
  }
  if (on.ipv6Pktinfo2292) {
    w.put(SOL_IPV6, IPV6_2292PKTINFO, In6Pktinfo.encode({ addr: p.dst, ifindex: p.ifindex }));
  }
  if (on.ipv6Hoplimit2292) w.put(SOL_IPV6, IPV6_2292HOPLIMIT, int(p.ttl));
  if (on.ipv6OrigDstAddr) {
    const sin6 = {
      family: AF_INET6,
      port: p.port,
      flowinfo: 0,
      addr: p.dst,
      // A link-local destination names its interface, as Linux's ipv6_iface_scope_id.
      scopeId: linkScoped(p.dst) ? p.ifindex : 0,
    };
    w.put(SOL_IPV6, IPV6_ORIGDSTADDR, SockaddrIn6.encode(sin6));
  }
}

/** fe80::/10, and multicast of link scope (ff02::/16): Linux's IPV6_ADDR_LINKLOCAL. */
function linkScoped(a: IPAddress): boolean {
  return isLinkLocal(a) || (isMulticast(a) && (a[1] & 0x0f) === 2);
}
