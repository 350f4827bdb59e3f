/**
 * The port manager: which (protocol, address, port) are taken, under SO_REUSEADDR and
 * SO_REUSEPORT, and ephemeral ports for bind(port 0) and connect.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { SysError } from "../../abi/linux/error.ts";
import { equal, type IPAddress, isAny, isV4 } from "./address.ts";

/** Linux's default net.ipv4.ip_local_port_range. */
export const EPHEMERAL_FIRST = 32768;
export const EPHEMERAL_LAST = 60999;

/** What a reservation's owner answers about itself when another wants the port. */
export interface PortOwner {
  reuseAddr: boolean;
  reusePort: boolean;
  /** A dual-stack :: binding that does not take IPv4 (IPV6_V6ONLY). */
  v6only: boolean;
  /** A TCP socket in LISTEN (SO_REUSEADDR does not share with it). */
  listening(): boolean;
  /** A TCP connection in TIME_WAIT (SO_REUSEADDR takes its port). */
  timeWait(): boolean;
}

interface Reservation {
  addr: IPAddress;
  owner: PortOwner;
}

/** Whether a binding of a and one of b can receive the same packets. */
function overlaps(a: IPAddress, ao: PortOwner, b: IPAddress, bo: PortOwner): boolean {
  const aAny = isAny(a), bAny = isAny(b);
  const aV4 = isV4(a), bV4 = isV4(b);
  if (aAny && bAny) {
    if (aV4 === bV4) return true;
    // 0.0.0.0 and ::: the same packets unless :: is IPv6-only.
    return aV4 ? !bo.v6only : !ao.v6only;
  }
  if (aAny) return aV4 ? bV4 : (bV4 ? !ao.v6only : true);
  if (bAny) return bV4 ? aV4 : (aV4 ? !bo.v6only : true);
  return equal(a, b);
}

function compatible(proto: number, old: PortOwner, now: PortOwner): boolean {
  if (old.reusePort && now.reusePort) return true;
  if (old.timeWait()) return now.reuseAddr;
  if (old.reuseAddr && now.reuseAddr) return proto !== TCP_PROTOCOL || !old.listening();
  return false;
}

const TCP_PROTOCOL = 6;

export class PortManager {
  readonly #taken = new Map<string, Reservation[]>();
  #cursor = EPHEMERAL_FIRST + Math.floor(Math.random() * (EPHEMERAL_LAST - EPHEMERAL_FIRST));

  #free(proto: number, addr: IPAddress, port: number, owner: PortOwner): boolean {
    const list = this.#taken.get(`${proto}/${port}`);
    if (!list) return true;
    return list.every((r) =>
      r.owner === owner || !overlaps(r.addr, r.owner, addr, owner) ||
      compatible(proto, r.owner, owner)
    );
  }

  /**
   * Takes addr:port for owner, or an ephemeral port when port is 0; returns the port.
   * EADDRINUSE when it is taken (EADDRNOTAVAIL... when no ephemeral port is left, as Linux).
   */
  reserve(proto: number, addr: IPAddress, port: number, owner: PortOwner): number {
    if (port === 0) {
      const span = EPHEMERAL_LAST - EPHEMERAL_FIRST + 1;
      for (let i = 0; i < span; i++) {
        const p = EPHEMERAL_FIRST + (this.#cursor - EPHEMERAL_FIRST + i) % span;
        if (this.#free(proto, addr, p, owner) && !this.#taken.has(`${proto}/${p}`)) {
          this.#cursor = p + 1;
          return this.#add(proto, addr, p, owner);
        }
      }
      throw new SysError(Errno.EADDRINUSE);
    }
    if (!this.#free(proto, addr, port, owner)) throw new SysError(Errno.EADDRINUSE);
    return this.#add(proto, addr, port, owner);
  }

  #add(proto: number, addr: IPAddress, port: number, owner: PortOwner): number {
    const k = `${proto}/${port}`;
    let list = this.#taken.get(k);
    if (!list) this.#taken.set(k, list = []);
    list.push({ addr, owner });
    return port;
  }

  /**
   * Records that owner uses a port its listener holds (an accepted connection): it keeps
   * the port from a new bind without SO_REUSEADDR once the listener is gone, as on Linux.
   */
  share(proto: number, addr: IPAddress, port: number, owner: PortOwner): void {
    this.#add(proto, addr, port, owner);
  }

  release(proto: number, port: number, owner: PortOwner): void {
    const k = `${proto}/${port}`;
    const list = this.#taken.get(k);
    if (!list) return;
    const i = list.findIndex((r) => r.owner === owner);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#taken.delete(k);
  }
}
