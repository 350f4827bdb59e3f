/**
 * UDP (RFC 768) and UDP-Lite (RFC 3828): the header, the protocol's handling of arriving
 * datagrams, and the endpoint of a SOCK_DGRAM socket. UDP-Lite is UDP under another protocol
 * number whose length field says how much the checksum covers (0: all, what we send). A datagram to a port nobody holds is answered with an
 * ICMP port unreachable (icmp.ts), which a connected sender sees as ECONNREFUSED.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { chargeKernel, unchargeKernel } from "../mm/memory_file.ts";
import { SysError } from "../../abi/linux/error.ts";
import { POLLERR, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from "../vfs/file.ts";
import { WaitQueue } from "../vfs/waiter.ts";
import { ANY4, ANY6, type IPAddress, isAny, isV4 } from "./address.ts";
import { finish, pseudoHeaderSum, sumBytes } from "./checksum.ts";
import { type Endpoint, EndpointOptions, type ReadResult } from "./endpoint.ts";
import { type ICMPError, sendPortUnreachable } from "./icmp.ts";
import type { PacketInfo, SendControl } from "./inet_cmsg.ts";
import { type NetworkPacket, transportBuffer } from "./ipv4.ts";
import type { NIC } from "./nic.ts";
import type { Route } from "./route.ts";
import type { ProcInfo } from "./proc_net.ts";
import { IPPROTO_UDP, IPPROTO_UDPLITE, type Stack, TransportTable } from "./stack.ts";

export const UDP_HEADER_SIZE = 8;
/** What a queued datagram costs beyond its bytes (its record), for the memory charge. */
const DATAGRAM_COST = 64;

interface Datagram {
  data: Uint8Array;
  from: IPAddress;
  fromPort: number;
  info: PacketInfo;
}

/** What IP_PKTINFO, IP_RECVTTL and their kin report of a packet that arrived on nic. */
export function packetInfo(pkt: NetworkPacket, nic: NIC, port = 0): PacketInfo {
  return {
    dst: pkt.dst,
    port,
    ttl: pkt.ttl,
    tos: pkt.tos,
    flow: pkt.flow ?? 0,
    ifindex: nic.index,
  };
}

/** Builds a UDP (or UDP-Lite, checksum over all of it) datagram with its checksum. */
export function encodeUDP(
  r: Route,
  sport: number,
  dport: number,
  data: Uint8Array,
  protocol = IPPROTO_UDP,
): Uint8Array {
  const len = UDP_HEADER_SIZE + data.length;
  const b = transportBuffer(len);
  const v = new DataView(b.buffer, b.byteOffset, UDP_HEADER_SIZE);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  v.setUint16(4, protocol === IPPROTO_UDPLITE ? 0 : len);
  b.set(data, UDP_HEADER_SIZE);
  // A link that checks for us (loopback) gets no checksum, as for TCP.
  if (!r.nic.link.checksumOffload) {
    let c = finish(sumBytes(b, pseudoHeaderSum(r.src, r.dst, protocol, len)));
    if (c === 0) c = 0xffff;
    v.setUint16(6, c);
  }
  return b;
}

/** The UDP (or UDP-Lite) protocol of one stack: its endpoints and arriving datagrams. */
export class UDPProtocol {
  readonly table = new TransportTable<UDPEndpoint>();
  constructor(readonly stack: Stack, readonly protocol = IPPROTO_UDP) {
    stack.registerProtocol(protocol, this);
  }

  handlePacket(pkt: NetworkPacket, nic: NIC): void {
    const p = pkt.payload;
    if (p.length < UDP_HEADER_SIZE) return;
    const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
    const lite = this.protocol === IPPROTO_UDPLITE;
    // UDP-Lite's field is the checksum's coverage; the datagram is all of the IP payload.
    const field = v.getUint16(4);
    const len = lite ? p.length : field;
    const covered = lite && field !== 0 ? field : len;
    if (len < UDP_HEADER_SIZE || len > p.length || covered < UDP_HEADER_SIZE || covered > len) {
      return;
    }
    const body = p.subarray(0, len);
    if (!nic.link.checksumOffload && (lite || v.getUint16(6) !== 0)) {
      const sum = pseudoHeaderSum(pkt.src, pkt.dst, this.protocol, len);
      if (finish(sumBytes(body.subarray(0, covered), sum)) !== 0) return;
    }
    const sport = v.getUint16(0), dport = v.getUint16(2);
    const ep = this.table.find(pkt.dst, dport, pkt.src, sport);
    if (!ep) {
      sendPortUnreachable(this.stack, pkt);
      return;
    }
    // The packet is the stack's own: the datagram keeps its bytes without a copy.
    ep.deliver({
      data: body.subarray(UDP_HEADER_SIZE),
      from: pkt.src,
      fromPort: sport,
      info: packetInfo(pkt, nic, dport),
    });
  }

  /** An ICMP error about a datagram that src:sport sent to dst:dport. */
  handleError(src: IPAddress, sport: number, dst: IPAddress, dport: number, err: ICMPError): void {
    const ep = this.table.find(src, sport, dst, dport);
    // Linux reports ICMP errors to connected UDP sockets only (unless IP_RECVERR), and only
    // hard ones: fatal, or a datagram too big for the path (EMSGSIZE).
    if (!ep) return;
    if (err.mtu > 0) {
      // A datagram of a socket of ours was too big for a hop: later ones are cut to the path.
      try {
        this.stack.pmtu.lower(dst, err.mtu, this.stack.route(dst, src).nic.link.mtu);
      } catch {
        // No route back to dst any more: nothing to lower.
      }
    }
    if (ep.remoteAddr && (err.fatal || err.mtu > 0)) ep.setError(err.errno);
  }
}

/** What a datagram endpoint needs of its protocol: the stack, and the table it is found in. */
export interface DatagramProtocol {
  readonly stack: Stack;
  /** UDP's or UDP-Lite's number (a ping socket's endpoint sets its own). */
  readonly protocol?: number;
  readonly table: TransportTable<UDPEndpoint>;
}

/**
 * The endpoint of a datagram socket: UDP's, and (with its header made by encode) a ping
 * socket's (ping.ts).
 */
export class UDPEndpoint implements Endpoint {
  readonly protocol: number;
  /** The transport header's size, for the MTU check. */
  readonly headerSize: number = UDP_HEADER_SIZE;
  readonly options = new EndpointOptions();
  localAddr: IPAddress;
  localPort = 0;
  remoteAddr: IPAddress | null = null;
  remotePort = 0;
  v6only = false;
  reuseAddr = false;
  reusePort = false;
  /** The socket that holds it, for /proc/net. */
  procInfo: ProcInfo | null = null;
  #bound = false;
  #rcv: Datagram[] = [];
  #rcvBytes = 0;
  #error = 0;
  #shutRead = false;
  #shutWrite = false;
  #closed = false;

  readonly queue = new WaitQueue();

  constructor(readonly udp: DatagramProtocol, readonly v4: boolean) {
    this.localAddr = v4 ? ANY4 : ANY6;
    this.protocol = udp.protocol ?? IPPROTO_UDP;
  }

  listening(): boolean {
    return false;
  }
  timeWait(): boolean {
    return false;
  }

  bind(addr: IPAddress, port: number): void {
    if (this.#bound) throw new SysError(Errno.EINVAL);
    if (!this.udp.stack.isLocal(addr)) throw new SysError(Errno.EADDRNOTAVAIL);
    this.localPort = this.udp.stack.ports.reserve(this.protocol, addr, port, this);
    this.localAddr = addr;
    this.#bound = true;
    this.udp.table.add(this);
  }

  /** Takes an ephemeral port unless bound (Linux does it first thing in a send). */
  autobind(): void {
    if (!this.#bound) this.bind(this.localAddr, 0);
  }

  connect(addr: IPAddress, port: number): void {
    const r = this.udp.stack.route(addr, this.localAddr);
    this.autobind();
    this.udp.table.remove(this);
    // Linux fixes the source address of a connected datagram socket to the route's.
    this.localAddr = r.src;
    this.remoteAddr = addr;
    this.remotePort = port;
    this.udp.table.add(this);
  }

  /** connect(AF_UNSPEC): back to unconnected. */
  disconnect(): void {
    if (!this.remoteAddr) return;
    this.udp.table.remove(this);
    this.remoteAddr = null;
    this.remotePort = 0;
    this.udp.table.add(this);
  }

  write(
    data: Uint8Array,
    to: { addr: IPAddress; port: number } | null,
    _owned = false,
    ctl: SendControl = {},
  ): number {
    if (this.#shutWrite) throw new SysError(Errno.EPIPE);
    const err = this.takeError();
    if (err) throw new SysError(err);
    const dst = to ?? (this.remoteAddr ? { addr: this.remoteAddr, port: this.remotePort } : null);
    if (!dst) throw new SysError(Errno.EDESTADDRREQ);
    if (dst.port === 0 && this.protocol === (this.udp.protocol ?? IPPROTO_UDP)) {
      throw new SysError(Errno.EINVAL);
    }
    // A source from IP_PKTINFO/IPV6_PKTINFO (checked to be local) wins over the bound one.
    const src = ctl.src ?? (isAny(this.localAddr) ? null : this.localAddr);
    const r = this.udp.stack.route(dst.addr, src);
    // Datagrams beyond the MTU leave in fragments (stack.ts), up to the length fields' limits.
    const limit = isV4(dst.addr) ? 0xffff - 20 : 0xffff - 8;
    if (data.length + this.headerSize > limit) throw new SysError(Errno.EMSGSIZE);
    this.autobind();
    const o = this.options;
    const ttl = ctl.ttl ?? o.ttl, tos = ctl.tos ?? o.tos;
    const packet = this.encode(r, dst.port, data);
    this.udp.stack.send(r, this.protocol, packet, ttl, tos, undefined, ctl.flowLabel);
    return data.length;
  }

  /** The transport packet that carries data to port along r. */
  encode(r: Route, port: number, data: Uint8Array): Uint8Array {
    return encodeUDP(r, this.localPort, port, data, this.protocol);
  }

  /** A datagram arrived for this endpoint. */
  deliver(d: Datagram): void {
    if (this.#shutRead || this.#closed) return;
    // As Linux: the first datagram always fits; later ones while the buffer has room.
    if (this.#rcvBytes > 0 && this.#rcvBytes + d.data.length > this.options.rcvbuf) return;
    if (!chargeKernel(d.data.length + DATAGRAM_COST)) return;
    this.#rcv.push(d);
    this.#rcvBytes += d.data.length;
    this.queue.notify();
  }

  /** The size of the next datagram, 0 with none (SIOCINQ); a pending error stays. */
  get nextLength(): number {
    return this.#rcv[0]?.data.length ?? 0;
  }

  read(max: number, peek: boolean): ReadResult {
    const r = this.tryRead(max, peek);
    if (r === null) throw new SysError(Errno.EAGAIN);
    return r;
  }

  tryRead(max: number, peek: boolean): ReadResult | null {
    const d = this.#rcv[0];
    if (!d) {
      const err = this.takeError();
      if (err) throw new SysError(err);
      if (this.#shutRead) return { data: new Uint8Array(0), full: 0, from: null, fromPort: 0 };
      return null;
    }
    if (!peek) {
      this.#rcv.shift();
      this.#rcvBytes -= d.data.length;
      unchargeKernel(d.data.length + DATAGRAM_COST);
      this.queue.notify();
    }
    return {
      data: d.data.subarray(0, Math.min(max, d.data.length)),
      full: d.data.length,
      from: d.from,
      fromPort: d.fromPort,
      info: d.info,
    };
  }

  setError(errno: number): void {
    this.#error = errno;
    this.queue.notify();
  }

  takeError(): number {
    const e = this.#error;
    this.#error = 0;
    return e;
  }

  readiness(): number {
    let r = 0;
    if (this.#rcv.length > 0 || this.#shutRead) r |= POLLIN | POLLRDNORM;
    if (!this.#shutWrite) r |= POLLOUT | POLLWRNORM;
    if (this.#error) r |= POLLERR;
    return r;
  }

  shutdown(how: number): void {
    if (!this.remoteAddr) throw new SysError(Errno.ENOTCONN);
    if (how === 0 || how === 2) this.#shutRead = true;
    if (how === 1 || how === 2) this.#shutWrite = true;
    this.queue.notify();
  }

  close(): void {
    this.#closed = true;
    if (this.#bound) {
      this.udp.table.remove(this);
      this.udp.stack.ports.release(this.protocol, this.localPort, this);
    }
    for (const d of this.#rcv) unchargeKernel(d.data.length + DATAGRAM_COST);
    this.#rcv = [];
    this.#rcvBytes = 0;
  }

  /** Whether this endpoint is of an IPv4 socket (addresses must then be v4-mapped). */
  acceptsFamily(addr: IPAddress): boolean {
    return this.v4 ? isV4(addr) : !(this.v6only && isV4(addr));
  }
}
