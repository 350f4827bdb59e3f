/**
 * The loopback link: every packet written comes back in as an arriving packet. Delivery is
 * deferred to a microtask, as Linux defers it to the receive softirq: a TCP segment sent
 * from a system call never runs the receiver's handling (and its replies) inside the sender's
 * stack frames, so no chain of segments can nest or recurse.
 *
 * @module
 */

import type { LinkEndpoint, LocalDispatcher, LocalPacket, NetworkDispatcher } from "./link.ts";
import { release, retain } from "./buffer_pool.ts";

const ARPHRD_LOOPBACK = 772;
/** Linux's loopback MTU. */
export const LOOPBACK_MTU = 65536;
const DRAIN_BATCH = 4096;

/**
 * The largest TCP packet loopback carries: several segments' worth (a socket's 256 KiB piece
 * fits), delivered whole, as Linux's BIG TCP does (written as bytes, past 16 bits, its IP
 * length field says 0). A 64 KiB write is then one packet where the 64 KiB MTU cut it into two (the second of 53
 * bytes), each with its ACK: on this stack a packet costs microseconds, in Linux's far less.
 */
export const LOOPBACK_GSO_MAX_SIZE = 512 << 10;

export class LoopbackEndpoint implements LinkEndpoint {
  readonly mtu = LOOPBACK_MTU;
  readonly checksumOffload = true;
  /** Nothing is cut: the packet reaches the receiving endpoint as it was sent. */
  readonly offloadMaxSize = LOOPBACK_GSO_MAX_SIZE;
  readonly arpType = ARPHRD_LOOPBACK;
  readonly hardwareAddress = new Uint8Array(6);
  /** Segments go parsed (writeLocal); false: written out as bytes (tests compare the two). */
  parsed = true;
  #dispatch: NetworkDispatcher | null = null;
  #local: LocalDispatcher | null = null;
  /** Packets written as bytes ([type, bytes]) and parsed ones, in the order sent. */
  #pending: ([number, Uint8Array] | LocalPacket)[] = [];
  #scheduled = false;
  /** Counters for /proc/net/dev. */
  packets = 0;
  bytes = 0;

  attach(dispatch: NetworkDispatcher, local?: LocalDispatcher): void {
    this.#dispatch = dispatch;
    this.#local = local ?? null;
  }

  writePacket(ethType: number, packet: Uint8Array): void {
    this.packets++;
    this.bytes += packet.length;
    // A packet in a pooled buffer is held until delivered (the receiver then holds its data).
    retain(packet);
    this.#queue([ethType, packet]);
  }

  /**
   * Nobody sees loopback's bytes (the sandbox has no packet or raw IP sockets), so a segment
   * need not be written out and parsed again: it is handed over as its sender built it.
   */
  writeLocal(packet: LocalPacket): void {
    this.packets++;
    this.bytes += packet.length;
    retain(packet.data);
    this.#queue(packet);
  }

  #queue(p: [number, Uint8Array] | LocalPacket): void {
    this.#pending.push(p);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.#drain());
    }
  }

  #drain(): void {
    // Packets written while draining (replies) are delivered in this same pass, in order,
    // but a pass is bounded so that no exchange of segments can hold the event loop: the
    // rest waits for a macrotask, after the tasks and timers that are due.
    let i = 0;
    for (; i < this.#pending.length && i < DRAIN_BATCH; i++) {
      const p = this.#pending[i];
      if (Array.isArray(p)) {
        try {
          this.#dispatch?.(p[0], p[1]);
        } finally {
          release(p[1]);
        }
      } else {
        try {
          this.#local?.(p);
        } finally {
          release(p.data);
        }
      }
    }
    this.#pending = this.#pending.slice(i);
    if (this.#pending.length > 0) {
      setTimeout(() => this.#drain(), 0);
    } else {
      this.#scheduled = false;
    }
  }
}
