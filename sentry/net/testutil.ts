/**
 * Helpers of the stack's unit tests: a turn of the event loop, a non-blocking call, a
 * connected pair of TCP endpoints over one stack's loopback, and a watch on its segments.
 *
 * @module
 */

import assert from "node:assert/strict";
import { SysError } from "../../abi/linux/error.ts";
import { Errno } from "../../abi/linux/errno.ts";
import { LOOPBACK4 } from "./address.ts";
import type { NetStack } from "./socket.ts";
import type { TCPEndpoint } from "./tcp_endpoint.ts";
import { ETH_P_IP, type LocalPacket } from "./link.ts";
import { decodeIPv4 } from "./ipv4.ts";
import { decodeIPv6 } from "./ipv6.ts";
import { IPPROTO_TCP } from "./stack.ts";
import { decodeTCP, type Segment } from "./tcp_header.ts";

/** Lets the links deliver what is queued (microtasks and a macrotask turn). */
export function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

/** f's result, or null where it would block (EAGAIN). */
export function tryOp<T>(f: () => T): T | null {
  try {
    return f();
  } catch (e) {
    if (e instanceof SysError && e.errno === Errno.EAGAIN) return null;
    throw e;
  }
}

/** A listener on 127.0.0.1 and a connection to it: [listener, client, accepted]. */
export async function connectedPair(
  ns: NetStack,
): Promise<[TCPEndpoint, TCPEndpoint, TCPEndpoint]> {
  const l = ns.tcp.newEndpoint(true);
  l.bind(LOOPBACK4, 0);
  l.listen(8);
  const c = ns.tcp.newEndpoint(true);
  assert.throws(() => c.connect(LOOPBACK4, l.localPort), /EINPROGRESS|115/);
  await settle();
  const s = l.acceptQueue.shift();
  assert.ok(s, "a connection is waiting for accept");
  assert.ok(c.connected);
  return [l, c, s];
}

/**
 * Calls watch with each TCP segment the stack's loopback carries, and the packet's length, in
 * either of its forms: bytes (decoded here) or parsed (link.ts writeLocal).
 */
export function watchLoopback(
  ns: NetStack,
  watch: (s: Segment, length: number) => void,
): void {
  const lo = ns.stack.nics[0].link;
  const write = lo.writePacket.bind(lo);
  lo.writePacket = (type, pkt, ...rest) => {
    const ip = type === ETH_P_IP ? decodeIPv4(pkt, false, true) : decodeIPv6(pkt, true);
    if (ip?.protocol === IPPROTO_TCP) {
      watch(decodeTCP(ip.src, ip.dst, ip.payload, false)!, pkt.length);
    }
    write(type, pkt, ...rest);
  };
  const writeLocal = lo.writeLocal!.bind(lo);
  lo.writeLocal = (p: LocalPacket) => {
    if (p.protocol === IPPROTO_TCP) watch(p.transport as Segment, p.length);
    writeLocal(p);
  };
}
