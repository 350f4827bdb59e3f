/**
 * IPv4 fragmentation and reassembly without a host: fragments made here are put back
 * together in any order, and hostile ones (overlapping, past 64 KiB, misaligned) are dropped.
 */

import assert from "node:assert/strict";
import { v4Mapped } from "./address.ts";
import { fragmentIPv4, fragmentIPv6, Reassembler } from "./fragment.ts";
import { decodeIPv6, encodeIPv6 } from "./ipv6.ts";
import { decodeIPv4, encodeIPv4 } from "./ipv4.ts";

const SRC = v4Mapped(Uint8Array.of(10, 0, 0, 1));
const DST = v4Mapped(Uint8Array.of(10, 0, 0, 2));

function reassemble(r: Reassembler, frags: Uint8Array[]) {
  let whole = null;
  for (const f of frags) {
    const p = decodeIPv4(f, true)!;
    assert.ok(p.fragment, "a fragment");
    whole = r.add(p, p.fragment.id, p.fragment.offset, p.fragment.more) ?? whole;
  }
  return whole;
}

Deno.test("a datagram split into fragments is put back whole, in any order", () => {
  const data = Uint8Array.from({ length: 4000 }, (_, i) => i & 0xff);
  const pkt = encodeIPv4(SRC, DST, 17, data, 64, 0);
  const frags = fragmentIPv4(pkt, 1500);
  assert.equal(frags.length, 3);
  assert.ok(frags.every((f) => f.length <= 1500));
  const r = new Reassembler();
  const whole = reassemble(r, [frags[2], frags[0], frags[1]]);
  assert.ok(whole);
  assert.deepEqual(whole.payload, data);
  assert.equal(whole.protocol, 17);
  assert.equal(whole.raw.length, 20 + data.length);
  assert.equal(whole.fragment, undefined);
  r.close();
});

Deno.test("overlapping, misaligned or oversized fragments drop their datagram", () => {
  const r = new Reassembler();
  const data = new Uint8Array(3000);
  const frags = fragmentIPv4(encodeIPv4(SRC, DST, 17, data, 64, 0), 1500);
  // The first fragment again, shifted by 8 bytes: overlaps it.
  const shifted = frags[0].slice();
  const v = new DataView(shifted.buffer);
  v.setUint16(6, 0x2000 | 1);
  v.setUint16(10, 0);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (shifted[i] << 8) | shifted[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  v.setUint16(10, ~sum & 0xffff);
  assert.equal(reassemble(r, [frags[0], shifted, frags[1], frags[2]]), null);
  const p = decodeIPv4(frags[0], true)!;
  assert.equal(r.add(p, 7, 65528, true), null, "past 64 KiB");
  assert.equal(r.add({ ...p, payload: p.payload.subarray(0, 13) }, 8, 0, true), null);
  assert.ok(r.dropped >= 1);
  r.close();
});

Deno.test("an IPv6 datagram split into fragments is put back whole", () => {
  const src = Uint8Array.of(0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
  const dst = Uint8Array.of(0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2);
  const data = Uint8Array.from({ length: 3000 }, (_, i) => (i * 3) & 0xff);
  const frags = fragmentIPv6(encodeIPv6(src, dst, 58, data, 64, 0), 1280);
  assert.equal(frags.length, 3);
  assert.ok(frags.every((f) => f.length <= 1280));
  const r = new Reassembler();
  let whole = null;
  for (const f of [frags[1], frags[2], frags[0]]) {
    const p = decodeIPv6(f)!;
    assert.ok(p.fragment);
    assert.equal(p.protocol, 58);
    whole = r.add(p, p.fragment.id, p.fragment.offset, p.fragment.more) ?? whole;
  }
  assert.ok(whole);
  assert.deepEqual(whole.payload, data);
  assert.equal(whole.raw[6], 58, "the whole packet names its transport");
  r.close();
});
