/**
 * Ethernet links: a NIC of the stack over a device that exchanges whole Ethernet frames (a
 * packet socket on a host interface, --network=sandbox: fdbased.ts). Frames carry IPv4, IPv6
 * and ARP; next hops are resolved by ARP and NDP through the neighbour cache.
 *
 * Every arriving frame comes from a peer that controls it: the header is checked before it is
 * read, frames for another station are dropped, and what follows is handed to parsers that
 * check their own bounds (arp.ts, ndp.ts, ipv4.ts, ipv6.ts).
 *
 * @module
 */

import { equal, inPrefix, type IPAddress, isAny, isMulticast, isV4 } from "./address.ts";
import { arpReply, arpRequest, decodeARP, ETH_P_ARP, isRequest, isUnicastHost } from "./arp.ts";
import type { NetworkPacket } from "./ipv4.ts";
import { decodeIPv6, encodeIPv6 } from "./ipv6.ts";
import {
  ETH_P_IP,
  ETH_P_IPV6,
  type LinkEndpoint,
  type NetworkDispatcher,
  type Offload,
} from "./link.ts";
import {
  decodeNDP,
  isNDP,
  NDP_HOP_LIMIT,
  NDP_NEIGHBOR_ADVERT,
  NDP_NEIGHBOR_SOLICIT,
  neighborAdvert,
  neighborSolicit,
  solicitedNode,
} from "./ndp.ts";
import { NeighborCache } from "./neighbor.ts";
import type { InterfaceAddress } from "./nic.ts";

export const ETH_HEADER_SIZE = 14;
const ARPHRD_ETHER = 1;
const IPPROTO_ICMPV6 = 58;
const BROADCAST = new Uint8Array(6).fill(0xff);

/** What an Ethernet link sends its frames through and receives them from. */
export interface FrameDevice {
  /** Largest network packet (the frame's payload) the device carries. */
  readonly mtu: number;
  readonly mac: Uint8Array;
  /** Bytes the device needs in front of each frame that write() is given (its own header). */
  readonly headroom: number;
  /** Whether write() takes an Offload (the host finishes checksums and cuts segments). */
  readonly offloads: boolean;
  /** Starts handing arriving frames to onFrame; each frame is the callee's to keep. */
  start(onFrame: (frame: Uint8Array) => void): void;
  /**
   * Sends one whole frame, which starts `headroom` bytes into `buf` (lost when the device
   * cannot take it, as on a wire), with what the host is to finish of it.
   */
  write(buf: Uint8Array<ArrayBuffer>, offload?: Offload): void;
  /** Stops receiving and releases the device. */
  close(): void;
}

/** Counters of frames dropped on arrival, by reason (for the debug log and tests). */
export interface EthernetDrops {
  short: number;
  otherStation: number;
  badARP: number;
  badNDP: number;
  unknownType: number;
}

export class EthernetEndpoint implements LinkEndpoint {
  readonly checksumOffload = false;
  readonly arpType = ARPHRD_ETHER;
  readonly neighbors: NeighborCache;
  readonly drops: EthernetDrops = {
    short: 0,
    otherStation: 0,
    badARP: 0,
    badNDP: 0,
    unknownType: 0,
  };
  /** The interface's addresses; set by whoever adds this link to a stack. */
  addresses: () => readonly InterfaceAddress[] = () => [];
  #dispatch: NetworkDispatcher | null = null;

  constructor(readonly device: FrameDevice) {
    this.neighbors = new NeighborCache({
      solicit: (a) => this.#solicit(a),
      transmit: (mac, type, pkt, offload) => this.#transmit(mac, type, pkt, offload),
    });
  }

  get mtu(): number {
    return this.device.mtu;
  }

  /** An IPv4 packet's largest total length: what the host cuts into frames of the MTU. */
  get offloadMaxSize(): number {
    return this.device.offloads ? 0xffff : 0;
  }

  get hardwareAddress(): Uint8Array {
    return this.device.mac;
  }

  attach(dispatch: NetworkDispatcher): void {
    this.#dispatch = dispatch;
    this.device.start((f) => this.#receive(f));
  }

  writePacket(ethType: number, packet: Uint8Array, nextHop?: IPAddress, offload?: Offload): void {
    const to = nextHop ?? destinationOf(ethType, packet);
    if (!to) return;
    const group = this.#groupMAC(to);
    if (group) this.#transmit(group, ethType, packet, offload);
    else this.neighbors.send(to, ethType, packet, offload);
  }

  /** Stops the device and the neighbour cache's timers. */
  close(): void {
    this.neighbors.close();
    this.device.close();
  }

  /** The hardware address of a broadcast or multicast destination; null for unicast. */
  #groupMAC(a: IPAddress): Uint8Array | null {
    if (isV4(a)) {
      if (a[12] >= 224 && a[12] < 240) return Uint8Array.of(1, 0, 0x5e, a[13] & 0x7f, a[14], a[15]);
      if (a[12] === 255 && a[13] === 255 && a[14] === 255 && a[15] === 255) return BROADCAST;
      for (const ia of this.addresses()) {
        if (!isV4(ia.addr) || ia.prefixLen >= 127 || !inPrefix(a, ia.addr, ia.prefixLen)) continue;
        let hostBitsSet = true;
        for (let bit = ia.prefixLen; bit < 128; bit++) {
          if (!(a[bit >> 3] & (0x80 >> (bit & 7)))) hostBitsSet = false;
        }
        if (hostBitsSet) return BROADCAST;
      }
      return null;
    }
    return isMulticast(a) ? Uint8Array.of(0x33, 0x33, a[12], a[13], a[14], a[15]) : null;
  }

  #transmit(mac: Uint8Array, ethType: number, packet: Uint8Array, offload?: Offload): void {
    const room = this.device.headroom;
    const buf = new Uint8Array(room + ETH_HEADER_SIZE + packet.length);
    const f = buf.subarray(room);
    f.set(mac.subarray(0, 6), 0);
    f.set(this.device.mac.subarray(0, 6), 6);
    f[12] = ethType >> 8;
    f[13] = ethType & 0xff;
    f.set(packet, ETH_HEADER_SIZE);
    this.device.write(buf, offload);
  }

  /** Our address of a's family to speak from: one on a's prefix, else the first. */
  #sourceFor(a: IPAddress): IPAddress | null {
    const v4 = isV4(a);
    const mine = this.addresses().filter((x) => isV4(x.addr) === v4);
    return (mine.find((x) => inPrefix(a, x.addr, x.prefixLen)) ?? mine[0])?.addr ?? null;
  }

  #isMine(a: IPAddress): boolean {
    return this.addresses().some((x) => equal(x.addr, a));
  }

  #solicit(a: IPAddress): void {
    const src = this.#sourceFor(a);
    if (!src) return;
    if (isV4(a)) {
      this.#transmit(BROADCAST, ETH_P_ARP, arpRequest(this.device.mac, src, a));
      return;
    }
    const group = solicitedNode(a);
    const msg = neighborSolicit(src, a, this.device.mac);
    this.#transmit(
      this.#groupMAC(group)!,
      ETH_P_IPV6,
      encodeIPv6(src, group, IPPROTO_ICMPV6, msg, NDP_HOP_LIMIT, 0),
    );
  }

  #receive(f: Uint8Array): void {
    if (f.length < ETH_HEADER_SIZE) {
      this.drops.short++;
      return;
    }
    // Ours, broadcast or multicast (the group bit); anything else is for another station.
    if (!(f[0] & 1) && !equal6(f, this.device.mac)) {
      this.drops.otherStation++;
      return;
    }
    const type = (f[12] << 8) | f[13];
    const payload = f.subarray(ETH_HEADER_SIZE);
    switch (type) {
      case ETH_P_ARP:
        this.#receiveARP(payload);
        return;
      case ETH_P_IP:
        this.#dispatch?.(ETH_P_IP, payload);
        return;
      case ETH_P_IPV6: {
        const pkt = decodeIPv6(payload);
        if (pkt && !pkt.fragment && isNDP(pkt)) this.#receiveNDP(pkt);
        else this.#dispatch?.(ETH_P_IPV6, payload);
        return;
      }
      default:
        this.drops.unknownType++;
    }
  }

  #receiveARP(b: Uint8Array): void {
    const p = decodeARP(b);
    if (!p || !isUnicastHost(p.senderIP) || !unicastMAC(p.senderMAC) || this.#isMine(p.senderIP)) {
      this.drops.badARP++;
      return;
    }
    const forUs = this.#isMine(p.targetIP);
    if (isRequest(p)) {
      this.neighbors.learn(p.senderIP, p.senderMAC, forUs);
      if (forUs) this.#transmit(p.senderMAC, ETH_P_ARP, arpReply(p, this.device.mac));
      return;
    }
    this.neighbors.learn(p.senderIP, p.senderMAC, this.neighbors.resolving(p.senderIP));
  }

  #receiveNDP(pkt: NetworkPacket): void {
    const m = decodeNDP(pkt);
    if (!m || (m.lladdr && !unicastMAC(m.lladdr))) {
      this.drops.badNDP++;
      return;
    }
    if (m.type === NDP_NEIGHBOR_SOLICIT) {
      // A solicitation from :: is duplicate address detection, which is not answered here.
      if (!this.#isMine(m.target) || isAny(pkt.src) || isMulticast(pkt.src) || !m.lladdr) return;
      this.neighbors.learn(pkt.src, m.lladdr, true);
      const msg = neighborAdvert(m.target, pkt.src, m.target, this.device.mac);
      this.#transmit(
        m.lladdr,
        ETH_P_IPV6,
        encodeIPv6(m.target, pkt.src, IPPROTO_ICMPV6, msg, NDP_HOP_LIMIT, 0),
      );
      return;
    }
    if (m.type === NDP_NEIGHBOR_ADVERT && m.lladdr) {
      this.neighbors.learn(m.target, m.lladdr, this.neighbors.resolving(m.target));
    }
  }
}

/** The destination address in an IP packet's header; null when it has none. */
function destinationOf(ethType: number, p: Uint8Array): IPAddress | null {
  if (ethType === ETH_P_IP && p.length >= 20) {
    const a = new Uint8Array(16);
    a[10] = a[11] = 0xff;
    a.set(p.subarray(16, 20), 12);
    return a;
  }
  if (ethType === ETH_P_IPV6 && p.length >= 40) return p.slice(24, 40);
  return null;
}

function equal6(f: Uint8Array, mac: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (f[i] !== mac[i]) return false;
  return true;
}

/** Neither a group address nor all zeroes. */
function unicastMAC(m: Uint8Array): boolean {
  return m.length >= 6 && !(m[0] & 1) && m.some((b) => b !== 0);
}
