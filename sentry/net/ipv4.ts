/**
 * IPv4 headers (RFC 791): the 20-byte header without options that the stack writes, and the
 * checks made on one that arrives. A fragment is returned with its place in its datagram, for
 * fragment.ts to put together.
 *
 * @module
 */

import { type IPAddress, v4Bytes, v4Mapped } from "./address.ts";
import { checksum } from "./checksum.ts";

export const IPV4_HEADER_SIZE = 20;
export const IPV4_VERSION = 4;
const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const OFFSET_MASK = 0x1fff;

/** A network packet taken apart: addresses, transport protocol and its bytes. */
export interface NetworkPacket {
  src: IPAddress;
  dst: IPAddress;
  protocol: number;
  ttl: number;
  tos: number;
  payload: Uint8Array;
  /** The whole packet (ICMP errors quote its start). */
  raw: Uint8Array;
  /** An IPv6 header's flow label (0 for IPv4). */
  flow?: number;
  /** An IPv4 fragment's place in its datagram (fragment.ts puts them back together). */
  fragment?: { id: number; offset: number; more: boolean };
}

let nextId = 1;

/**
 * Builds an IPv4 packet around payload. A payload made by transportBuffer gets its header
 * written in the room before it (no copy); any other is copied.
 */
export function encodeIPv4(
  src: IPAddress,
  dst: IPAddress,
  protocol: number,
  payload: Uint8Array,
  ttl: number,
  tos: number,
): Uint8Array {
  const total = IPV4_HEADER_SIZE + payload.length;
  const pkt = withRoom(payload, IPV4_HEADER_SIZE);
  const v = new DataView(pkt.buffer, pkt.byteOffset, IPV4_HEADER_SIZE);
  pkt[0] = (IPV4_VERSION << 4) | 5;
  pkt[1] = tos;
  // Past 16 bits (loopback's large packets, nowhere else), 0: the packet's length says it.
  v.setUint16(2, total > 0xffff ? 0 : total);
  v.setUint16(4, nextId++ & 0xffff);
  v.setUint16(6, FLAG_DF);
  pkt[8] = ttl;
  pkt[9] = protocol;
  v.setUint16(10, 0);
  pkt.set(v4Bytes(src), 12);
  pkt.set(v4Bytes(dst), 16);
  v.setUint16(10, checksum(pkt.subarray(0, IPV4_HEADER_SIZE)));
  return pkt;
}

/** Room left in front of a transport payload for the network header (the largest, IPv6's). */
export const HEADROOM = 40;

/**
 * Buffers of the stack's own with free bytes before offset `room`: a header may be written
 * there, in front of the view that starts at that offset, once (the packet built so may still
 * be queued, so its header is never written again: a second use copies).
 */
const headRoom = new WeakMap<ArrayBufferLike, number>();

/**
 * A buffer for len bytes with `room` bytes before them for headers (by default the network
 * header's: a transport packet).
 */
export function transportBuffer(len: number, room = HEADROOM): Uint8Array {
  const b = new Uint8Array(room + len);
  headRoom.set(b.buffer, room);
  return b.subarray(room);
}

/**
 * Whether `header` bytes in front of view are free for a header: then they are taken (the
 * next layer's room is what is left before them, given with giveRoom).
 */
export function takeRoom(view: Uint8Array, header: number): boolean {
  const room = headRoom.get(view.buffer);
  if (room === undefined || view.byteOffset !== room || room < header) return false;
  headRoom.delete(view.buffer);
  return true;
}

/** The bytes before view (a header just written in front of a payload) are free for the next. */
export function giveRoom(view: Uint8Array): void {
  headRoom.set(view.buffer, view.byteOffset);
}

/** The packet: header room of `header` bytes before payload, reused when it has it. */
export function withRoom(payload: Uint8Array, header: number): Uint8Array {
  if (takeRoom(payload, header)) {
    return new Uint8Array(payload.buffer, payload.byteOffset - header, header + payload.length);
  }
  const pkt = new Uint8Array(header + payload.length);
  pkt.set(payload, header);
  return pkt;
}

/** Parses and checks an IPv4 packet; null for one to drop. */
export function decodeIPv4(pkt: Uint8Array, verify: boolean, big = false): NetworkPacket | null {
  if (pkt.length < IPV4_HEADER_SIZE || pkt[0] >> 4 !== IPV4_VERSION) return null;
  const ihl = (pkt[0] & 0xf) * 4;
  const v = new DataView(pkt.buffer, pkt.byteOffset, pkt.byteLength);
  // 0 stands for a length past 16 bits (encodeIPv4) on a link that carries such packets
  // (`big`: loopback's); anywhere else, and on a packet that short, it is malformed.
  const field = v.getUint16(2);
  const total = big && field === 0 && pkt.length > 0xffff ? pkt.length : field;
  if (ihl < IPV4_HEADER_SIZE || total < ihl || total > pkt.length) return null;
  if (verify && checksum(pkt.subarray(0, ihl)) !== 0) return null;
  const frag = v.getUint16(6);
  const fragmented = (frag & FLAG_MF) !== 0 || (frag & OFFSET_MASK) !== 0;
  return {
    src: v4Mapped(pkt, 12),
    dst: v4Mapped(pkt, 16),
    protocol: pkt[9],
    ttl: pkt[8],
    tos: pkt[1],
    payload: pkt.subarray(ihl, total),
    raw: pkt.subarray(0, total),
    fragment: fragmented
      ? { id: v.getUint16(4), offset: (frag & OFFSET_MASK) * 8, more: (frag & FLAG_MF) !== 0 }
      : undefined,
  };
}
