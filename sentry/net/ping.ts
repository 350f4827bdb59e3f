/**
 * Ping sockets: socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) and socket(AF_INET6, SOCK_DGRAM,
 * IPPROTO_ICMPV6), what unprivileged `ping` uses. The application writes an echo request
 * (type, code 0, any checksum and identifier, its sequence number and data); the stack sets
 * the identifier to the socket's "port" and the checksum, and hands back the echo replies that
 * carry that identifier, whole (ICMP header included), from port 0.
 *
 * Linux allows them to the groups in net.ipv4.ping_group_range; the sandbox allows them to
 * every user, as gVisor does: they reach nothing a UDP socket cannot.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { SysError } from "../../abi/linux/error.ts";
import { isV4 } from "./address.ts";
import { checksum, finish, pseudoHeaderSum, sumBytes } from "./checksum.ts";
import type { NetworkPacket } from "./ipv4.ts";
import { transportBuffer } from "./ipv4.ts";
import type { Route } from "./route.ts";
import { IPPROTO_ICMP, IPPROTO_ICMPV6, type Stack, TransportTable } from "./stack.ts";
import type { NIC } from "./nic.ts";
import { packetInfo, UDPEndpoint } from "./udp.ts";

export const ICMP_ECHO = 8;
export const ICMP_ECHOREPLY = 0;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
/** type, code, checksum, identifier, sequence number. */
const ECHO_HEADER_SIZE = 8;

/** The ping sockets of one family in one stack. */
export class PingProtocol {
  readonly table = new TransportTable<UDPEndpoint>();
  constructor(readonly stack: Stack, readonly v6: boolean) {}

  /** An echo reply arrived (checked by the caller to be one): to the socket it names. */
  handleReply(pkt: NetworkPacket, nic: NIC): void {
    const p = pkt.payload;
    if (p.length < ECHO_HEADER_SIZE) return;
    if (!nic.link.checksumOffload) {
      const sum = this.v6
        ? finish(sumBytes(p, pseudoHeaderSum(pkt.src, pkt.dst, IPPROTO_ICMPV6, p.length)))
        : checksum(p);
      if (sum !== 0) return;
    }
    const ident = (p[4] << 8) | p[5];
    const ep = this.table.find(pkt.dst, ident, pkt.src, 0);
    // IP(V6)_ORIGDSTADDR's port is the transport header's third and fourth bytes, whatever
    // the transport (Linux takes every one to start with its ports): ICMP's checksum.
    const info = packetInfo(pkt, nic, (p[2] << 8) | p[3]);
    ep?.deliver({ data: p.slice(), from: pkt.src, fromPort: 0, info });
  }
}

export class PingEndpoint extends UDPEndpoint {
  override readonly protocol: number;
  override readonly headerSize = ECHO_HEADER_SIZE;

  constructor(readonly ping: PingProtocol, v4: boolean) {
    super(ping, v4);
    this.protocol = ping.v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
  }

  /** The port of a ping socket's peer means nothing: replies come from port 0. */
  override connect(addr: Uint8Array, _port: number): void {
    super.connect(addr, 0);
  }

  override encode(r: Route, _port: number, data: Uint8Array): Uint8Array {
    const request = this.ping.v6 ? ICMPV6_ECHO_REQUEST : ICMP_ECHO;
    if (data.length < ECHO_HEADER_SIZE || data[0] !== request || data[1] !== 0) {
      throw new SysError(Errno.EINVAL);
    }
    const b = transportBuffer(data.length);
    b.set(data);
    b[2] = b[3] = 0;
    b[4] = this.localPort >> 8;
    b[5] = this.localPort & 0xff;
    const c = isV4(r.dst)
      ? checksum(b)
      : finish(sumBytes(b, pseudoHeaderSum(r.src, r.dst, IPPROTO_ICMPV6, b.length)));
    b[2] = c >> 8;
    b[3] = c & 0xff;
    return b;
  }
}
