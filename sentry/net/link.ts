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
  /** Starts delivering arriving packets to dispatch. */
  attach(dispatch: NetworkDispatcher): void;
  /**
   * Sends one network packet; nextHop is the gateway a route names (absent: the packet's
   * destination), which a link with neighbours resolves.
   */
  writePacket(ethType: number, packet: Uint8Array, nextHop?: IPAddress): void;
}
