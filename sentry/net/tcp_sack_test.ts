/**
 * The SACK scoreboard against what a peer may send: blocks outside the flight, reversed,
 * empty, overlapping or too many, and the receiver's block list.
 */

import assert from "node:assert/strict";
import { sackBlocks, SackScoreboard } from "./tcp_sack.ts";

Deno.test("SackScoreboard keeps only blocks within the flight, merged", () => {
  const b = new SackScoreboard();
  const una = 0xfffff000, nxt = (una + 0x3000) >>> 0; // the flight wraps around 2^32
  const at = (n: number) => (una + n) >>> 0;
  assert.equal(b.update([{ start: at(0x2000), end: at(0x1000) }], una, nxt), false, "reversed");
  assert.equal(b.update([{ start: at(0x100), end: at(0x100) }], una, nxt), false, "empty");
  assert.equal(b.update([{ start: at(0x2000), end: at(0x4000) }], una, nxt), false, "past nxt");
  assert.equal(
    b.update([{ start: (una - 0x100) >>> 0, end: at(0x100) }], una, nxt),
    false,
    "below una (a D-SACK)",
  );
  assert.equal(b.empty, true);
  assert.equal(b.update([{ start: at(0x1000), end: at(0x1800) }], una, nxt), true);
  assert.equal(b.update([{ start: at(0x1000), end: at(0x1800) }], una, nxt), false, "known");
  b.update(
    [{ start: at(0x1800), end: at(0x2000) }, { start: at(0x2800), end: at(0x3000) }],
    una,
    nxt,
  );
  assert.equal(b.sacked, 0x1800);
  assert.equal(b.highest, nxt);
  // Holes: [0, 0x1000) and [0x2000, 0x2800), cut to the segment size asked for.
  assert.deepEqual(b.nextHole(una, 0x400), [una, 0x400]);
  assert.deepEqual(b.nextHole(at(0x1000), 0x4000), [at(0x2000), 0x800]);
  assert.equal(b.nextHole(at(0x2800), 0x400), null);
  assert.equal(b.holesFrom(una), 0x1800);
  b.advance(at(0x1900));
  assert.equal(b.sacked, 0xf00, "what the cumulative ACK covers is forgotten");
  assert.deepEqual(b.nextHole(at(0x1900), 0x4000), [at(0x2000), 0x800]);
});

Deno.test("SackScoreboard stays bounded whatever the peer reports", () => {
  const b = new SackScoreboard();
  // Ten thousand disjoint one-byte blocks, as a hostile peer could claim over time.
  for (let i = 0; i < 10_000; i++) b.update([{ start: 2 * i + 1, end: 2 * i + 2 }], 0, 1 << 20);
  let holes = 0;
  for (let h = b.nextHole(0, 1 << 20); h; h = b.nextHole(h[0] + h[1], 1 << 20)) holes++;
  assert.ok(holes <= 64, `the board keeps a bounded number of ranges (${holes} holes)`);
});

Deno.test("sackBlocks reports merged ranges, the latest arrival's first, at most the limit", () => {
  const seg = (seq: number, len: number) => ({ seq, data: new Uint8Array(len) });
  const ooo = [seg(300, 100), seg(100, 100), seg(200, 50), seg(600, 10), seg(800, 10), seg(900, 1)];
  assert.deepEqual(sackBlocks(ooo, 600, 4), [
    { start: 600, end: 610 },
    { start: 100, end: 250 },
    { start: 300, end: 400 },
    { start: 800, end: 810 },
  ]);
});
