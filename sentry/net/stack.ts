/**
 * The network stack of one sandbox: its interfaces, route table, port manager and the
 * tables that hand an arriving packet to the transport endpoint it is for. With
 * --network=none it holds only the loopback interface (127.0.0.1/8 and ::1).
 *
 * @module
 */

import {
  equal,
  inPrefix,
  type IPAddress,
  isAny,
  isV4,
  key,
  LOOPBACK4,
  LOOPBACK6,
  v4Mapped,
} from "./address.ts";
import { ETH_P_IP, ETH_P_IPV6, type LinkEndpoint, type LocalPacket } from "./link.ts";
import { decodeIPv4, encodeIPv4, type NetworkPacket } from "./ipv4.ts";
import { decodeIPv6, encodeIPv6 } from "./ipv6.ts";
import { IFF_LOOPBACK, IFF_LOWER_UP, IFF_RUNNING, IFF_UP, NIC } from "./nic.ts";
import { PortManager } from "./ports.ts";
import { type Route, RouteTable } from "./route.ts";
import { LoopbackEndpoint } from "./loopback.ts";
import { fragmentIPv4, fragmentIPv6, Reassembler } from "./fragment.ts";
import { PathMtuCache } from "./pmtu.ts";

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_UDPLITE = 136;
export const IPPROTO_ICMPV6 = 58;
export const DEFAULT_TTL = 64;

/** What a transport asks a link that offloads to finish (link.ts Offload, transport side). */
export interface TransportOffload {
  /** The checksum field's offset in the transport header (its pseudo-header sum is there). */
  checksumOffset: number;
  /** The transport header's length. */
  headerLength: number;
  /** Data bytes per segment; 0: one packet. */
  segmentSize: number;
}

/** What the demultiplexer needs of a transport endpoint. */
export interface TransportEndpoint {
  localAddr: IPAddress;
  localPort: number;
  /** Set once connected: then only packets from this peer reach it. */
  remoteAddr: IPAddress | null;
  remotePort: number;
  v6only: boolean;
  reusePort: boolean;
}

/** A transport protocol's handling of arriving packets. */
export interface TransportProtocol {
  /** Handles pkt (already checked to be for a local address); sets nothing on drop. */
  handlePacket(pkt: NetworkPacket, nic: NIC): void;
  /** Handles a packet of this protocol that crossed its link parsed (sendLocal). */
  handleLocal?(pkt: LocalPacket): void;
}

/**
 * Connections are found by their ports first, then their addresses compared in place: no
 * key is built for each arriving packet.
 */
function portsKey(localPort: number, remotePort: number): number {
  return localPort * 0x10000 + remotePort;
}

/** Endpoints of one transport protocol, by port and by connection. */
export class TransportTable<E extends TransportEndpoint> {
  readonly #connected = new Map<number, E[]>();
  readonly #bound = new Map<number, E[]>();

  /** Makes ep findable at its current addresses. */
  add(ep: E): void {
    if (ep.remoteAddr) {
      const k = portsKey(ep.localPort, ep.remotePort);
      let l = this.#connected.get(k);
      if (!l) this.#connected.set(k, l = []);
      // One endpoint per 4-tuple: a new one takes the place of the last.
      const i = l.findIndex((e) =>
        equal(e.localAddr, ep.localAddr) && equal(e.remoteAddr!, ep.remoteAddr!)
      );
      if (i >= 0) l[i] = ep;
      else l.push(ep);
    } else {
      let l = this.#bound.get(ep.localPort);
      if (!l) this.#bound.set(ep.localPort, l = []);
      l.push(ep);
    }
  }

  remove(ep: E): void {
    if (ep.remoteAddr) {
      const k = portsKey(ep.localPort, ep.remotePort);
      const l = this.#connected.get(k);
      const i = l?.indexOf(ep) ?? -1;
      if (i >= 0) l!.splice(i, 1);
      if (l && l.length === 0) this.#connected.delete(k);
    } else {
      const l = this.#bound.get(ep.localPort);
      const i = l?.indexOf(ep) ?? -1;
      if (i >= 0) l!.splice(i, 1);
      if (l && l.length === 0) this.#bound.delete(ep.localPort);
    }
  }

  /** The endpoint a packet src:sport -> dst:dport is for, or null. */
  find(dst: IPAddress, dport: number, src: IPAddress, sport: number): E | null {
    const conns = this.#connected.get(portsKey(dport, sport));
    if (conns) {
      for (const c of conns) if (equal(c.localAddr, dst) && equal(c.remoteAddr!, src)) return c;
    }
    const l = this.#bound.get(dport);
    if (!l) return null;
    const v4 = isV4(dst);
    let best: E[] = [];
    let bestScore = 0;
    for (const ep of l) {
      let score = 0;
      if (ep.remoteAddr) continue;
      if (!isAny(ep.localAddr)) {
        if (key(ep.localAddr) !== key(dst)) continue;
        score = 3;
      } else if (isV4(ep.localAddr)) {
        if (!v4) continue;
        score = 2;
      } else {
        if (v4 && ep.v6only) continue;
        score = v4 ? 1 : 2;
      }
      if (score > bestScore) [best, bestScore] = [[ep], score];
      else if (score === bestScore) best.push(ep);
    }
    if (best.length === 0) return null;
    if (best.length === 1) return best[0];
    // SO_REUSEPORT: the same peer always reaches the same one of the group.
    let h = sport;
    for (const b of src) h = (h * 31 + b) >>> 0;
    return best[h % best.length];
  }

  /** Every endpoint, for /proc/net. */
  all(): E[] {
    return [...[...this.#connected.values()].flat(), ...[...this.#bound.values()].flat()];
  }
}

export class Stack {
  readonly nics: NIC[] = [];
  readonly routes = new RouteTable();
  readonly ports = new PortManager();
  readonly #protocols = new Map<number, TransportProtocol>();
  readonly reassembler = new Reassembler();
  /** Path MTUs learnt from ICMP (pmtu.ts). */
  readonly pmtu = new PathMtuCache();

  /** A stack with the loopback interface only (--network=none). */
  static loopback(): Stack {
    const s = new Stack();
    const lo = s.addNIC(
      "lo",
      new LoopbackEndpoint(),
      IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP,
    );
    lo.addresses.push({ addr: LOOPBACK4, prefixLen: 8 + 96 }, {
      addr: LOOPBACK6,
      prefixLen: 128,
    });
    s.routes.add({
      dest: v4Mapped(Uint8Array.of(127, 0, 0, 0)),
      prefixLen: 104,
      nic: lo,
      gateway: null,
    });
    s.routes.add({ dest: LOOPBACK6, prefixLen: 128, nic: lo, gateway: null });
    return s;
  }

  addNIC(name: string, link: LinkEndpoint, flags: number): NIC {
    const nic = new NIC(this.nics.length + 1, name, link, flags);
    this.nics.push(nic);
    link.attach((type, pkt) => this.#deliver(nic, type, pkt), (p) => this.#deliverLocal(nic, p));
    return nic;
  }

  registerProtocol(proto: number, p: TransportProtocol): void {
    this.#protocols.set(proto, p);
  }

  /** Whether addr is one of the stack's own (a socket may bind it). */
  isLocal(addr: IPAddress): boolean {
    if (isAny(addr)) return true;
    for (const nic of this.nics) {
      for (const a of nic.addresses) {
        // The whole prefix of a loopback address is local, as on Linux (127.0.0.0/8).
        if (nic.flags & IFF_LOOPBACK) {
          if (inPrefix(addr, a.addr, a.prefixLen)) return true;
        } else if (key(a.addr) === key(addr)) {
          return true;
        }
      }
    }
    return false;
  }

  /** Whether an interface has this index (IP_PKTINFO's ifindex; ENODEV otherwise). */
  hasInterface(ifindex: number): boolean {
    return this.nics.some((n) => n.index === ifindex);
  }

  /** The route to dst from src (null: the interface's address). */
  route(dst: IPAddress, src: IPAddress | null): Route {
    return this.routes.find(dst, src && !isAny(src) ? src : null);
  }

  /** The MTU of the path r takes: its link's, or less where ICMP reported a narrower hop. */
  pathMtu(r: Route): number {
    return this.pmtu.get(r.dst, r.nic.link.mtu);
  }

  /**
   * Sends a transport packet along r. With `offload` (only where r's link has an
   * offloadMaxSize), the link finishes the transport checksum and, for a segment size, cuts
   * the packet into segments.
   */
  send(
    r: Route,
    protocol: number,
    payload: Uint8Array,
    ttl: number,
    tos: number,
    offload?: TransportOffload,
    flowLabel = 0,
  ): void {
    const v4 = isV4(r.dst);
    const pkt = v4
      ? encodeIPv4(r.src, r.dst, protocol, payload, ttl, tos)
      : encodeIPv6(r.src, r.dst, protocol, payload, ttl, tos, flowLabel);
    r.nic.stats.txPackets++;
    r.nic.stats.txBytes += pkt.length;
    const type = v4 ? ETH_P_IP : ETH_P_IPV6;
    if (offload) {
      const ip = pkt.length - payload.length;
      r.nic.link.writePacket(type, pkt, r.gateway ?? r.dst, {
        transportStart: ip,
        checksumOffset: offload.checksumOffset,
        headerLength: ip + offload.headerLength,
        segmentSize: offload.segmentSize,
        v6: !v4,
      });
      return;
    }
    const mtu = this.pathMtu(r);
    if (pkt.length > mtu) {
      // Only datagrams get here (TCP's segments fit its MSS): sent as fragments.
      const frags = v4 ? fragmentIPv4(pkt, mtu) : fragmentIPv6(pkt, mtu);
      for (const f of frags) {
        r.nic.link.writePacket(type, f, r.gateway ?? r.dst);
      }
      return;
    }
    r.nic.link.writePacket(type, pkt, r.gateway ?? r.dst);
  }

  /** Whether packets along r may go in their parsed form (sendLocal). */
  sendsLocal(r: Route): boolean {
    return r.nic.link.parsed === true;
  }

  /** Sends a transport packet along r in its parsed form (only where sendsLocal(r)). */
  sendLocal(r: Route, p: LocalPacket): void {
    r.nic.stats.txPackets++;
    r.nic.stats.txBytes += p.length;
    r.nic.link.writeLocal!(p);
  }

  #deliverLocal(nic: NIC, p: LocalPacket): void {
    nic.stats.rxPackets++;
    nic.stats.rxBytes += p.length;
    const handler = this.isLocal(p.dst) && !isAny(p.dst)
      ? this.#protocols.get(p.protocol)
      : undefined;
    if (!handler?.handleLocal) {
      nic.stats.rxDropped++;
      return;
    }
    handler.handleLocal(p);
  }

  #deliver(nic: NIC, type: number, bytes: Uint8Array): void {
    nic.stats.rxPackets++;
    nic.stats.rxBytes += bytes.length;
    // Packets past an IP length's 16 bits come only from a link that sends them (loopback).
    const big = (nic.link.offloadMaxSize ?? 0) > 0xffff;
    let pkt = type === ETH_P_IP
      ? decodeIPv4(bytes, !nic.link.checksumOffload, big)
      : type === ETH_P_IPV6
      ? decodeIPv6(bytes, big)
      : null;
    if (pkt?.fragment) {
      const f = pkt.fragment;
      pkt = this.isLocal(pkt.dst) ? this.reassembler.add(pkt, f.id, f.offset, f.more) : null;
      if (!pkt) return;
    }
    const p = pkt && this.isLocal(pkt.dst) && !isAny(pkt.dst)
      ? this.#protocols.get(pkt.protocol)
      : undefined;
    if (!pkt || !p) {
      nic.stats.rxDropped++;
      return;
    }
    p.handlePacket(pkt, nic);
  }
}
