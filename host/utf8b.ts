/**
 * Linux strings (paths, names, argv, envp, symlink targets, socket paths) are bytes, not text.
 * The Sentry and the Gofer hold them as JavaScript strings, so the conversion must lose
 * nothing: valid UTF-8 decodes as usual, and each byte that is not part of valid UTF-8 becomes
 * the lone surrogate U+DC80 + byte (the "UTF-8b" scheme Python calls surrogateescape), which
 * encodes back to that byte. Text that was valid UTF-8 is unchanged, so comparisons with
 * literals keep working.
 *
 * @module
 */

const fatal = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();
/** A low surrogate standing for a byte, not preceded by a high one (then it is half a pair). */
const ESCAPED = /(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/;

function ascii(b: Uint8Array): string | null {
  if (b.length > 256) return null;
  let s = "";
  for (let i = 0; i < b.length; i++) {
    if (b[i] >= 0x80) return null;
    s += String.fromCharCode(b[i]);
  }
  return s;
}

/** The length of the valid UTF-8 sequence at b[i], or 0 when the byte there starts none. */
function sequenceLength(b: Uint8Array, i: number): number {
  const c = b[i];
  const cont = (k: number, lo = 0x80, hi = 0xbf) =>
    i + k < b.length && b[i + k] >= lo && b[i + k] <= hi;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    // No overlong forms (E0 80..9F) and no surrogates (ED A0..BF).
    const lo = c === 0xe0 ? 0xa0 : 0x80, hi = c === 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    // Nothing overlong (F0 80..8F) and nothing above U+10FFFF (F4 90..).
    const lo = c === 0xf0 ? 0x90 : 0x80, hi = c === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/** Bytes as a string: UTF-8, with every byte outside valid UTF-8 kept as U+DC80 + byte. */
export function decodeBytes(b: Uint8Array): string {
  const a = ascii(b);
  if (a !== null) return a;
  try {
    return fatal.decode(b);
  } catch {
    // Not valid UTF-8 as a whole: decode the valid runs, escape the bytes between them.
  }
  let out = "";
  let run = 0;
  let i = 0;
  while (i < b.length) {
    const n = sequenceLength(b, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += fatal.decode(b.subarray(run, i)) + String.fromCharCode(0xdc00 + b[i]);
    i++;
    run = i;
  }
  return out + fatal.decode(b.subarray(run));
}

/** A string made by decodeBytes (or any text) back to its bytes. */
export function encodeBytes(s: string): Uint8Array<ArrayBuffer> {
  if (!ESCAPED.test(s)) return encoder.encode(s);
  const parts: Uint8Array[] = [];
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xdc80 || c > 0xdcff) continue;
    const prev = i > 0 ? s.charCodeAt(i - 1) : 0;
    if (prev >= 0xd800 && prev <= 0xdbff) continue;
    parts.push(encoder.encode(s.slice(run, i)), Uint8Array.of(c - 0xdc00));
    run = i + 1;
  }
  parts.push(encoder.encode(s.slice(run)));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** How many bytes s stands for (a name's or a path's length as Linux counts it). */
export function byteLength(s: string): number {
  return encodeBytes(s).length;
}
