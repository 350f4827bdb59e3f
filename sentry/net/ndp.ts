/**
 * Neighbour discovery (RFC 4861), as far as address resolution needs it: neighbour
 * solicitations for the interface's IPv6 addresses are answered with an advertisement, the
 * neighbour cache's solicitations go to the target's solicited-node multicast group, and
 * advertisements (and solicitations naming one of ours) teach it hardware addresses.
 * Router discovery, redirects and duplicate address detection are not implemented.
 *
 * Messages come from a peer that controls them: the hop limit must be 255 (they were not
 * forwarded), the checksum must hold, and options are walked within the message only.
 *
 * @module
 */

import { type IPAddress, isMulticast, isV4 } from "./address.ts";
import { finish, pseudoHeaderSum, sumBytes } from "./checksum.ts";
import type { NetworkPacket } from "./ipv4.ts";

export const NDP_NEIGHBOR_SOLICIT = 135;
export const NDP_NEIGHBOR_ADVERT = 136;
const IPPROTO_ICMPV6 = 58;
const OPT_SOURCE_LLADDR = 1;
const OPT_TARGET_LLADDR = 2;
const NA_SOLICITED = 0x40;
const NA_OVERRIDE = 0x20;
/** type, code, checksum, 4 reserved (or flags) bytes, the 16-byte target. */
const NDP_SIZE = 24;
const HOP_LIMIT = 255;

/** A solicitation or advertisement taken apart. */
export interface NDPMessage {
  type: number;
  target: IPAddress;
  /** The link-layer address option (source for a solicitation, target for an advert). */
  lladdr: Uint8Array | null;
  solicited: boolean;
}

/** Whether pkt is an NDP solicitation or advertisement (to be handled by the link). */
export function isNDP(pkt: NetworkPacket): boolean {
  if (pkt.protocol !== IPPROTO_ICMPV6 || pkt.payload.length < 1) return false;
  const t = pkt.payload[0];
  return t === NDP_NEIGHBOR_SOLICIT || t === NDP_NEIGHBOR_ADVERT;
}

/** Checks and parses an NDP message; null for one to drop. */
export function decodeNDP(pkt: NetworkPacket): NDPMessage | null {
  const p = pkt.payload;
  if (pkt.ttl !== HOP_LIMIT || p.length < NDP_SIZE || p[1] !== 0) return null;
  if (finish(sumBytes(p, pseudoHeaderSum(pkt.src, pkt.dst, IPPROTO_ICMPV6, p.length))) !== 0) {
    return null;
  }
  const target = p.slice(8, 24);
  if (isMulticast(target) || isV4(target)) return null;
  const want = p[0] === NDP_NEIGHBOR_SOLICIT ? OPT_SOURCE_LLADDR : OPT_TARGET_LLADDR;
  let lladdr: Uint8Array | null = null;
  for (let off = NDP_SIZE; off + 2 <= p.length;) {
    const len = p[off + 1] * 8;
    if (len === 0 || off + len > p.length) return null;
    if (p[off] === want && len >= 8) lladdr = p.slice(off + 2, off + 8);
    off += len;
  }
  return { type: p[0], target, lladdr, solicited: (p[4] & NA_SOLICITED) !== 0 };
}

function build(
  src: IPAddress,
  dst: IPAddress,
  type: number,
  flags: number,
  target: IPAddress,
  opt: number,
  mac: Uint8Array,
): Uint8Array {
  const m = new Uint8Array(NDP_SIZE + 8);
  m[0] = type;
  m[4] = flags;
  m.set(target, 8);
  m[NDP_SIZE] = opt;
  m[NDP_SIZE + 1] = 1;
  m.set(mac.subarray(0, 6), NDP_SIZE + 2);
  const c = finish(sumBytes(m, pseudoHeaderSum(src, dst, IPPROTO_ICMPV6, m.length)));
  m[2] = c >> 8;
  m[3] = c & 0xff;
  return m;
}

/** The solicited-node multicast group of a (ff02::1:ffXX:XXXX). */
export function solicitedNode(a: IPAddress): IPAddress {
  const g = new Uint8Array(16);
  g.set([0xff, 0x02]);
  g[11] = 1;
  g[12] = 0xff;
  g.set(a.subarray(13, 16), 13);
  return g;
}

/** A solicitation for target from src, carrying mac; its destination is solicitedNode(target). */
export function neighborSolicit(src: IPAddress, target: IPAddress, mac: Uint8Array): Uint8Array {
  return build(src, solicitedNode(target), NDP_NEIGHBOR_SOLICIT, 0, target, OPT_SOURCE_LLADDR, mac);
}

/** The advertisement of target (ours, at mac) from src to dst, answering a solicitation. */
export function neighborAdvert(
  src: IPAddress,
  dst: IPAddress,
  target: IPAddress,
  mac: Uint8Array,
): Uint8Array {
  return build(
    src,
    dst,
    NDP_NEIGHBOR_ADVERT,
    NA_SOLICITED | NA_OVERRIDE,
    target,
    OPT_TARGET_LLADDR,
    mac,
  );
}

/** The hop limit every NDP message is sent with. */
export const NDP_HOP_LIMIT = HOP_LIMIT;
