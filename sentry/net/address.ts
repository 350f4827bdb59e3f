/**
 * IP addresses inside the stack. Every address is held in its 16-byte IPv6 form: an IPv4
 * address as ::ffff:a.b.c.d. One form lets a dual-stack IPv6 socket and an IPv4 socket share
 * the demultiplexing tables and the port manager; the network protocol of a packet follows
 * from its addresses (v4-mapped means IPv4).
 *
 * @module
 */

/** A 16-byte address. */
export type IPAddress = Uint8Array;

export const ANY6: IPAddress = new Uint8Array(16);
export const LOOPBACK6: IPAddress = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
export const ANY4: IPAddress = v4Mapped(Uint8Array.of(0, 0, 0, 0));
export const LOOPBACK4: IPAddress = v4Mapped(Uint8Array.of(127, 0, 0, 1));

/**
 * The v4-mapped form of the 4-byte IPv4 address at `at` in a4 (byte by byte: every arriving
 * packet makes two, and the views to copy them from cost more than the copy).
 */
export function v4Mapped(a4: Uint8Array, at = 0): IPAddress {
  const a = new Uint8Array(16);
  a[10] = a[11] = 0xff;
  a[12] = a4[at];
  a[13] = a4[at + 1];
  a[14] = a4[at + 2];
  a[15] = a4[at + 3];
  return a;
}

/** Whether a is ::ffff:a.b.c.d. */
export function isV4(a: IPAddress): boolean {
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return false;
  return a[10] === 0xff && a[11] === 0xff;
}

/** The 4 bytes of a v4-mapped address. */
export function v4Bytes(a: IPAddress): Uint8Array {
  return a.subarray(12, 16);
}

/** The unspecified address (:: or 0.0.0.0). */
export function isAny(a: IPAddress): boolean {
  if (isV4(a)) return a[12] === 0 && a[13] === 0 && a[14] === 0 && a[15] === 0;
  return a.every((b) => b === 0);
}

/** IPv6 link-local unicast, fe80::/10. */
export function isLinkLocal(a: IPAddress): boolean {
  return a[0] === 0xfe && (a[1] & 0xc0) === 0x80;
}

/** IPv4 224/4 or IPv6 ff00::/8. */
export function isMulticast(a: IPAddress): boolean {
  return isV4(a) ? (a[12] & 0xf0) === 0xe0 : a[0] === 0xff;
}

export function equal(a: IPAddress, b: IPAddress): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A string key for maps. */
export function key(a: IPAddress): string {
  let s = "";
  for (let i = 0; i < 16; i++) s += String.fromCharCode(a[i]);
  return s;
}

/** Whether a lies in prefix/len. */
export function inPrefix(a: IPAddress, prefix: IPAddress, len: number): boolean {
  // Whole bytes first, then the bits of a partial last byte (every arriving packet asks).
  const whole = len >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== prefix[i]) return false;
  const bits = len & 7;
  if (bits === 0) return true;
  const m = (0xff00 >> bits) & 0xff;
  return (a[whole] & m) === (prefix[whole] & m);
}

/** Text form, as /proc and logs show it. */
export function format(a: IPAddress): string {
  if (isV4(a)) return Array.from(v4Bytes(a)).join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((a[i] << 8) | a[i + 1]).toString(16));
  return groups.join(":").replace(/(^|:)0(:0)+(:|$)/, "::").replace(/:{3,}/, "::");
}
