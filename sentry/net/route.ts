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
    for (const e of this.entries) {
      if (!inPrefix(dst, e.dest, e.prefixLen)) continue;
      if (src) return { nic: e.nic, src, dst };
      const v4 = isV4(dst);
      const a = e.nic.addresses.find((x) => isV4(x.addr) === v4);
      if (!a) continue;
      return { nic: e.nic, src: a.addr, dst };
    }
    throw new SysError(Errno.ENETUNREACH);
  }
}
