/**
 * The wire codec of LISAFS messages: little-endian primitives combined into descriptions of a
 * message's fields. One description drives both encoding and decoding (there is no
 * hand-written codec per message); message.ts describes every message with these.
 *
 * Decoding is strict: reading past the end of the payload, a length that cannot fit in what
 * remains, invalid UTF-8 or trailing bytes throw `DecodeError`.
 *
 * @module
 */

import { decodeBytes, encodeBytes } from "../../host/utf8b.ts";

/** A payload that does not match its message's description. */
export class DecodeError extends Error {
  constructor(message: string) {
    super(`lisafs: decode: ${message}`);
    this.name = "DecodeError";
  }
}

/** A growable little-endian output buffer. */
export class Writer {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  #len = 0;

  /**
   * Reserves `n` bytes and returns the offset where they start. It may replace the buffer:
   * callers must call it before reading `#buf` or `#view`.
   */
  #grow(n: number): number {
    const off = this.#len;
    if (off + n > this.#buf.length) {
      let cap = this.#buf.length * 2;
      while (cap < off + n) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.#buf.subarray(0, off));
      this.#buf = next;
      this.#view = new DataView(next.buffer);
    }
    this.#len += n;
    return off;
  }

  u8(v: number): void {
    const off = this.#grow(1);
    this.#view.setUint8(off, v);
  }
  u16(v: number): void {
    const off = this.#grow(2);
    this.#view.setUint16(off, v, true);
  }
  u32(v: number): void {
    const off = this.#grow(4);
    this.#view.setUint32(off, v, true);
  }
  i32(v: number): void {
    const off = this.#grow(4);
    this.#view.setInt32(off, v, true);
  }
  u64(v: bigint): void {
    const off = this.#grow(8);
    this.#view.setBigUint64(off, v, true);
  }
  i64(v: bigint): void {
    const off = this.#grow(8);
    this.#view.setBigInt64(off, v, true);
  }
  raw(b: Uint8Array): void {
    const off = this.#grow(b.length);
    this.#buf.set(b, off);
  }
  /** Writes s a character a byte. Precondition: s is ASCII (so this is its UTF-8). */
  ascii(s: string): void {
    const off = this.#grow(s.length);
    const b = this.#buf;
    for (let i = 0; i < s.length; i++) b[off + i] = s.charCodeAt(i);
  }

  /** The bytes written so far (a copy-free view). */
  bytes(): Uint8Array<ArrayBuffer> {
    return this.#buf.subarray(0, this.#len);
  }
}

/** A bounds-checked little-endian input cursor. */
export class Reader {
  #view: DataView;
  #off = 0;
  constructor(readonly buf: Uint8Array<ArrayBuffer>) {
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.buf.length - this.#off;
  }

  #take(n: number): number {
    if (n > this.remaining) {
      throw new DecodeError(
        `truncated: need ${n} bytes at offset ${this.#off}, have ${this.remaining}`,
      );
    }
    const off = this.#off;
    this.#off += n;
    return off;
  }

  u8(): number {
    return this.#view.getUint8(this.#take(1));
  }
  u16(): number {
    return this.#view.getUint16(this.#take(2), true);
  }
  u32(): number {
    return this.#view.getUint32(this.#take(4), true);
  }
  i32(): number {
    return this.#view.getInt32(this.#take(4), true);
  }
  u64(): bigint {
    return this.#view.getBigUint64(this.#take(8), true);
  }
  i64(): bigint {
    return this.#view.getBigInt64(this.#take(8), true);
  }
  raw(n: number): Uint8Array<ArrayBuffer> {
    const off = this.#take(n);
    return this.buf.subarray(off, off + n);
  }

  /** Throws unless every byte was consumed. */
  end(): void {
    if (this.remaining !== 0) throw new DecodeError(`${this.remaining} trailing bytes`);
  }
}

/** The description of one field type: how to write it and how to read it back. */
export interface Codec<T> {
  write(w: Writer, v: T): void;
  read(r: Reader): T;
}

/** The value type a codec describes. */
export type Infer<C> = C extends Codec<infer T> ? T : never;

export const u8: Codec<number> = { write: (w, v) => w.u8(v), read: (r) => r.u8() };
export const u16: Codec<number> = { write: (w, v) => w.u16(v), read: (r) => r.u16() };
export const u32: Codec<number> = { write: (w, v) => w.u32(v), read: (r) => r.u32() };
export const i32: Codec<number> = { write: (w, v) => w.i32(v), read: (r) => r.i32() };
export const u64: Codec<bigint> = { write: (w, v) => w.u64(v), read: (r) => r.u64() };
export const i64: Codec<bigint> = { write: (w, v) => w.i64(v), read: (r) => r.i64() };

/** A u64 on the wire, a JS number in memory (sizes, counts, FD ids): must be a safe integer. */
export const u64n: Codec<number> = {
  write: (w, v) => w.u64(BigInt(v)),
  read: (r) => {
    const v = r.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError(`u64 ${v} out of range`);
    return Number(v);
  },
};

/** Bytes preceded by their u32 length. */
export const bytes: Codec<Uint8Array<ArrayBuffer>> = {
  write: (w, v) => {
    w.u32(v.length);
    w.raw(v);
  },
  read: (r) => r.raw(r.u32()).slice(),
};

const NON_ASCII = /[\u0080-\uffff]/;

/** The longest string decoded a byte a character: a file name's limit. */
const ASCII_MAX = 255;

/**
 * b as a string if it is short and ASCII, else null. Names, the bulk of the strings here,
 * usually are: built a character at a time they cost a fraction of a decoder call.
 */
export function asciiString(b: Uint8Array): string | null {
  if (b.length > ASCII_MAX) return null;
  let s = "";
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c >= 0x80) return null;
    s += String.fromCharCode(c);
  }
  return s;
}

/**
 * A string preceded by its u32 byte length (LISAFS's SizedString). Names and paths are bytes,
 * carried whole: a string holds them as utf8b.ts does.
 */
export const str: Codec<string> = {
  write: (w, v) => {
    if (NON_ASCII.test(v)) return bytes.write(w, encodeBytes(v));
    w.u32(v.length);
    w.ascii(v);
  },
  read: (r) => {
    const b = r.raw(r.u32());
    const a = asciiString(b);
    if (a !== null) return a;
    return decodeBytes(b);
  },
};

/** An array preceded by its u32 element count. */
export function array<T>(elem: Codec<T>): Codec<T[]> {
  return {
    write: (w, v) => {
      w.u32(v.length);
      for (const e of v) elem.write(w, e);
    },
    read: (r) => {
      const n = r.u32();
      // Every element takes at least one byte: a count larger than what remains is a lie, and
      // must not make us allocate for it.
      if (n > r.remaining) throw new DecodeError(`array count ${n} exceeds ${r.remaining} bytes`);
      const out: T[] = [];
      for (let i = 0; i < n; i++) out.push(elem.read(r));
      return out;
    },
  };
}

/** Fields in wire order: name -> codec. */
export type Fields = Record<string, Codec<unknown>>;

/** The object a struct description decodes to. */
export type StructOf<F extends Fields> = { [K in keyof F]: Infer<F[K]> };

/** A struct: its fields in declaration order, no padding. */
export function struct<F extends Fields>(fields: F): Codec<StructOf<F>> {
  // Plain arrays indexed in a loop: a struct codec runs once per array element, and many
  // messages carry thousands (directory entries).
  const keys = Object.keys(fields);
  const codecs = keys.map((k) => fields[k]);
  return {
    write: (w, v) => {
      const o = v as Record<string, unknown>;
      for (let i = 0; i < keys.length; i++) codecs[i].write(w, o[keys[i]]);
    },
    read: (r) => {
      const out: Record<string, unknown> = {};
      for (let i = 0; i < keys.length; i++) out[keys[i]] = codecs[i].read(r);
      return out as StructOf<F>;
    },
  };
}

/** Encodes `v` with `c` into a fresh payload. */
export function encode<T>(c: Codec<T>, v: T): Uint8Array<ArrayBuffer> {
  const w = new Writer();
  c.write(w, v);
  return w.bytes();
}

/** Decodes a whole payload with `c`; throws DecodeError on any mismatch. */
export function decode<T>(c: Codec<T>, payload: Uint8Array<ArrayBuffer>): T {
  const r = new Reader(payload);
  const v = c.read(r);
  r.end();
  return v;
}
