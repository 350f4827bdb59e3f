/**
 * One codec for the fixed-layout C structs of the Linux ABI (x86-64, little-endian). A struct is
 * described once, as a table of field name -> [offset, type]; the same description encodes a
 * typed object into the bytes the application sees and decodes those bytes back, so no syscall
 * file reads or writes a struct at literal offsets.
 *
 * Offsets are explicit, not computed, because C padding is part of the ABI: the table reads
 * like the struct's `pahole` output and a reviewer can check it against the header. The
 * description is checked when built (fields inside the struct, none overlapping), so a typo in
 * a table fails at import, not in a probe.
 *
 * Decoding never trusts its input beyond its length: every value of every field is a valid
 * value of its type, and validating it (a negative tv_nsec, an unknown flag) is the caller's.
 *
 * @module
 */

/**
 * A field type: its size and how it is read from and written to a little-endian view. `I` is
 * what writing takes, when it takes less than a whole value (a struct: some of its fields).
 */
export interface FieldType<T, I = T> {
  readonly size: number;
  get(v: DataView, off: number): T;
  set(v: DataView, off: number, x: I): void;
}

export const u8: FieldType<number> = {
  size: 1,
  get: (v, o) => v.getUint8(o),
  set: (v, o, x) => v.setUint8(o, x),
};
export const u16: FieldType<number> = {
  size: 2,
  get: (v, o) => v.getUint16(o, true),
  set: (v, o, x) => v.setUint16(o, x, true),
};
export const i16: FieldType<number> = {
  size: 2,
  get: (v, o) => v.getInt16(o, true),
  set: (v, o, x) => v.setInt16(o, x, true),
};
export const u32: FieldType<number> = {
  size: 4,
  get: (v, o) => v.getUint32(o, true),
  set: (v, o, x) => v.setUint32(o, x, true),
};
export const i32: FieldType<number> = {
  size: 4,
  get: (v, o) => v.getInt32(o, true),
  set: (v, o, x) => v.setInt32(o, x, true),
};
export const u64: FieldType<bigint> = {
  size: 8,
  get: (v, o) => v.getBigUint64(o, true),
  set: (v, o, x) => v.setBigUint64(o, x, true),
};
export const i64: FieldType<bigint> = {
  size: 8,
  get: (v, o) => v.getBigInt64(o, true),
  set: (v, o, x) => v.setBigInt64(o, x, true),
};

/** A u16 in network byte order (ports). */
export const be16: FieldType<number> = {
  size: 2,
  get: (v, o) => v.getUint16(o, false),
  set: (v, o, x) => v.setUint16(o, x, false),
};
/** A u32 in network byte order. */
export const be32: FieldType<number> = {
  size: 4,
  get: (v, o) => v.getUint32(o, false),
  set: (v, o, x) => v.setUint32(o, x, false),
};

/** n raw bytes (a char array, an opaque union); decoding copies them. */
export function bytes(n: number): FieldType<Uint8Array<ArrayBuffer>, Uint8Array> {
  return {
    size: n,
    get: (v, o) => Uint8Array.from({ length: n }, (_, i) => v.getUint8(o + i)),
    set: (v, o, x) => {
      if (x.length > n) throw new RangeError(`abi: ${x.length} bytes do not fit in ${n}`);
      new Uint8Array(v.buffer, v.byteOffset + o, n).set(x);
    },
  };
}

/** n consecutive elements of one type (a C array). */
export function array<T>(elem: FieldType<T>, n: number): FieldType<T[]> {
  return {
    size: elem.size * n,
    get: (v, o) => {
      // A loop, not Array.from({ length }): that took microseconds for a signal frame's 18
      // registers, decoded on every sigreturn.
      const out = new Array<T>(n);
      for (let i = 0; i < n; i++) out[i] = elem.get(v, o + i * elem.size);
      return out;
    },
    set: (v, o, x) => {
      if (x.length > n) throw new RangeError(`abi: ${x.length} elements do not fit in ${n}`);
      x.forEach((e, i) => elem.set(v, o + i * elem.size, e));
    },
  };
}

/** A struct's description: each field's offset and type. */
export type Fields = Record<string, readonly [number, FieldType<unknown>]>;

/** The typed object a description stands for. */
export type Value<F extends Fields> = {
  [K in keyof F]: F[K][1] extends FieldType<infer T, unknown> ? T : never;
};

/**
 * What an encoder takes: any field may be left out (it is zero, as in a zeroed C struct),
 * nested structs too.
 */
export type Init<F extends Fields> = {
  [K in keyof F]?: F[K][1] extends FieldType<unknown, infer I> ? I : never;
};

/** A fixed-layout C struct: encodes typed objects to its bytes and decodes them back. */
export class Struct<F extends Fields> implements FieldType<Value<F>, Init<F>> {
  readonly #entries: [string, number, FieldType<unknown>][];

  constructor(readonly name: string, readonly size: number, readonly fields: F) {
    const spans = Object.entries(fields)
      .map(([k, [off, type]]) => [k, off, type] as [string, number, FieldType<unknown>])
      .sort((a, b) => a[1] - b[1]);
    for (let i = 0; i < spans.length; i++) {
      const [k, off, type] = spans[i];
      if (off < 0 || off + type.size > size) {
        throw new RangeError(`abi: ${name}.${k} at ${off} (+${type.size}) is outside ${size}`);
      }
      const next = spans[i + 1];
      if (next && off + type.size > next[1]) {
        throw new RangeError(`abi: ${name}.${k} overlaps ${name}.${next[0]}`);
      }
    }
    this.#entries = spans;
  }

  /** The offset of a field, for the few callers that patch one field in place. */
  offsetOf(field: keyof F & string): number {
    return this.fields[field][0];
  }

  get(v: DataView, off: number): Value<F> {
    const out: Record<string, unknown> = {};
    for (const [k, o, type] of this.#entries) out[k] = type.get(v, off + o);
    return out as Value<F>;
  }

  set(v: DataView, off: number, x: Init<F>): void {
    const src = x as Record<string, unknown>;
    for (const [k, o, type] of this.#entries) {
      const e = src[k];
      if (e !== undefined) type.set(v, off + o, e);
    }
  }

  /** The struct's bytes for x; fields x leaves out are zero. */
  encode(x: Init<F>): Uint8Array<ArrayBuffer> {
    const b = new Uint8Array(this.size);
    this.set(new DataView(b.buffer), 0, x);
    return b;
  }

  /** Writes x at byte `off` of b (an array of structs, a struct inside a larger buffer). */
  encodeInto(b: Uint8Array, off: number, x: Init<F>): void {
    this.#check(b, off);
    this.set(new DataView(b.buffer, b.byteOffset, b.byteLength), off, x);
  }

  /** The struct at byte `off` of b. RangeError when b is too short to hold it. */
  decode(b: Uint8Array, off = 0): Value<F> {
    this.#check(b, off);
    return this.get(new DataView(b.buffer, b.byteOffset, b.byteLength), off);
  }

  /** n consecutive structs from the start of b (an array of pollfd, iovec ...). */
  decodeArray(b: Uint8Array, n: number): Value<F>[] {
    if (n < 0 || n * this.size > b.length) {
      throw new RangeError(`abi: ${n} of ${this.name} need ${n * this.size} bytes of ${b.length}`);
    }
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return Array.from({ length: n }, (_, i) => this.get(v, i * this.size));
  }

  /** The bytes of consecutive structs, one for each of xs. */
  encodeArray(xs: readonly Init<F>[]): Uint8Array<ArrayBuffer> {
    const b = new Uint8Array(xs.length * this.size);
    const v = new DataView(b.buffer);
    xs.forEach((x, i) => this.set(v, i * this.size, x));
    return b;
  }

  #check(b: Uint8Array, off: number): void {
    if (off < 0 || off + this.size > b.length) {
      throw new RangeError(`abi: ${this.name} needs ${this.size} bytes at ${off} of ${b.length}`);
    }
  }
}

/** Describes a struct; see Struct. */
export function struct<F extends Fields>(name: string, size: number, fields: F): Struct<F> {
  return new Struct(name, size, fields);
}

/** One value of a field type as its own bytes (an int option, a pair of descriptors). */
export function encodeValue<T>(type: FieldType<T>, x: T): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(type.size);
  type.set(new DataView(b.buffer), 0, x);
  return b;
}

/** The value of a field type at byte `off` of b. RangeError when b is too short. */
export function decodeValue<T>(type: FieldType<T>, b: Uint8Array, off = 0): T {
  if (off < 0 || off + type.size > b.length) {
    throw new RangeError(`abi: a value of ${type.size} bytes at ${off} of ${b.length}`);
  }
  return type.get(new DataView(b.buffer, b.byteOffset, b.byteLength), off);
}
