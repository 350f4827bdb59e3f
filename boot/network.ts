/**
 * --network=sandbox, the host's side: `runsc boot` takes over the interfaces of the
 * container's network namespace (the one the spec names, as Docker or CNI set it up) before it
 * confines itself. For each Ethernet interface it reads the MAC, MTU, addresses and routes,
 * opens a packet socket bound to it, then removes the addresses from the host interface, so
 * that the host kernel no longer answers ARP, ICMP or TCP for them: from then on the Sentry's
 * stack alone does (sentry/net/sandbox_net.ts builds it from what is returned here).
 *
 * Only the thread that runs this enters the namespace (setns(2) moves one thread), and only
 * while it reads it and opens the packet sockets, before the Sentry's filter forbids making
 * any socket but Unix ones.
 *
 * @module
 */

import { AF_INET, type HostRoute, RouteNetlink } from "../host/rtnetlink.ts";
import { closeFd } from "../host/libc.ts";
import { openAt } from "../host/fsops.ts";
import { AT_FDCWD, O_CLOEXEC, O_RDONLY } from "../abi/linux/file.ts";
import type { WireInterface } from "./control.ts";
import { enterNetworkNamespace, openPacketSocket } from "../host/packet.ts";
import type { Logger } from "../log.ts";

const ARPHRD_ETHER = 1;
const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;

export type { TakenAddress, TakenInterface, TakenRoute } from "../sentry/net/sandbox_net.ts";
import type { TakenInterface, TakenRoute } from "../sentry/net/sandbox_net.ts";

/**
 * Takes over the Ethernet interfaces that are up in the network namespace `nsFd` refers to
 * (closed here), and returns them. Loopback stays the host's (the Sentry has its own). Only
 * this thread enters the namespace, and it goes back to its own afterwards: the packet sockets
 * stay bound to their interfaces wherever their holder is, so the Sentry (and the ptrace
 * stubs it spawns later) keep the empty namespace nsinit made. On failure nothing that was
 * opened stays open, but addresses already removed from an interface are not put back (the
 * sandbox does not start, and the namespace is the container's).
 */
export function takeOverInterfaces(nsFd: number, log: Logger): TakenInterface[] {
  const own = openNamespace("/proc/thread-self/ns/net");
  try {
    try {
      enterNetworkNamespace(nsFd);
    } finally {
      closeFd(nsFd);
    }
    try {
      return takeOverHere(log);
    } finally {
      enterNetworkNamespace(own);
    }
  } finally {
    closeFd(own);
  }
}

/**
 * takeOverInterfaces for the namespace at `nsPath`: `runsc create` does it for a sandbox
 * whose interfaces the prestart hooks (Docker's libnetwork-setkey) moved into its namespace
 * after it started, and hands the packet sockets to it (control request "network").
 */
export function takeOverInterfacesAt(nsPath: string, log: Logger): TakenInterface[] {
  return takeOverInterfaces(openNamespace(nsPath), log);
}

/**
 * Whether the network namespace `fd` refers to is the one this process (the runtime's caller)
 * or the host's first process uses: taking its interfaces over would take them, addresses and
 * all, away from the host. Namespaces are the same when their nsfs inodes are.
 */
export function isHostNetworkNamespace(fd: number): boolean {
  const ns = Deno.statSync(`/proc/self/fd/${fd}`);
  for (const own of ["/proc/self/ns/net", "/proc/1/ns/net"]) {
    try {
      const o = Deno.statSync(own);
      if (o.ino === ns.ino && o.dev === ns.dev) return true;
    } catch {
      // Pid 1 may be out of reach (another user namespace): this process's own is still checked.
    }
  }
  return false;
}

function openNamespace(path: string): number {
  return openAt(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
}

/** The interfaces as the control request carries them (their descriptors travel apart). */
export function toWire(t: readonly TakenInterface[]): WireInterface[] {
  return t.map((i) => ({
    name: i.name,
    mac: [...i.mac],
    mtu: i.mtu,
    addresses: i.addresses.map((a) => ({ address: [...a.address], prefixLen: a.prefixLen })),
    routes: i.routes.map((r) => ({
      dst: [...r.dst],
      dstLen: r.dstLen,
      gateway: r.gateway ? [...r.gateway] : null,
    })),
  }));
}

/**
 * The interfaces of a control request with their descriptors; throws on anything malformed
 * (the request comes from the CLI, but is checked as any request is).
 */
export function fromWire(w: unknown, fds: readonly number[]): TakenInterface[] {
  if (!Array.isArray(w) || w.length !== fds.length) throw new Error("network: bad interfaces");
  const bytes = (v: unknown, sizes: number[]): Uint8Array => {
    if (!Array.isArray(v) || !sizes.includes(v.length)) throw new Error("network: bad address");
    if (!v.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
      throw new Error("network: bad address");
    }
    return Uint8Array.from(v);
  };
  const int = (v: unknown, max: number): number => {
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > max) {
      throw new Error("network: bad number");
    }
    return v as number;
  };
  return w.map((i: WireInterface, k) => {
    if (typeof i?.name !== "string" || i.name.length > 15) throw new Error("network: bad name");
    if (!Array.isArray(i.addresses) || !Array.isArray(i.routes)) {
      throw new Error("network: bad interface");
    }
    return {
      name: i.name,
      mac: bytes(i.mac, [6]),
      mtu: int(i.mtu, 65535),
      fd: fds[k],
      addresses: i.addresses.map((a) => {
        const address = bytes(a?.address, [4, 16]);
        return { address, prefixLen: int(a.prefixLen, address.length * 8) };
      }),
      routes: i.routes.map((r) => {
        const dst = bytes(r?.dst, [4, 16]);
        return {
          dst,
          dstLen: int(r.dstLen, dst.length * 8),
          gateway: r.gateway === null ? null : bytes(r.gateway, [dst.length]),
        };
      }),
    };
  });
}

/**
 * --network=host: the host's interfaces other than loopback as they are at start-up, without
 * packet sockets (fd -1), so that netlink, SIOCGIF* and /proc/net in the sandbox show what
 * the application's host sockets use, as gVisor's hostinet shows its snapshot.
 */
export function hostInterfaces(): TakenInterface[] {
  using nl = new RouteNetlink();
  const addresses = nl.addresses();
  const routes = nl.routes();
  return nl.links().filter((l) => !(l.flags & IFF_LOOPBACK) && l.mac.length === 6).map((l) => ({
    name: l.name,
    mac: l.mac,
    mtu: l.mtu,
    fd: -1,
    flags: l.flags,
    addresses: addresses.filter((a) => a.index === l.index).map((a) => ({
      address: a.address,
      prefixLen: a.prefixLen,
    })),
    routes: routes.filter((r) => r.index === l.index).map(takenRoute),
  }));
}

/** Takes over the Ethernet interfaces of this thread's network namespace. */
function takeOverHere(log: Logger): TakenInterface[] {
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
