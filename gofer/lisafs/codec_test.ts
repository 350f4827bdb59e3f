import assert from "node:assert/strict";
import { array, decode, DecodeError, encode, str, struct, u16, u32, u64 } from "./codec.ts";
import { MESSAGES, MID } from "./message.ts";

Deno.test("codec round-trips every field type through one description", () => {
  const c = struct({ a: u16, b: u64, names: array(str), nested: struct({ x: u32 }) });
  const v = { a: 7, b: 1n << 63n, names: ["", "é", "x".repeat(1000)], nested: { x: 0xffffffff } };
  assert.deepEqual(decode(c, encode(c, v)), v);
});

Deno.test("codec round-trips the implemented messages", () => {
  const stat = {
    mode: 0o100644,
    nlink: 1,
    uid: 0,
    gid: 0,
    rdev: 0,
    blksize: 4096,
    size: 2 ** 40,
    blocks: 8,
    ino: 42n,
    dev: 2049n,
    atimeNs: 1n,
    mtimeNs: 2n,
    ctimeNs: 3n,
  };
  const walk = { status: 2, inodes: [{ fd: 1, stat }, { fd: 2 ** 40, stat }] };
  assert.deepEqual(decode(MESSAGES[MID.Walk].resp, encode(MESSAGES[MID.Walk].resp, walk)), walk);
  const pread = { data: new Uint8Array([1, 2, 3]) };
  assert.deepEqual(
    decode(MESSAGES[MID.PRead].resp, encode(MESSAGES[MID.PRead].resp, pread)),
    pread,
  );
});

Deno.test("codec decode refuses truncation, trailing bytes and count lies", () => {
  const c = struct({ n: u32, s: str });
  const good = encode(c, { n: 1, s: "abc" });
  assert.throws(() => decode(c, good.subarray(0, good.length - 1)), DecodeError);
  const long = new Uint8Array(good.length + 1);
  long.set(good);
  assert.throws(() => decode(c, long), DecodeError);
  assert.throws(() => decode(array(u32), new Uint8Array([255, 255, 255, 255])), DecodeError);
});

Deno.test("str carries names that are not UTF-8 byte for byte", () => {
  for (const name of [[0xff], [0x66, 0xe9, 0x80], [0xc3, 0x28], [0xed, 0xb2, 0x80]]) {
    const wire = new Uint8Array([name.length, 0, 0, 0, ...name]);
    assert.deepEqual(encode(str, decode(str, wire)), wire);
  }
});

Deno.test("str writes the same bytes as TextEncoder for ASCII, other and long strings", () => {
  const utf8 = new TextEncoder();
  for (const s of ["", "e00001", "caf\u00e9", "\u{1f600}x", "a".repeat(300), "\x01\x7f"]) {
    const b = utf8.encode(s);
    const want = new Uint8Array(4 + b.length);
    new DataView(want.buffer).setUint32(0, b.length, true);
    want.set(b, 4);
    assert.deepEqual(encode(str, s), want);
    assert.equal(decode(str, want), s);
  }
});
