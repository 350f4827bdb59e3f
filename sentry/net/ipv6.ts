/**
 * IPv6 headers (RFC 8200): the fixed 40-byte header, and the fragment header right after it
 * (fragment.ts reassembles). Other extension headers are not followed: a packet whose next
 * header is not a transport the stack knows is dropped.
 *
 * @module
 */

import { type IPAddress, isV4 } from "./address.ts";
import { type NetworkPacket, withRoom } from "./ipv4.ts";

export const IPV6_HEADER_SIZE = 40;
export const NEXTHDR_FRAGMENT = 44;
export const FRAG_HEADER_SIZE = 8;
export const IPV6_VERSION = 6;

/** Builds an IPv6 packet around payload. */
export function encodeIPv6(
  src: IPAddress,
  dst: IPAddress,
  protocol: number,
  payload: Uint8Array,
  hopLimit: number,
  tclass: number,
  flowLabel = 0,
): Uint8Array {
  const pkt = withRoom(payload, IPV6_HEADER_SIZE);
  const v = new DataView(pkt.buffer, pkt.byteOffset, IPV6_HEADER_SIZE);
  v.setUint32(0, (IPV6_VERSION << 28) | ((tclass & 0xff) << 20) | (flowLabel & 0xfffff));
  // Past 16 bits (loopback's large packets, nowhere else), 0 as Linux's BIG TCP: no jumbo
  // option, the packet's length says it.
  v.setUint16(4, payload.length > 0xffff ? 0 : payload.length);
  pkt[6] = protocol;
  pkt[7] = hopLimit;
  pkt.set(src, 8);
  pkt.set(dst, 24);
  return pkt;
}

/** Parses an IPv6 packet; null for one to drop. */
export function decodeIPv6(pkt: Uint8Array, big = false): NetworkPacket | null {
  if (pkt.length < IPV6_HEADER_SIZE || pkt[0] >> 4 !== IPV6_VERSION) return null;
  const v = new DataView(pkt.buffer, pkt.byteOffset, pkt.byteLength);
  const field = v.getUint16(4);
  // 0 past 16 bits only on a link that carries such packets (`big`: loopback's).
  const len = big && field === 0 && pkt.length - IPV6_HEADER_SIZE > 0xffff
    ? pkt.length - IPV6_HEADER_SIZE
    : field;
  if (IPV6_HEADER_SIZE + len > pkt.length) return null;
  // The stack holds IPv4 addresses in their v4-mapped form: such an address on the wire
  // would pass for an IPv4 peer (or for one of the interface's IPv4 addresses).
  if (isV4(pkt.subarray(8, 24)) || isV4(pkt.subarray(24, 40))) return null;
  const end = IPV6_HEADER_SIZE + len;
  const base = {
    src: pkt.slice(8, 24),
    dst: pkt.slice(24, 40),
    protocol: pkt[6],
    ttl: pkt[7],
    tos: (v.getUint32(0) >>> 20) & 0xff,
    flow: v.getUint32(0) & 0xfffff,
    payload: pkt.subarray(IPV6_HEADER_SIZE, end),
    raw: pkt.subarray(0, end),
  };
  if (pkt[6] !== NEXTHDR_FRAGMENT) return base;
  // The fragment header: next header, reserved, offset (13 bits) with M, identification.
  if (len < FRAG_HEADER_SIZE) return null;
  const f = IPV6_HEADER_SIZE;
  const off = v.getUint16(f + 2);
  const fragment = { id: v.getUint32(f + 4), offset: off & 0xfff8, more: (off & 1) !== 0 };
  return {
    ...base,
    protocol: pkt[f],
    payload: pkt.subarray(f + FRAG_HEADER_SIZE, end),
    // An atomic fragment (RFC 6946) is a whole packet.
    fragment: fragment.offset === 0 && !fragment.more ? undefined : fragment,
  };
}
