/**
 * The Internet checksum (RFC 1071) and the pseudo-header sums that TCP, UDP and ICMPv6 cover.
 *
 * @module
 */

import { type IPAddress, isV4 } from "./address.ts";

/** Adds buf's 16-bit big-endian words to sum (not folded). */
export function sumBytes(buf: Uint8Array, sum = 0): number {
  const n = buf.length & ~1;
  for (let i = 0; i < n; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (buf.length & 1) sum += buf[buf.length - 1] << 8;
  // Fold now and then: a 64 KiB packet's words stay far below 2^53, but callers chain sums.
  return (sum & 0xffff) + Math.floor(sum / 0x10000);
}

/** Folds a sum and complements it: the value written into a header. */
export function finish(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** The checksum of buf alone (IPv4 header, ICMPv4). */
export function checksum(buf: Uint8Array): number {
  return finish(sumBytes(buf));
}

/** The pseudo-header sum for a transport protocol over src -> dst with `length` bytes. */
export function pseudoHeaderSum(
  src: IPAddress,
  dst: IPAddress,
  protocol: number,
  length: number,
): number {
  let sum = protocol + length;
  if (isV4(src)) {
    sum = sumBytes(src.subarray(12, 16), sum);
    sum = sumBytes(dst.subarray(12, 16), sum);
  } else {
    sum = sumBytes(src, sum);
    sum = sumBytes(dst, sum);
  }
  return sum;
}
