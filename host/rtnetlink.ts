/**
 * A NETLINK_ROUTE client for the host's kernel: what `runsc boot` reads of the container's
 * network namespace before it takes its interfaces over (--network=sandbox): links, their
 * addresses and routes, and the removal of those addresses from the host interface, so that
 * the host kernel no longer answers ARP or TCP for them once the Sentry's stack does.
 *
 * Struct layouts (x86-64 Linux): nlmsghdr {u32 len; u16 type; u16 flags; u32 seq; u32 pid}
 * (16 bytes); ifinfomsg {u8 family; u8 pad; u16 type; i32 index; u32 flags; u32 change} (16);
 * ifaddrmsg {u8 family; u8 prefixlen; u8 flags; u8 scope; u32 index} (8); rtmsg {u8 family,
 * dst_len, src_len, tos, table, protocol, scope, type; u32 flags} (12); rtattr {u16 len;
 * u16 type} then the value, each padded to 4 bytes.
 *
 * @module
 */

import { closeFd, HostError, rawSyscall } from "./libc.ts";
import { addr } from "./socket.ts";

const SYS_sendto = 44;
const SYS_recvfrom = 45;
const SYS_socket = 41;
const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;

const NLMSG_HDRLEN = 16;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 1;
const NLM_F_ACK = 4;
const NLM_F_DUMP = 0x300;
const RTM_GETLINK = 18;
const RTM_DELADDR = 21;
const RTM_GETADDR = 22;
const RTM_GETROUTE = 26;

const IFLA_ADDRESS = 1, IFLA_IFNAME = 3, IFLA_MTU = 4;
const IFA_ADDRESS = 1, IFA_LOCAL = 2;
const RTA_DST = 1, RTA_OIF = 4, RTA_GATEWAY = 5, RTA_TABLE = 15;
const RT_TABLE_MAIN = 254;
const RTN_UNICAST = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;

/** One link of the namespace (RTM_GETLINK). */
export interface HostLink {
  index: number;
  name: string;
  /** ARPHRD_* (1: Ethernet, 772: loopback). */
  type: number;
  flags: number;
  mtu: number;
  mac: Uint8Array;
}

/** One address (RTM_GETADDR): 4 or 16 bytes. */
export interface HostAddress {
  family: number;
  index: number;
  prefixLen: number;
  address: Uint8Array;
}

/** One route of the main table (RTM_GETROUTE). */
export interface HostRoute {
  family: number;
  /** The destination prefix (all zeroes for a default route). */
  dst: Uint8Array;
  dstLen: number;
  /** The outgoing interface. */
  index: number;
  gateway: Uint8Array | null;
}

/** The attributes of one message, by type (the last one wins). */
function attrs(b: Uint8Array, off: number, end: number): Map<number, Uint8Array> {
  const m = new Map<number, Uint8Array>();
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  while (off + 4 <= end) {
    const len = v.getUint16(off, true);
    if (len < 4 || off + len > end) break;
    m.set(v.getUint16(off + 2, true) & 0x3fff, b.slice(off + 4, off + len));
    off += (len + 3) & ~3;
  }
  return m;
}

/** A route netlink socket of this thread's network namespace. */
export class RouteNetlink implements Disposable {
  readonly fd: number;
  #seq = 1;

  constructor() {
    const fd = rawSyscall(
      SYS_socket,
      BigInt(AF_NETLINK),
      BigInt(SOCK_RAW | SOCK_CLOEXEC),
      BigInt(NETLINK_ROUTE),
    );
    if (fd < 0n) throw new HostError("socket AF_NETLINK", Number(-fd));
    this.fd = Number(fd);
  }

  [Symbol.dispose](): void {
    closeFd(this.fd);
  }

  /**
   * Sends one request (`body` after the header) and returns the answer's messages, each as
   * [type, bytes after the header]; throws HostError on an error answer.
   */
  #request(type: number, flags: number, body: Uint8Array): [number, Uint8Array][] {
    const seq = this.#seq++;
    const msg = new Uint8Array(NLMSG_HDRLEN + body.length);
    const v = new DataView(msg.buffer);
    v.setUint32(0, msg.length, true);
    v.setUint16(4, type, true);
    v.setUint16(6, NLM_F_REQUEST | flags, true);
    v.setUint32(8, seq, true);
    msg.set(body, NLMSG_HDRLEN);
    const sent = rawSyscall(SYS_sendto, BigInt(this.fd), addr(msg), BigInt(msg.length), 0n, 0n, 0n);
    if (sent < 0n) throw new HostError(`netlink request ${type}`, Number(-sent));
    const out: [number, Uint8Array][] = [];
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = Number(rawSyscall(SYS_recvfrom, BigInt(this.fd), addr(buf), BigInt(buf.length)));
      if (n < 0) throw new HostError(`netlink answer ${type}`, -n);
      const bv = new DataView(buf.buffer);
      let off = 0;
      while (off + NLMSG_HDRLEN <= n) {
        const len = bv.getUint32(off, true);
        if (len < NLMSG_HDRLEN || off + len > n) break;
        const t = bv.getUint16(off + 4, true);
        if (bv.getUint32(off + 8, true) === seq) {
          if (t === NLMSG_DONE) return out;
          if (t === NLMSG_ERROR) {
            const err = -bv.getInt32(off + NLMSG_HDRLEN, true);
            if (err !== 0) throw new HostError(`netlink request ${type}`, err);
            return out;
          }
          out.push([t, buf.slice(off + NLMSG_HDRLEN, off + len)]);
        }
        off += (len + 3) & ~3;
      }
    }
  }

  /** Every link. */
  links(): HostLink[] {
    return this.#request(RTM_GETLINK, NLM_F_DUMP, new Uint8Array(16)).flatMap(([, b]) => {
      if (b.length < 16) return [];
      const v = new DataView(b.buffer);
      const a = attrs(b, 16, b.length);
      const name = a.get(IFLA_IFNAME);
      const mtu = a.get(IFLA_MTU);
      return [{
        index: v.getInt32(4, true),
        name: name ? new TextDecoder().decode(name).replace(/\0.*$/, "") : "",
        type: v.getUint16(2, true),
        flags: v.getUint32(8, true),
        mtu: mtu && mtu.length >= 4 ? new DataView(mtu.buffer).getUint32(0, true) : 1500,
        mac: a.get(IFLA_ADDRESS) ?? new Uint8Array(6),
      }];
    });
  }

  /** Every address of every link. */
  addresses(): HostAddress[] {
    return this.#request(RTM_GETADDR, NLM_F_DUMP, new Uint8Array(8)).flatMap(([, b]) => {
      if (b.length < 8) return [];
      const a = attrs(b, 8, b.length);
      const address = a.get(IFA_LOCAL) ?? a.get(IFA_ADDRESS);
      const family = b[0];
      if (!address || address.length !== (family === AF_INET ? 4 : 16)) return [];
      return [{
        family,
        prefixLen: b[1],
        index: new DataView(b.buffer).getUint32(4, true),
        address,
      }];
    });
  }

  /** The unicast routes of the main table. */
  routes(): HostRoute[] {
    return this.#request(RTM_GETROUTE, NLM_F_DUMP, new Uint8Array(12)).flatMap(([, b]) => {
      if (b.length < 12) return [];
      const a = attrs(b, 12, b.length);
      const table = a.get(RTA_TABLE);
      const t = table && table.length >= 4 ? new DataView(table.buffer).getUint32(0, true) : b[4];
      const oif = a.get(RTA_OIF);
      if (t !== RT_TABLE_MAIN || b[7] !== RTN_UNICAST || !oif || oif.length < 4) return [];
      const family = b[0];
      const size = family === AF_INET ? 4 : 16;
      return [{
        family,
        dst: a.get(RTA_DST) ?? new Uint8Array(size),
        dstLen: b[1],
        index: new DataView(oif.buffer).getUint32(0, true),
        gateway: a.get(RTA_GATEWAY) ?? null,
      }];
    });
  }

  /** Removes `a` from its link. */
  deleteAddress(a: HostAddress): void {
    const body = new Uint8Array(8 + 2 * (4 + ((a.address.length + 3) & ~3)));
    const v = new DataView(body.buffer);
    body[0] = a.family;
    body[1] = a.prefixLen;
    v.setUint32(4, a.index, true);
    let off = 8;
    for (const type of [IFA_LOCAL, IFA_ADDRESS]) {
      v.setUint16(off, 4 + a.address.length, true);
      v.setUint16(off + 2, type, true);
      body.set(a.address, off + 4);
      off += 4 + ((a.address.length + 3) & ~3);
    }
    this.#request(RTM_DELADDR, NLM_F_ACK, body);
  }
}
