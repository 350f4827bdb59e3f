/**
 * --network=sandbox, the Sentry's side: the interfaces boot/network.ts took over from the
 * container's network namespace become NICs of the stack, each an Ethernet link over its
 * packet socket, with the addresses and routes the host interface had.
 *
 * @module
 */

import type { Logger } from "../../log.ts";
import { type IPAddress, v4Mapped } from "./address.ts";
import { EthernetEndpoint, type FrameDevice } from "./ethernet.ts";
import { PacketSocketDevice } from "./fdbased.ts";
import { IFF_LOWER_UP, IFF_RUNNING, IFF_UP } from "./nic.ts";
import type { Stack } from "./stack.ts";

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
  /** The packet socket (host/packet.ts), owned by the Sentry from here on; -1: none. */
  fd: number;
  /** The interface's IFF_* flags when shown as the host has them (--network=host). */
  flags?: number;
  addresses: TakenAddress[];
  routes: TakenRoute[];
}

const IFF_BROADCAST = 0x2;
const IFF_MULTICAST = 0x1000;

/** The stack's 16-byte form of a 4- or 16-byte address, and its prefix length there. */
function inStack(a: Uint8Array, prefixLen: number): [IPAddress, number] {
  return a.length === 4 ? [v4Mapped(a), prefixLen + 96] : [a.slice(0, 16), prefixLen];
}

/**
 * --network=host: an interface of the host that the stack only shows (the application's
 * sockets are host sockets): nothing is received and what would be sent is dropped.
 */
class NoDevice implements FrameDevice {
  readonly mtu: number;
  readonly mac: Uint8Array;
  readonly headroom = 0;
  readonly offloads = false;
  constructor(t: TakenInterface) {
    this.mtu = t.mtu;
    this.mac = t.mac;
  }
  start(): void {}
  write(): void {}
  close(): void {}
}

/** Adds each taken-over interface to `stack`; returns their links (close() releases them). */
export function attachInterfaces(
  stack: Stack,
  taken: readonly TakenInterface[],
  log: Logger,
): EthernetEndpoint[] {
  return taken.map((t) => {
    const device = t.fd >= 0 ? new PacketSocketDevice(t.fd, t.mtu, t.mac, log) : new NoDevice(t);
    const link = new EthernetEndpoint(device);
    const nic = stack.addNIC(
      t.name,
      link,
      t.flags ?? IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST | IFF_LOWER_UP,
    );
    link.addresses = () => nic.addresses;
    for (const a of t.addresses) {
      const [addr, prefixLen] = inStack(a.address, a.prefixLen);
      nic.addresses.push({ addr, prefixLen });
    }
    for (const r of t.routes) {
      const [dest, prefixLen] = inStack(r.dst, r.dstLen);
      const gateway = r.gateway ? inStack(r.gateway, 0)[0] : null;
      stack.routes.add({ dest, prefixLen, nic, gateway });
    }
    return link;
  });
}
