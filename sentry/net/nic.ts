/**
 * Network interfaces: a link endpoint with a name, an index, flags and its addresses, as
 * netlink, SIOCGIF* and /proc/net/dev show them.
 *
 * @module
 */

import type { IPAddress } from "./address.ts";
import type { LinkEndpoint } from "./link.ts";

export const IFF_UP = 0x1;
export const IFF_LOOPBACK = 0x8;
export const IFF_RUNNING = 0x40;
export const IFF_LOWER_UP = 0x10000;

/** An address assigned to an interface, with its prefix length. */
export interface InterfaceAddress {
  addr: IPAddress;
  prefixLen: number;
}

export class NIC {
  readonly addresses: InterfaceAddress[] = [];
  constructor(
    readonly index: number,
    readonly name: string,
    readonly link: LinkEndpoint,
    public flags: number,
  ) {}

  /** Packets and bytes in and out, for /proc/net/dev. */
  readonly stats = { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, rxDropped: 0 };
}
