/**
 * TCP segments (RFC 9293): the header, the options the stack uses (MSS, window scale,
 * SACK-permitted and SACK blocks of RFC 2018, timestamps of RFC 7323) and the checksum.
 *
 * @module
 */

import type { IPAddress } from "./address.ts";
import { finish, pseudoHeaderSum, sumBytes } from "./checksum.ts";
import { IPPROTO_TCP } from "./stack.ts";
import { giveRoom, HEADROOM, takeRoom } from "./ipv4.ts";
import { allocate } from "./buffer_pool.ts";

export const TCP_HEADER_SIZE = 20;
export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;

const OPT_END = 0;
const OPT_NOP = 1;
const OPT_MSS = 2;
const OPT_WS = 3;
const OPT_SACK_PERMITTED = 4;
const OPT_SACK = 5;
const OPT_TIMESTAMPS = 8;
/** SACK blocks that fit in the 40 bytes of options beside nothing else (RFC 2018). */
export const MAX_SACK_BLOCKS = 4;
/** What the timestamps option takes of every segment once negotiated (aligned: 2 NOPs first). */
export const TIMESTAMPS_SIZE = 12;

/** A range of sequence space [start, end) the receiver holds beyond its cumulative ACK. */
export interface SackBlock {
  start: number;
  end: number;
}

export interface Segment {
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** Options seen on a SYN. */
  mss: number | null;
  wscale: number | null;
  /** SACK-permitted (a SYN's option). */
  sackPermitted?: boolean;
  /** SACK blocks (at most MAX_SACK_BLOCKS, one less beside timestamps). */
  sack?: SackBlock[];
  /** The timestamps option (RFC 7323): the sender's clock, and the peer's value it echoes. */
  ts?: { val: number; ecr: number };
  data: Uint8Array;
}

/**
 * A segment's data as the sender has it: bytes, or their length and a copy into place (the
 * send buffer's chunks, copied once into the packet).
 */
export type Payload = Uint8Array | { readonly length: number; copyTo(dst: Uint8Array): void };

/** A segment to send. */
export interface OutSegment extends Omit<Segment, "data"> {
  data: Payload;
}

/** How many of s's SACK blocks it carries: the options' 40 bytes hold 3 beside timestamps. */
function sackBlocksSent(s: Omit<Segment, "data">): number {
  return Math.min(s.sack?.length ?? 0, s.ts ? MAX_SACK_BLOCKS - 1 : MAX_SACK_BLOCKS);
}

/** The length of s's header with its options. */
export function headerLength(s: Omit<Segment, "data">): number {
  const nblocks = sackBlocksSent(s);
  return TCP_HEADER_SIZE + (s.mss !== null ? 4 : 0) + (s.wscale !== null ? 4 : 0) +
    (s.sackPermitted ? 4 : 0) + (s.ts ? TIMESTAMPS_SIZE : 0) + (nblocks > 0 ? 4 + 8 * nblocks : 0);
}

/**
 * The segment a receiver would decode from s once encoded (decodeTCP of encodeTCP), built
 * without the bytes: for a link that hands segments over parsed (link.ts writeLocal).
 */
export function asReceived(s: OutSegment, data: Uint8Array): Segment {
  const n = sackBlocksSent(s);
  let sack: SackBlock[] | undefined;
  if (n > 0) {
    sack = [];
    for (let i = 0; i < n; i++) {
      sack.push({ start: s.sack![i].start >>> 0, end: s.sack![i].end >>> 0 });
    }
  }
  return {
    sport: s.sport & 0xffff,
    dport: s.dport & 0xffff,
    seq: s.seq >>> 0,
    ack: s.ack >>> 0,
    flags: s.flags & 0xff,
    window: Math.min(s.window, 0xffff),
    mss: s.mss === null ? null : s.mss & 0xffff,
    wscale: s.wscale === null ? null : Math.min(s.wscale & 0xff, 14),
    sackPermitted: s.sackPermitted === true,
    sack,
    ts: s.ts ? { val: s.ts.val >>> 0, ecr: s.ts.ecr >>> 0 } : undefined,
    data,
  };
}

/**
 * Builds a segment over src -> dst, with its checksum unless the link checks for us
 * (offload: loopback, where nothing can corrupt it, as Linux and gVisor skip it there) or
 * completes it (partial: a packet socket's checksum offload). A segment built around its
 * data in place shares the data's buffer; any other is a buffer of its own that the caller
 * holds (buffer_pool.ts) and releases once it has sent it.
 */
export function encodeTCP(
  src: IPAddress,
  dst: IPAddress,
  s: OutSegment,
  offload = false,
  partial = false,
): Uint8Array {
  const nblocks = sackBlocksSent(s);
  const hlen = headerLength(s);
  // Data from a stream buffer with room before it (streamBuffer) takes its header there: the
  // segment is built without a copy.
  const d = s.data;
  let b: Uint8Array;
  if (d instanceof Uint8Array && takeRoom(d, hlen)) {
    b = new Uint8Array(d.buffer, d.byteOffset - hlen, hlen + d.length);
    giveRoom(b);
  } else {
    // Every byte of it is written below (header, options, data): a reused buffer shows none
    // of its last bytes.
    b = allocate(hlen + d.length, HEADROOM);
    if (d instanceof Uint8Array) b.set(d, hlen);
    else d.copyTo(b.subarray(hlen));
  }
  const v = new DataView(b.buffer, b.byteOffset, hlen);
  v.setUint16(0, s.sport);
  v.setUint16(2, s.dport);
  v.setUint32(4, s.seq >>> 0);
  v.setUint32(8, s.ack >>> 0);
  b[12] = (hlen / 4) << 4;
  b[13] = s.flags;
  v.setUint16(14, Math.min(s.window, 0xffff));
  v.setUint32(16, 0); // checksum and urgent pointer
  // Options written in place (no array of bytes per segment: each one has timestamps).
  let o = TCP_HEADER_SIZE;
  if (s.mss !== null) {
    b[o] = OPT_MSS;
    b[o + 1] = 4;
    v.setUint16(o + 2, s.mss);
    o += 4;
  }
  if (s.wscale !== null) {
    b[o] = OPT_NOP;
    b[o + 1] = OPT_WS;
    b[o + 2] = 3;
    b[o + 3] = s.wscale;
    o += 4;
  }
  if (s.sackPermitted) {
    b[o] = OPT_NOP;
    b[o + 1] = OPT_NOP;
    b[o + 2] = OPT_SACK_PERMITTED;
    b[o + 3] = 2;
    o += 4;
  }
  if (s.ts) {
    b[o] = OPT_NOP;
    b[o + 1] = OPT_NOP;
    b[o + 2] = OPT_TIMESTAMPS;
    b[o + 3] = 10;
    v.setUint32(o + 4, s.ts.val >>> 0);
    v.setUint32(o + 8, s.ts.ecr >>> 0);
    o += TIMESTAMPS_SIZE;
  }
  if (nblocks > 0) {
    b[o] = OPT_NOP;
    b[o + 1] = OPT_NOP;
    b[o + 2] = OPT_SACK;
    b[o + 3] = 2 + 8 * nblocks;
    o += 4;
    for (let i = 0; i < nblocks; i++, o += 8) {
      v.setUint32(o, s.sack![i].start >>> 0);
      v.setUint32(o + 4, s.sack![i].end >>> 0);
    }
  }
  if (partial) {
    // The link completes it (checksum offload): the field holds the pseudo-header's sum, folded
    // and not complemented, which the sum from the header's start then covers.
    v.setUint16(16, ~finish(pseudoHeaderSum(src, dst, IPPROTO_TCP, b.length)) & 0xffff);
  } else if (!offload) {
    v.setUint16(16, finish(sumBytes(b, pseudoHeaderSum(src, dst, IPPROTO_TCP, b.length))));
  }
  return b;
}

/** The most a TCP header takes (with options). */
const TCP_MAX_HEADER = 60;

/**
 * A buffer for n bytes of a stream's data with room before them for the TCP and network
 * headers: the first segment that carries them from their start is built around them in
 * place (encodeTCP), with no copy. Pooled (buffer_pool.ts): the caller holds it and releases
 * it when done; its bytes are whatever the buffer last held, so the caller writes all n of
 * them or passes on only what it wrote.
 */
export function streamBuffer(n: number): Uint8Array<ArrayBuffer> {
  return allocate(n, TCP_MAX_HEADER + HEADROOM);
}

/** Parses a segment; null for one to drop (short, bad offset or checksum when verified). */
export function decodeTCP(
  src: IPAddress,
  dst: IPAddress,
  b: Uint8Array,
  verify: boolean,
): Segment | null {
  if (b.length < TCP_HEADER_SIZE) return null;
  const hlen = (b[12] >> 4) * 4;
  if (hlen < TCP_HEADER_SIZE || hlen > b.length) return null;
  if (verify && finish(sumBytes(b, pseudoHeaderSum(src, dst, IPPROTO_TCP, b.length))) !== 0) {
    return null;
  }
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let mss: number | null = null, wscale: number | null = null, sackPermitted = false;
  let sack: SackBlock[] | undefined;
  let ts: { val: number; ecr: number } | undefined;
  for (let i = TCP_HEADER_SIZE; i < hlen;) {
    const kind = b[i];
    if (kind === OPT_END) break;
    if (kind === OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= hlen) break;
    const len = b[i + 1];
    if (len < 2 || i + len > hlen) break;
    if (kind === OPT_MSS && len === 4) mss = (b[i + 2] << 8) | b[i + 3];
    if (kind === OPT_WS && len === 3) wscale = Math.min(b[i + 2], 14);
    if (kind === OPT_SACK_PERMITTED && len === 2) sackPermitted = true;
    if (kind === OPT_TIMESTAMPS && len === 10) {
      ts = { val: v.getUint32(i + 2), ecr: v.getUint32(i + 6) };
    }
    // Blocks of 8 bytes each; an option of any other length is ignored whole.
    if (kind === OPT_SACK && (len - 2) % 8 === 0 && len <= 2 + 8 * MAX_SACK_BLOCKS) {
      for (let j = i + 2; j < i + len; j += 8) {
        (sack ??= []).push({ start: v.getUint32(j), end: v.getUint32(j + 4) });
      }
    }
    i += len;
  }
  return {
    sport: v.getUint16(0),
    dport: v.getUint16(2),
    seq: v.getUint32(4),
    ack: v.getUint32(8),
    flags: b[13],
    window: v.getUint16(14),
    mss,
    wscale,
    sackPermitted,
    sack,
    ts,
    data: b.subarray(hlen),
  };
}

/** Sequence number arithmetic modulo 2^32. */
export function seqLT(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
export function seqLE(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}
