/**
 * The route table: which interface reaches a destination, and the source address a socket
 * that is not bound to one uses there. Longest prefix first.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { SysError } from "../../abi/linux/error.ts";
import { inPrefix, type IPAddress, isV4 } from "./address.ts";
import type { NIC } from "./nic.ts";

export interface RouteEntry {
  /** Destination prefix (16-byte form; IPv4 prefixes are v4-mapped, their length + 96). */
  dest: IPAddress;
  prefixLen: number;
  nic: NIC;
  /** Next hop; null for a directly reached destination. */
  gateway: IPAddress | null;
}

/** Where one packet goes. */
export interface Route {
  nic: NIC;
  src: IPAddress;
  dst: IPAddress;
  /** The next hop when it is not dst itself. */
  gateway: IPAddress | null;
}

export class RouteTable {
  readonly entries: RouteEntry[] = [];

  add(e: RouteEntry): void {
    this.entries.push(e);
    this.entries.sort((a, b) => b.prefixLen - a.prefixLen);
  }

  /**
   * The route to dst; src is the socket's bound address, or null to pick the interface's.
   * ENETUNREACH when no entry covers dst.
   */
  find(dst: IPAddress, src: IPAddress | null): Route {
    const v4 = isV4(dst);
    for (const e of this.entries) {
      // An IPv6 default route (::/0) covers the v4-mapped form too; it must not carry IPv4.
      if (isV4(e.dest) !== v4 || !inPrefix(dst, e.dest, e.prefixLen)) continue;
      if (src) return { nic: e.nic, src, dst, gateway: e.gateway };
      const a = e.nic.addresses.find((x) => isV4(x.addr) === v4);
      if (!a) continue;
      return { nic: e.nic, src: a.addr, dst, gateway: e.gateway };
    }
    throw new SysError(Errno.ENETUNREACH);
  }
}
