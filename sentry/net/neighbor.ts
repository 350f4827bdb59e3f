/**
 * The neighbour cache of one Ethernet interface: the hardware address of each next hop, as
 * ARP (IPv4) and NDP (IPv6) learn them. A packet for a next hop not yet resolved waits
 * here while solicitations go out; it is dropped when no answer comes.
 *
 * Every entry comes from frames a peer controls, so the cache is bounded (entries and packets
 * waiting per entry) and learns only what answers the stack's own solicitations or names one
 * of its addresses as the target.
 *
 * @module
 */

import { type IPAddress, key } from "./address.ts";
import type { Offload } from "./link.ts";
import { release, retain } from "./buffer_pool.ts";

/** Solicitations sent before a next hop counts as unreachable (Linux's ucast/mcast_solicit). */
const MAX_SOLICIT = 3;
/** Time between solicitations (Linux's retrans_time). */
const RETRANS_MS = 1000;
/** How long an answer is believed (Linux's base_reachable_time is 30 s, randomised). */
const REACHABLE_MS = 30_000;
/** The most entries kept (Linux's gc_thresh3 is 1024). */
const MAX_ENTRIES = 1024;
/** Packets kept per unresolved next hop (Linux's unres_qlen_bytes is about 100 KB). */
const MAX_PENDING = 64;
/**
 * Bytes kept waiting across every next hop: the application chooses the destinations, and
 * the Sentry's own memory is not charged to it.
 */
const MAX_PENDING_BYTES = 4 << 20;

interface Entry {
  addr: IPAddress;
  mac: Uint8Array | null;
  expires: number;
  pending: [number, Uint8Array, Offload | undefined][];
  attempts: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** What the cache asks of its link. */
export interface NeighborLink {
  /** Sends a solicitation (ARP request, neighbour solicitation) for addr. */
  solicit(addr: IPAddress): void;
  /** Sends a network packet to the given hardware address. */
  transmit(mac: Uint8Array, ethType: number, packet: Uint8Array, offload?: Offload): void;
}

export class NeighborCache {
  readonly #entries = new Map<string, Entry>();
  #pendingBytes = 0;

  constructor(readonly link: NeighborLink) {}

  /** Sends packet to next hop addr: at once when its address is known, else once resolved. */
  send(addr: IPAddress, ethType: number, packet: Uint8Array, offload?: Offload): void {
    const k = key(addr);
    let e = this.#entries.get(k);
    if (e?.mac && e.expires > Date.now()) {
      this.link.transmit(e.mac, ethType, packet, offload);
      return;
    }
    if (!e) {
      e = { addr: addr.slice(), mac: null, expires: 0, pending: [], attempts: 0, timer: undefined };
      this.#insert(k, e);
    }
    if (e.pending.length >= MAX_PENDING) {
      const [, old] = e.pending.shift()!;
      this.#pendingBytes -= old.length;
      release(old);
    }
    if (this.#pendingBytes + packet.length <= MAX_PENDING_BYTES) {
      // A packet built in a pooled buffer (a segment's data) stays held while it waits.
      retain(packet);
      e.pending.push([ethType, packet, offload]);
      this.#pendingBytes += packet.length;
    }
    if (e.timer === undefined) this.#solicit(e);
  }

  #insert(k: string, e: Entry): void {
    if (this.#entries.size >= MAX_ENTRIES) {
      // The oldest entry goes (Map keeps insertion order).
      const [oldKey, old] = this.#entries.entries().next().value!;
      if (old.timer !== undefined) clearTimeout(old.timer);
      this.#drop(old);
      this.#entries.delete(oldKey);
    }
    this.#entries.set(k, e);
  }

  #solicit(e: Entry): void {
    if (e.attempts >= MAX_SOLICIT) {
      // Unreachable: what waited is lost, and the next packet starts over.
      this.#drop(e);
      e.attempts = 0;
      e.timer = undefined;
      if (!e.mac) this.#entries.delete(key(e.addr));
      return;
    }
    e.attempts++;
    this.link.solicit(e.addr);
    e.timer = setTimeout(() => this.#solicit(e), RETRANS_MS);
  }

  /**
   * Records that addr is at mac. `create`: an entry is made when none exists (an answer to
   * the stack's solicitation, or a request naming one of its addresses); otherwise only an
   * existing entry is refreshed, so that unsolicited frames cannot fill the cache.
   */
  learn(addr: IPAddress, mac: Uint8Array, create: boolean): void {
    const k = key(addr);
    let e = this.#entries.get(k);
    if (!e) {
      if (!create) return;
      e = { addr: addr.slice(), mac: null, expires: 0, pending: [], attempts: 0, timer: undefined };
      this.#insert(k, e);
    }
    e.mac = mac.slice(0, 6);
    e.expires = Date.now() + REACHABLE_MS;
    if (e.timer !== undefined) clearTimeout(e.timer);
    e.timer = undefined;
    e.attempts = 0;
    // Sent, then dropped: the queue holds each packet's buffer until it is on its way.
    for (const [type, pkt, offload] of e.pending) this.link.transmit(e.mac, type, pkt, offload);
    this.#drop(e);
  }

  /** Forgets the packets waiting on e. */
  #drop(e: Entry): void {
    for (const [, pkt] of e.pending) {
      this.#pendingBytes -= pkt.length;
      release(pkt);
    }
    e.pending = [];
  }

  /** Whether a solicitation for addr is outstanding (its answer is expected). */
  resolving(addr: IPAddress): boolean {
    const e = this.#entries.get(key(addr));
    return e !== undefined && e.timer !== undefined;
  }

  /** Stops every retransmission timer. */
  close(): void {
    for (const e of this.#entries.values()) {
      if (e.timer !== undefined) clearTimeout(e.timer);
      this.#drop(e);
    }
    this.#entries.clear();
    this.#pendingBytes = 0;
  }
}
