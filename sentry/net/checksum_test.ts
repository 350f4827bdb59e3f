/** Checksums of the headers the stack writes, checked the way a receiver checks them. */

import assert from "node:assert/strict";
import { LOOPBACK4, LOOPBACK6, v4Mapped } from "./address.ts";
import { checksum } from "./checksum.ts";
import { decodeIPv4, encodeIPv4 } from "./ipv4.ts";
import { IPPROTO_TCP } from "./stack.ts";
import { ACK, decodeTCP, encodeTCP, type Segment } from "./tcp_header.ts";

const seg: Segment = {
  sport: 40000,
  dport: 80,
  seq: 0xfffffff0,
  ack: 12345,
  flags: ACK,
  window: 512,
  mss: 1460,
  wscale: 7,
  data: new TextEncoder().encode("odd length payload!"),
};

Deno.test("an IPv4 header sums to zero and survives a round trip", () => {
  const dst = v4Mapped(Uint8Array.of(127, 1, 2, 3));
  const pkt = encodeIPv4(LOOPBACK4, dst, IPPROTO_TCP, new Uint8Array(7), 64, 0);
  assert.equal(checksum(pkt.subarray(0, 20)), 0);
  const back = decodeIPv4(pkt, true);
  assert.ok(back);
  assert.deepEqual(back.dst, dst);
  pkt[8] ^= 1;
  assert.equal(decodeIPv4(pkt, true), null, "a corrupted header is dropped");
});

const families: [string, Uint8Array][] = [["IPv4", LOOPBACK4], ["IPv6", LOOPBACK6]];
for (const [name, src] of families) {
  const dst = src;
  Deno.test(`a TCP segment over ${name} verifies, its options come back, corruption is caught`, () => {
    const b = encodeTCP(src, dst, seg);
    const back = decodeTCP(src, dst, b, true);
    assert.ok(back);
    assert.equal(back.seq, seg.seq);
    assert.equal(back.mss, 1460);
    assert.equal(back.wscale, 7);
    assert.deepEqual(back.data, seg.data);
    b[b.length - 1] ^= 0x40;
    assert.equal(decodeTCP(src, dst, b, true), null);
  });
}
