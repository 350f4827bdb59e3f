/**
 * A frame device over a host packet socket (--network=sandbox): what the Ethernet link of an
 * interface taken over from the container's network namespace reads and writes. Reading never
 * blocks the JavaScript thread: a runtime thread waits for the socket with poll(2)
 * (host/packet.ts waitReadable), then the frames waiting are read without blocking, a batch at
 * a time, and handed to the link.
 *
 * Frames are hostile input: a frame too long for the buffer is dropped, not cut, the
 * virtio_net_hdr's checksum offsets are checked against the frame before use, and a failure while handling one frame is logged and counted, never
 * allowed past the loop.
 *
 * @module
 */

import { closeFd } from "../../host/libc.ts";
import {
  PacketAddress,
  recvFrame,
  sendFrame,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VNET_HDR_SIZE,
  waitReadable,
} from "../../host/packet.ts";
import type { Logger } from "../../log.ts";
import { finish, sumBytes } from "./checksum.ts";
import { ETH_HEADER_SIZE, type FrameDevice } from "./ethernet.ts";
import type { Offload } from "./link.ts";

/**
 * The largest frame: an offloaded segment may be 64 KiB with its headers (veth's
 * gso_max_size), IPv6's payload alone up to 65535 bytes after its 40-byte header.
 */
const MAX_FRAME = ETH_HEADER_SIZE + 4 + 40 + 65535;
/** Frames handled before the event loop gets a turn. */
const BATCH = 64;
/** How long one wait lasts, so that a closed device's loop ends. */
const WAIT_MS = 500;

/** virtio_net_hdr.gso_type values. */
const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
const VIRTIO_NET_HDR_GSO_TCPV6 = 4;

export class PacketSocketDevice implements FrameDevice {
  readonly headroom = VNET_HDR_SIZE;
  /** The socket carries a virtio_net_hdr both ways: the host finishes what it names. */
  readonly offloads = true;
  readonly #buf = new Uint8Array(VNET_HDR_SIZE + MAX_FRAME);
  readonly #from = new PacketAddress();
  #closed = false;
  /** Frames read, dropped (bad offload header), and failures while handling one. */
  readonly stats = { frames: 0, dropped: 0, errors: 0, sendDropped: 0 };

  constructor(
    readonly fd: number,
    readonly mtu: number,
    readonly mac: Uint8Array,
    readonly log: Logger,
  ) {}

  start(onFrame: (frame: Uint8Array) => void): void {
    this.#loop(onFrame).catch((e) => this.log.warning(`packet socket fd ${this.fd}: ${e}`));
  }

  async #loop(onFrame: (frame: Uint8Array) => void): Promise<void> {
    try {
      while (!this.#closed) {
        let failed = false;
        for (let i = 0; i < BATCH && !this.#closed; i++) {
          let n: number;
          try {
            n = recvFrame(this.fd, this.#buf, this.#from);
          } catch (e) {
            // The interface went down (ENETDOWN) or away: tried again after the next wait,
            // as a NIC whose link comes back.
            this.#note(`packet socket fd ${this.fd}: ${(e as Error).message}`);
            failed = true;
            break;
          }
          if (n < 0) break;
          if (n === 0) continue;
          this.stats.frames++;
          if (n > this.#buf.length) {
            // Larger than any frame the interface's offloads make (a peer's BIG TCP, or a
            // hostile sender): only its start was read, and its headers would claim the rest.
            this.stats.dropped++;
            continue;
          }
          const frame = withChecksum(this.#buf.subarray(0, n));
          if (!frame) {
            this.stats.dropped++;
            continue;
          }
          try {
            onFrame(frame);
          } catch (e) {
            // A bug of ours that a frame reached: logged, never thrown past here.
            this.#note(`frame of ${frame.length} bytes dropped: ${(e as Error).stack ?? e}`);
          }
        }
        if (failed) await new Promise((r) => setTimeout(r, WAIT_MS));
        else if (!this.#closed) await waitReadable(this.fd, WAIT_MS);
      }
    } finally {
      closeFd(this.fd);
    }
  }

  /**
   * Counts an error and logs it the 1st, 2nd, 4th, 8th... time, so that a peer repeating
   * what causes it cannot flood the log.
   */
  #note(what: string): void {
    const n = ++this.stats.errors;
    if ((n & (n - 1)) === 0) this.log.warning(`${what} (${n} errors so far)`);
  }

  write(buf: Uint8Array<ArrayBuffer>, offload?: Offload): void {
    if (this.#closed) return;
    if (offload) {
      // The header before the frame (little-endian, as the host reads it): the checksum from
      // csum_start, and for a TCP packet longer than one segment the cut into segments.
      const h = new DataView(buf.buffer, buf.byteOffset, VNET_HDR_SIZE);
      h.setUint8(0, VIRTIO_NET_HDR_F_NEEDS_CSUM);
      const gso = offload.segmentSize > 0;
      h.setUint8(1, !gso ? 0 : offload.v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4);
      h.setUint16(2, ETH_HEADER_SIZE + offload.headerLength, true);
      h.setUint16(4, offload.segmentSize, true);
      h.setUint16(6, ETH_HEADER_SIZE + offload.transportStart, true);
      h.setUint16(8, offload.checksumOffset, true);
    }
    if (!sendFrame(this.fd, buf)) this.stats.sendDropped++;
  }

  close(): void {
    this.#closed = true;
  }
}

/**
 * The frame after its virtio_net_hdr (a copy the link may keep), with the transport checksum
 * completed when the header asks for it; null when the header is short or its offsets fall
 * outside the frame.
 */
export function withChecksum(b: Uint8Array): Uint8Array | null {
  if (b.length < VNET_HDR_SIZE) return null;
  const frame = b.slice(VNET_HDR_SIZE);
  if (b[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
    const start = b[6] | (b[7] << 8), off = b[8] | (b[9] << 8);
    if (start < ETH_HEADER_SIZE || start + off + 2 > frame.length) return null;
    // The field holds the pseudo-header's sum; the sum from csum_start covers it too.
    // A UDP checksum of 0 means "none": its ones'-complement twin 0xffff stands for it.
    const c = finish(sumBytes(frame.subarray(start))) || 0xffff;
    frame[start + off] = c >> 8;
    frame[start + off + 1] = c & 0xff;
  }
  return frame;
}
