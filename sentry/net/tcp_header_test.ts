import assert from "node:assert/strict";
import { LOOPBACK6, v4Mapped } from "./address.ts";
import {
  ACK,
  asReceived,
  decodeTCP,
  encodeTCP,
  FIN,
  headerLength,
  type OutSegment,
  PSH,
  RST,
  SYN,
} from "./tcp_header.ts";

/** A small deterministic generator (xorshift32): the same cases on every run. */
function generator(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

/** Segments of every shape the stack sends, and values past their fields' ranges. */
function segments(count: number): OutSegment[] {
  const r = generator(0x5eed);
  const u32 = () => (r(0x10000) * 0x10000 + r(0x10000)) >>> 0;
  const out: OutSegment[] = [];
  for (let i = 0; i < count; i++) {
    const flags = [ACK, SYN, SYN | ACK, FIN | ACK, RST, RST | ACK, PSH | ACK][r(7)];
    // A SYN's options, or SACK blocks on any other (as the stack sends them: never both).
    const syn = (flags & SYN) !== 0;
    const nblocks = syn ? 0 : r(6);
    const data = new Uint8Array(r(3) === 0 ? 0 : r(3000)).map((_, j) => (i + j) & 0xff);
    out.push({
      sport: r(0x10000),
      dport: r(0x10000),
      seq: u32(),
      ack: u32(),
      flags,
      // A window past 16 bits is sent as the most the field holds.
      window: r(4) === 0 ? 0x10000 + r(1 << 20) : r(0x10000),
      mss: !syn || r(2) ? null : r(0x10000),
      // A shift past 14 is read as 14 (RFC 7323).
      wscale: !syn || r(2) ? null : r(20),
      sackPermitted: !syn ? undefined : r(2) === 0 ? true : r(2) === 0 ? false : undefined,
      // More blocks than fit: the header carries what its options have room for.
      sack: nblocks === 0 ? undefined : Array.from({ length: nblocks }, () => ({
        start: u32(),
        end: u32(),
      })),
      ts: r(2) ? undefined : { val: u32(), ecr: u32() },
      data,
    });
  }
  return out;
}

Deno.test("a segment handed over parsed is the one its bytes decode to", () => {
  const pairs = [
    [v4Mapped(Uint8Array.of(127, 0, 0, 1)), v4Mapped(Uint8Array.of(127, 0, 0, 2))],
    [LOOPBACK6, LOOPBACK6],
  ];
  for (const [i, s] of segments(2000).entries()) {
    const [src, dst] = pairs[i % 2];
    const bytes = encodeTCP(src, dst, s);
    assert.equal(bytes.length, headerLength(s) + s.data.length, `case ${i}: header length`);
    const decoded = decodeTCP(src, dst, bytes, true);
    assert.ok(decoded, `case ${i} decodes`);
    const parsed = asReceived(s, s.data as Uint8Array);
    assert.deepEqual(parsed.data, decoded.data, `case ${i}: data`);
    assert.deepEqual({ ...parsed, data: null }, { ...decoded, data: null }, `case ${i}`);
  }
});

Deno.test("a parsed segment shares nothing the sender may change", () => {
  const s = segments(200).find((s) => s.sack && s.ts)!;
  const parsed = asReceived(s, s.data as Uint8Array);
  s.sack![0].start++;
  s.ts!.val++;
  assert.notEqual(parsed.sack![0].start, s.sack![0].start);
  assert.notEqual(parsed.ts!.val, s.ts!.val);
});
