import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { array, bytes, i32, i64, struct, u16, u32, u64, u8 } from "./layout.ts";
import { Itimerspec, Timespec, timespecFromNs } from "./time.ts";
import { AF_INET, SockaddrIn } from "./socket.ts";
import { Dirent64, LinuxDirent } from "./file.ts";

Deno.test("struct.encode() writes each field little-endian at its offset, zero elsewhere", () => {
  const S = struct("s", 24, {
    a: [0, u8],
    b: [2, u16],
    c: [4, i32],
    d: [8, u64],
    e: [16, array(u16, 2)],
    f: [20, bytes(3)],
  });
  const b = S.encode({
    a: 1,
    b: 0x0203,
    c: -1,
    d: 0x0405060708090a0bn,
    e: [0xc, 0xd],
    f: new Uint8Array([9, 8, 7]),
  });
  assertEquals([...b], [
    1,
    0,
    3,
    2,
    255,
    255,
    255,
    255,
    0xb,
    0xa,
    9,
    8,
    7,
    6,
    5,
    4,
    0xc,
    0,
    0xd,
    0,
    9,
    8,
    7,
    0,
  ]);
  assertEquals(S.decode(b), {
    a: 1,
    b: 0x0203,
    c: -1,
    d: 0x0405060708090a0bn,
    e: [0xc, 0xd],
    f: new Uint8Array([9, 8, 7]),
  });
});

Deno.test("struct.decode() reads at an offset and refuses a short buffer", () => {
  const b = new Uint8Array(20);
  b[4] = 7;
  assertEquals(Timespec.decode(b, 4), { sec: 7n, nsec: 0n });
  throws(() => Timespec.decode(b, 5), {
    name: "RangeError",
    message: /timespec\ needs\ 16\ bytes\ at\ 5\ of\ 20/,
  });
});

Deno.test("nested structs encode from partial objects", () => {
  const b = Itimerspec.encode({ value: { sec: 2n } });
  assertEquals(Itimerspec.decode(b), {
    interval: { sec: 0n, nsec: 0n },
    value: { sec: 2n, nsec: 0n },
  });
  assertEquals(b[16], 2);
});

Deno.test("a description with a field outside the struct or overlapping another fails", () => {
  throws(() => struct("bad", 8, { a: [4, u64] }), {
    name: "RangeError",
    message: /bad\.a\ at\ 4\ \(\+8\)\ is\ outside\ 8/,
  });
  throws(
    () => struct("bad", 8, { a: [0, u32], b: [2, u32] }),
    RangeError,
    "bad.a overlaps bad.b",
  );
  throws(() => struct("bad", 8, { a: [0, i64], b: [8, u8] }), {
    name: "RangeError",
    message: /outside/,
  });
});

Deno.test("timespecFromNs() keeps tv_nsec non-negative before the epoch", () => {
  assertEquals(timespecFromNs(1_500_000_000n), { sec: 1n, nsec: 500_000_000n });
  assertEquals(timespecFromNs(-1n), { sec: -1n, nsec: 999_999_999n });
  assertEquals(timespecFromNs(-1_000_000_000n), { sec: -1n, nsec: 0n });
});

Deno.test("be16 fields are in network byte order, the rest little-endian", () => {
  const b = SockaddrIn.encode({
    family: AF_INET,
    port: 0x1f90,
    addr: Uint8Array.of(127, 0, 0, 1),
  });
  assertEquals([...b.subarray(0, 8)], [2, 0, 0x1f, 0x90, 127, 0, 0, 1]);
  assertEquals(SockaddrIn.decode(b).port, 8080);
});

Deno.test("arrays of structs encode and decode back, and a short buffer is refused", () => {
  const b = Timespec.encodeArray([{ sec: 1n, nsec: 2n }, { sec: 3n }]);
  assertEquals(b.length, 32);
  assertEquals(Timespec.decodeArray(b, 2), [{ sec: 1n, nsec: 2n }, { sec: 3n, nsec: 0n }]);
  throws(() => Timespec.decodeArray(b, 3), { name: "RangeError", message: /3 of timespec/ });
});

Deno.test("getdents' two record layouts share ino, d_off and d_reclen offsets", () => {
  for (const f of ["ino", "off", "reclen"] as const) {
    assertEquals(LinuxDirent.offsetOf(f), Dirent64.offsetOf(f));
  }
});
