/**
 * The TCP data path's buffer pool: a buffer comes back only once every holder is done with
 * it, and no byte a reused buffer last held reaches another connection's reader.
 */

import assert from "node:assert/strict";
import { allocate, isPooled, poolStats, release, retain } from "./buffer_pool.ts";
import { NetStack } from "./socket.ts";
import { streamBuffer } from "./tcp_header.ts";
import type { TCPEndpoint } from "./tcp_endpoint.ts";
import { connectedPair, settle } from "./testutil.ts";

Deno.test("a pooled buffer is handed out again only after its last holder released it", () => {
  const a = allocate(30000, 100);
  assert.ok(isPooled(a));
  retain(a); // a queue keeps a view of it
  release(a); // its maker is done
  const b = allocate(30000, 100);
  assert.notEqual(b.buffer, a.buffer, "still held by the queue");
  release(a); // the queue is done too
  const c = allocate(20000, 100);
  assert.equal(c.buffer, a.buffer, "reused once nobody holds it");
  assert.equal(c.length, 20000);
  assert.equal(c.byteOffset, 100);
  release(b);
  release(c);
});

Deno.test("a 64 KiB write with its headers' room takes a 64 KiB buffer, not a 256 KiB one", () => {
  const a = allocate(65536, 100);
  assert.ok(a.buffer.byteLength < 65536 + 1024, `${a.buffer.byteLength} bytes`);
  release(a);
});

Deno.test("small buffers are not pooled and releasing them does nothing", () => {
  const a = allocate(100, 40);
  assert.ok(!isPooled(a));
  release(a);
  assert.notEqual(allocate(100, 40).buffer, a.buffer);
});

/** What the endpoint has buffered, copied out as the socket does. */
function drain(ep: TCPEndpoint): number[] {
  const out: number[] = [];
  while (ep.readable > 0) out.push(...ep.read(ep.readable, false).data);
  return out;
}

/** Writes n bytes of `fill` from a pooled buffer, copied into `written` of them as writeFrom does. */
function write(ep: TCPEndpoint, n: number, fill: number, written = n): void {
  const piece = streamBuffer(n);
  piece.fill(fill, 0, written);
  // A copy from the application cut short (a fault) passes on only what it copied.
  assert.equal(ep.write(written < n ? piece.subarray(0, written) : piece, null, true), written);
  release(piece); // the writer is done with it, as the socket is
}

Deno.test("pooled buffers are reused only when unread, and only with the bytes written", async () => {
  const ns = new NetStack();
  const [, c1, s1] = await connectedPair(ns);
  const [, c2, s2] = await connectedPair(ns);
  const before = poolStats.reused;
  for (let round = 0; round < 8; round++) {
    // A secret sent on one connection, delivered and acknowledged, not yet read.
    write(c1, 60000, 0xee);
    await settle();
    // Another connection's writes take buffers meanwhile: none of them may be the one the
    // unread secret lies in.
    write(c2, 60000, round);
    await settle();
    assert.deepEqual(new Set(drain(s1)), new Set([0xee]), `round ${round}: secret intact`);
    assert.deepEqual(new Set(drain(s2)), new Set([round]));
    await settle();
    // Now the secret's buffer is free: a write that copies fewer bytes than it asked for
    // sends only those, never the rest of what the buffer held.
    const copied = 1000 + round;
    write(c2, 60000, round, copied);
    await settle();
    assert.deepEqual(drain(s2), new Array(copied).fill(round), `round ${round}`);
    await settle();
  }
  assert.ok(poolStats.reused > before, "the test exercised reuse");
});
