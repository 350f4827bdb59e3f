/**
 * NETLINK_ROUTE requests answered from the stack: RTM_GETLINK, RTM_GETADDR and RTM_GETROUTE
 * (what glibc's getifaddrs and `ip addr`/`ip route` ask), as dumps or for one interface.
 * Changes (RTM_NEWADDR...) are refused with EOPNOTSUPP, except RTM_NEWLINK, which is
 * acknowledged so that `ip link set lo up` succeeds on an interface that is already up.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { isLinkLocal, isV4, v4Bytes } from "./address.ts";
import { IFF_LOOPBACK, type NIC } from "./nic.ts";
import type { Stack } from "./stack.ts";

export const NLMSG_HDRLEN = 16;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_REQUEST = 1;
export const NLM_F_MULTI = 2;
export const NLM_F_ACK = 4;
export const NLM_F_DUMP = 0x300;
const NLM_F_CAPPED = 0x100;

const RTM_NEWLINK = 16, RTM_GETLINK = 18, RTM_NEWADDR = 20, RTM_GETADDR = 22;
const RTM_NEWROUTE = 24, RTM_GETROUTE = 26;

const AF_UNSPEC = 0, AF_INET = 2, AF_INET6 = 10;
const IFLA_ADDRESS = 1, IFLA_BROADCAST = 2, IFLA_IFNAME = 3, IFLA_MTU = 4, IFLA_TXQLEN = 13;
const IFLA_OPERSTATE = 16;
const IF_OPER_UNKNOWN = 0;
const IFA_ADDRESS = 1, IFA_LOCAL = 2, IFA_LABEL = 3, IFA_FLAGS = 8;
const IFA_F_PERMANENT = 0x80;
const RT_SCOPE_UNIVERSE = 0, RT_SCOPE_LINK = 253, RT_SCOPE_HOST = 254;
const RTA_DST = 1, RTA_OIF = 4, RTA_GATEWAY = 5, RTA_PREFSRC = 7, RTA_TABLE = 15;
const RT_TABLE_MAIN = 254, RT_TABLE_LOCAL = 255;
const RTN_UNICAST = 1, RTN_LOCAL = 2;
const RTPROT_KERNEL = 2;

/** One request's header. */
export interface NlHeader {
  len: number;
  type: number;
  flags: number;
  seq: number;
  pid: number;
}

/** Builds a message: header, fixed part, attributes (each 4-aligned). */
export class NlMessage {
  #parts: Uint8Array[] = [];
  #len = 0;
  constructor(readonly type: number, readonly flags: number, readonly seq: number) {}

  #push(b: Uint8Array): void {
    this.#parts.push(b);
    this.#len += b.length;
    const pad = (4 - (b.length & 3)) & 3;
    if (pad) {
      this.#parts.push(new Uint8Array(pad));
      this.#len += pad;
    }
  }

  fixed(b: Uint8Array): this {
    this.#push(b);
    return this;
  }

  attr(type: number, value: Uint8Array): this {
    const b = new Uint8Array(4 + value.length);
    const v = new DataView(b.buffer);
    v.setUint16(0, b.length, true);
    v.setUint16(2, type, true);
    b.set(value, 4);
    this.#push(b);
    return this;
  }

  u32(type: number, n: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n, true);
    return this.attr(type, b);
  }

  str(type: number, s: string): this {
    const e = new TextEncoder().encode(s);
    const b = new Uint8Array(e.length + 1);
    b.set(e);
    return this.attr(type, b);
  }

  /** The message with its header, for a reader whose pid is portId. */
  encode(portId: number): Uint8Array {
    const out = new Uint8Array(NLMSG_HDRLEN + this.#len);
    const v = new DataView(out.buffer);
    v.setUint32(0, out.length, true);
    v.setUint16(4, this.type, true);
    v.setUint16(6, this.flags, true);
    v.setUint32(8, this.seq, true);
    v.setUint32(12, portId, true);
    let o = NLMSG_HDRLEN;
    for (const p of this.#parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

/** The NLMSG_ERROR answer (errno 0: an acknowledgement) quoting the request's header. */
export function errorMessage(h: NlHeader, errno: number, raw: Uint8Array): NlMessage {
  const b = new Uint8Array(4 + NLMSG_HDRLEN);
  new DataView(b.buffer).setInt32(0, -errno, true);
  b.set(raw.subarray(0, NLMSG_HDRLEN), 4);
  // An acknowledgement quotes only the header, which NLM_F_CAPPED says.
  return new NlMessage(NLMSG_ERROR, errno ? 0 : NLM_F_CAPPED, h.seq).fixed(b);
}

function linkMessage(nic: NIC, h: NlHeader, flags: number): NlMessage {
  const fixed = new Uint8Array(16);
  const v = new DataView(fixed.buffer);
  fixed[0] = AF_UNSPEC;
  v.setUint16(2, nic.link.arpType, true);
  v.setInt32(4, nic.index, true);
  v.setUint32(8, nic.flags, true);
  v.setUint32(12, 0xffffffff, true);
  const m = new NlMessage(RTM_NEWLINK, flags, h.seq).fixed(fixed)
    .str(IFLA_IFNAME, nic.name)
    .u32(IFLA_MTU, nic.link.mtu)
    .u32(IFLA_TXQLEN, 1000)
    .attr(IFLA_OPERSTATE, Uint8Array.of(IF_OPER_UNKNOWN))
    .attr(IFLA_ADDRESS, nic.link.hardwareAddress)
    // Loopback's broadcast address is all zeroes, Ethernet's all ones.
    .attr(
      IFLA_BROADCAST,
      new Uint8Array(nic.link.hardwareAddress.length).fill(nic.flags & IFF_LOOPBACK ? 0 : 0xff),
    );
  return m;
}

function addrMessages(stack: Stack, family: number, h: NlHeader, flags: number): NlMessage[] {
  const out: NlMessage[] = [];
  // Linux dumps every IPv4 address, then every IPv6 one (getifaddrs lists them so).
  for (const v4 of [true, false]) {
    if (family === AF_INET && !v4 || family === AF_INET6 && v4) continue;
    for (const nic of stack.nics) {
      for (const a of nic.addresses) {
        if (isV4(a.addr) !== v4) continue;
        const fixed = new Uint8Array(8);
        fixed[0] = v4 ? AF_INET : AF_INET6;
        fixed[1] = v4 ? a.prefixLen - 96 : a.prefixLen;
        fixed[2] = IFA_F_PERMANENT;
        fixed[3] = nic.flags & IFF_LOOPBACK
          ? RT_SCOPE_HOST
          : !v4 && isLinkLocal(a.addr)
          ? RT_SCOPE_LINK
          : RT_SCOPE_UNIVERSE;
        new DataView(fixed.buffer).setUint32(4, nic.index, true);
        const bytes = v4 ? v4Bytes(a.addr) : a.addr;
        const m = new NlMessage(RTM_NEWADDR, flags, h.seq).fixed(fixed).attr(IFA_ADDRESS, bytes);
        if (v4) m.attr(IFA_LOCAL, bytes).str(IFA_LABEL, nic.name);
        m.u32(IFA_FLAGS, IFA_F_PERMANENT);
        out.push(m);
      }
    }
  }
  return out;
}

function routeMessages(stack: Stack, family: number, h: NlHeader, flags: number): NlMessage[] {
  const out: NlMessage[] = [];
  for (const e of stack.routes.entries) {
    const v4 = isV4(e.dest);
    if (family === AF_INET && !v4 || family === AF_INET6 && v4) continue;
    const local = (e.nic.flags & IFF_LOOPBACK) !== 0;
    const table = local ? RT_TABLE_LOCAL : RT_TABLE_MAIN;
    const fixed = new Uint8Array(12);
    fixed[0] = v4 ? AF_INET : AF_INET6;
    fixed[1] = v4 ? e.prefixLen - 96 : e.prefixLen;
    fixed[4] = table;
    fixed[5] = RTPROT_KERNEL;
    fixed[6] = local ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE;
    fixed[7] = local ? RTN_LOCAL : RTN_UNICAST;
    const m = new NlMessage(RTM_NEWROUTE, flags, h.seq).fixed(fixed)
      .u32(RTA_TABLE, table)
      .attr(RTA_DST, v4 ? v4Bytes(e.dest) : e.dest);
    if (e.gateway) m.attr(RTA_GATEWAY, v4 ? v4Bytes(e.gateway) : e.gateway);
    const src = e.nic.addresses.find((a) => isV4(a.addr) === v4);
    if (src) m.attr(RTA_PREFSRC, v4 ? v4Bytes(src.addr) : src.addr);
    m.u32(RTA_OIF, e.nic.index);
    out.push(m);
  }
  return out;
}

/**
 * Answers one request (raw: the whole message, at least a header). Returns the messages
 * to queue, NLMSG_DONE last for a dump.
 */
export function routeRequest(stack: Stack, h: NlHeader, raw: Uint8Array): NlMessage[] {
  if (!(h.flags & NLM_F_REQUEST)) return [];
  const body = raw.subarray(NLMSG_HDRLEN, h.len);
  const family = body.length > 0 ? body[0] : AF_UNSPEC;
  const dump = (h.flags & NLM_F_DUMP) === NLM_F_DUMP;
  const done = () => {
    const b = new Uint8Array(4);
    return new NlMessage(NLMSG_DONE, NLM_F_MULTI, h.seq).fixed(b);
  };
  let out: NlMessage[];
  switch (h.type) {
    case RTM_GETLINK: {
      if (dump) {
        out = [...stack.nics.map((n) => linkMessage(n, h, NLM_F_MULTI)), done()];
        break;
      }
      if (body.length < 16) return [errorMessage(h, Errno.EINVAL, raw)];
      const index = new DataView(body.buffer, body.byteOffset, 16).getInt32(4, true);
      const nic = stack.nics.find((n) => n.index === index);
      if (!nic) return [errorMessage(h, Errno.ENODEV, raw)];
      out = [linkMessage(nic, h, 0)];
      break;
    }
    case RTM_GETADDR:
      if (!dump) return [errorMessage(h, Errno.EOPNOTSUPP, raw)];
      out = [...addrMessages(stack, family, h, NLM_F_MULTI), done()];
      break;
    case RTM_GETROUTE:
      if (!dump) return [errorMessage(h, Errno.EOPNOTSUPP, raw)];
      out = [...routeMessages(stack, family, h, NLM_F_MULTI), done()];
      break;
    case RTM_NEWLINK:
      return [errorMessage(h, 0, raw)];
    default:
      return [errorMessage(h, Errno.EOPNOTSUPP, raw)];
  }
  if (h.flags & NLM_F_ACK) out.push(errorMessage(h, 0, raw));
  return out;
}
