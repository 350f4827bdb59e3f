/**
 * --network=sandbox, the host's side: `runsc boot` takes over the interfaces of the
 * container's network namespace (the one the spec names, as Docker or CNI set it up) before it
 * confines itself. For each Ethernet interface it reads the MAC, MTU, addresses and routes,
 * opens a packet socket bound to it, then removes the addresses from the host interface, so
 * that the host kernel no longer answers ARP, ICMP or TCP for them: from then on the Sentry's
 * stack alone does (sentry/net/sandbox_net.ts builds it from what is returned here).
 *
 * Only the thread that runs this joins the namespace (setns(2) moves one thread); every
 * socket it needs is made here, before the Sentry's filter forbids making any but Unix ones.
 *
 * @module
 */

import { AF_INET, type HostRoute, RouteNetlink } from "../host/rtnetlink.ts";
import { closeFd } from "../host/libc.ts";
import { enterNetworkNamespace, openPacketSocket } from "../host/packet.ts";
import type { Logger } from "../log.ts";

const ARPHRD_ETHER = 1;
const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;

/** An address as the Sentry's stack takes it: 4 or 16 bytes and a prefix length. */
export interface TakenAddress {
  address: Uint8Array;
  prefixLen: number;
}

/** A route through a taken-over interface. */
export interface TakenRoute {
  /** 4 or 16 bytes. */
  dst: Uint8Array;
  dstLen: number;
  gateway: Uint8Array | null;
}

/** One interface the Sentry's stack now owns, with the packet socket that reaches it. */
export interface TakenInterface {
  name: string;
  mac: Uint8Array;
  mtu: number;
  /** The packet socket (host/packet.ts), owned by the Sentry from here on. */
  fd: number;
  addresses: TakenAddress[];
  routes: TakenRoute[];
}

/**
 * Joins the network namespace `nsFd` refers to (this thread only), takes over its Ethernet
 * interfaces that are up, and returns them. Loopback stays the host's (the Sentry has its
 * own). On failure nothing that was opened stays open, but addresses already removed from an
 * interface are not put back (the sandbox does not start, and the namespace is the
 * container's).
 */
export function takeOverInterfaces(nsFd: number, log: Logger): TakenInterface[] {
  enterNetworkNamespace(nsFd);
  closeFd(nsFd);
  using nl = new RouteNetlink();
  const links = nl.links();
  const addresses = nl.addresses();
  // Read before any address goes: the kernel drops the routes of an interface with none left.
  const routes = nl.routes();
  const taken: TakenInterface[] = [];
  try {
    for (const l of links) {
      if (l.type !== ARPHRD_ETHER || (l.flags & IFF_LOOPBACK) || !(l.flags & IFF_UP)) continue;
      if (l.mac.length !== 6) continue;
      const mine = addresses.filter((a) => a.index === l.index);
      const fd = openPacketSocket(l.index);
      taken.push({
        name: l.name,
        mac: l.mac,
        mtu: l.mtu,
        fd,
        addresses: mine.map((a) => ({ address: a.address, prefixLen: a.prefixLen })),
        routes: routes.filter((r) => r.index === l.index).map(takenRoute),
      });
      for (const a of mine) nl.deleteAddress(a);
      log.debug("network: interface taken over", {
        name: l.name,
        mtu: l.mtu,
        addresses: mine.length,
        routes: taken.at(-1)!.routes.length,
      });
    }
  } catch (e) {
    for (const t of taken) closeFd(t.fd);
    throw e;
  }
  return taken;
}

function takenRoute(r: HostRoute): TakenRoute {
  const size = r.family === AF_INET ? 4 : 16;
  const dst = new Uint8Array(size);
  dst.set(r.dst.subarray(0, size));
  const gw = r.gateway && r.gateway.length === size ? r.gateway : null;
  return { dst, dstLen: r.dstLen, gateway: gw };
}
