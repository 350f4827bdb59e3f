import assert from "node:assert/strict";
import { byteLength, decodeBytes, encodeBytes } from "./utf8b.ts";

const cases: number[][] = [
  [],
  [0x61, 0x62],
  [0xff],
  [0x66, 0xe9, 0x6f], // Latin-1 "féo"
  [0xc3, 0xa9], // UTF-8 "é"
  [0xf0, 0x9f, 0x98, 0x80], // U+1F600, whose low surrogate is in the escape range
  [0xf0, 0x9f, 0x98], // cut short
  [0xed, 0xb2, 0x80], // an encoded surrogate: not UTF-8
  [0xe0, 0x80, 0x80], // overlong
  [0xc0, 0xaf],
  [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
  [0x80, 0xbf, 0xfe, 0x2f, 0xc3, 0xa9, 0xff],
];

Deno.test("decodeBytes and encodeBytes give back every byte sequence", () => {
  for (const c of cases) {
    const b = Uint8Array.from(c);
    assert.deepEqual([...encodeBytes(decodeBytes(b))], c, `bytes ${c}`);
    assert.equal(byteLength(decodeBytes(b)), c.length);
  }
  for (let i = 0; i < 2000; i++) {
    const b = Uint8Array.from({ length: i % 13 }, () => Math.floor(Math.random() * 256));
    assert.deepEqual(encodeBytes(decodeBytes(b)), b);
  }
});

Deno.test("decodeBytes reads valid UTF-8 as text", () => {
  assert.equal(decodeBytes(new TextEncoder().encode("héllo 😀")), "héllo 😀");
  assert.equal(decodeBytes(Uint8Array.of(0x61, 0xff)), "a\udcff");
});
