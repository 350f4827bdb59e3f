/**
 * Link endpoints: what a NIC sends its packets through and receives them from: loopback,
 * and Ethernet (ethernet.ts) over a packet socket on a host interface (--network=sandbox).
 *
 * @module
 */

import type { IPAddress } from "./address.ts";

/** Network protocol numbers of the frames a link carries (Ethernet types). */
export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;

/**
 * What a link that offloads (a packet socket with virtio_net_hdr) is asked to finish for a
 * packet: the transport checksum, whose field holds the pseudo-header's sum, and, with a
 * segment size, the cutting of a TCP packet into segments of that much data each (GSO).
 */
export interface Offload {
  /** Where the transport header starts in the network packet. */
  transportStart: number;
  /** The checksum field's offset in the transport header. */
  checksumOffset: number;
  /** The network and transport headers' length (what each segment repeats). */
  headerLength: number;
  /** Data bytes per segment (TCP's MSS); 0: the packet goes whole. */
  segmentSize: number;
  v6: boolean;
}

/** Hands arriving packets to the stack. */
export type NetworkDispatcher = (ethType: number, packet: Uint8Array) => void;

export interface LinkEndpoint {
  /** Largest network packet the link carries. */
  readonly mtu: number;
  /** Whether the peer on this link checks the transport checksums for us (loopback). */
  readonly checksumOffload: boolean;
  /** The link's ARPHRD_* type, for netlink and SIOCGIFHWADDR. */
  readonly arpType: number;
  readonly hardwareAddress: Uint8Array;
  /**
   * The largest packet the link takes with an Offload (cut into MTU-sized ones on its way
   * out); absent or 0: the link offloads nothing.
   */
  readonly offloadMaxSize?: number;
  /** Starts delivering arriving packets to dispatch. */
  attach(dispatch: NetworkDispatcher): void;
  /**
   * Sends one network packet; nextHop is the gateway a route names (absent: the packet's
   * destination), which a link with neighbours resolves. An offload only where the link has
   * an offloadMaxSize.
   */
  writePacket(ethType: number, packet: Uint8Array, nextHop?: IPAddress, offload?: Offload): void;
}
