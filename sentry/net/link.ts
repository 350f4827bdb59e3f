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

/**
 * A transport packet that crosses a link without being written out as bytes (loopback, where
 * nothing between the two ends reads them): the network header's fields, and the transport's
 * own parsed form of the rest, exactly what the receiver would have decoded.
 */
export interface LocalPacket {
  src: IPAddress;
  dst: IPAddress;
  protocol: number;
  tos: number;
  /** IPv6's flow label (0 for IPv4). */
  flow: number;
  /** What the packet would number in bytes (the interfaces' counters). */
  length: number;
  /** The transport's parsed packet (TCP: a Segment). */
  transport: unknown;
  /** The view its data lives in, held (buffer_pool.ts) by the link until delivered. */
  data: Uint8Array;
}

/** Hands a LocalPacket that arrived to the stack. */
export type LocalDispatcher = (packet: LocalPacket) => void;

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
  /** Starts delivering arriving packets to dispatch (and parsed ones to local). */
  attach(dispatch: NetworkDispatcher, local?: LocalDispatcher): void;
  /**
   * Sends one network packet; nextHop is the gateway a route names (absent: the packet's
   * destination), which a link with neighbours resolves. An offload only where the link has
   * an offloadMaxSize.
   */
  writePacket(ethType: number, packet: Uint8Array, nextHop?: IPAddress, offload?: Offload): void;
  /**
   * Whether the link takes packets in their parsed form (writeLocal): only one that delivers
   * to its own stack, and on which nothing sees the bytes (loopback).
   */
  readonly parsed?: boolean;
  /** Sends a packet in its parsed form, in order with those written as bytes. */
  writeLocal?(packet: LocalPacket): void;
}
