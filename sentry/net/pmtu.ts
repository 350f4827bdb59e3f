/**
 * Path MTU discovery (RFC 1191, RFC 8201): the MTUs that ICMP "fragmentation needed" and
 * ICMPv6 "packet too big" messages report for destinations beyond a narrower hop, kept as
 * Linux keeps its route exceptions: lowered only, clamped to a floor, forgotten after ten
 * minutes so that a path that widens again is used whole.
 *
 * The reports come from the network and are hostile: a value below the floor is raised to it
 * (Linux's min_pmtu), and the cache is bounded.
 *
 * @module
 */

import { type IPAddress, isV4, key } from "./address.ts";

/** Linux's net.ipv4.route.min_pmtu; IPv6's minimum link MTU (RFC 8200). */
export const MIN_PMTU4 = 552;
export const MIN_PMTU6 = 1280;
/** Linux's net.ipv4.route.mtu_expires. */
const EXPIRES_MS = 600_000;
/** Destinations remembered at most; the oldest report gives way. */
const MAX_ENTRIES = 4096;

export class PathMtuCache {
  readonly #entries = new Map<string, { mtu: number; expires: number }>();

  /** The path MTU to dst over a link of linkMtu. */
  get(dst: IPAddress, linkMtu: number): number {
    if (this.#entries.size === 0) return linkMtu;
    const k = key(dst);
    const e = this.#entries.get(k);
    if (!e) return linkMtu;
    if (performance.now() >= e.expires) {
      this.#entries.delete(k);
      return linkMtu;
    }
    return Math.min(e.mtu, linkMtu);
  }

  /**
   * A hop toward dst reported mtu; true when the path's MTU was lowered (a report of 0, from a
   * router older than RFC 1191, or of no less than what is known changes nothing).
   */
  lower(dst: IPAddress, mtu: number, linkMtu: number): boolean {
    if (mtu <= 0) return false;
    const floor = isV4(dst) ? MIN_PMTU4 : MIN_PMTU6;
    const m = Math.max(mtu, floor);
    if (m >= this.get(dst, linkMtu)) return false;
    const k = key(dst);
    this.#entries.delete(k);
    if (this.#entries.size >= MAX_ENTRIES) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(k, { mtu: m, expires: performance.now() + EXPIRES_MS });
    return true;
  }
}
