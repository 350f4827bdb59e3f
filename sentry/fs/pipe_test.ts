import assert from "node:assert/strict";
import { BufferIo } from "../mm/io.ts";
import { Pipe, PIPE_BUF } from "./pipe.ts";

const put = (p: Pipe, n: number, first = true) => p.put(new BufferIo(new Uint8Array(n)), first);
const take = (p: Pipe, n: number) => p.take(new BufferIo(new Uint8Array(n)));

Deno.test("Pipe.put() keeps a write of at most PIPE_BUF bytes whole", () => {
  const p = new Pipe();
  p.setCapacity(2 * 4096);
  assert.equal(put(p, 4096 + 100), 4096 + 100);
  // One page is partly used and one is full: a 4000-byte write does not fit in the tail.
  assert.equal(put(p, 4000), 0);
  assert.equal(take(p, 4096 + 100), 4096 + 100);
  assert.equal(put(p, PIPE_BUF), PIPE_BUF);
});

Deno.test("Pipe.put() merges only a first piece's sub-page tail into the last page", () => {
  const p = new Pipe();
  assert.equal(put(p, 100), 100);
  assert.equal(p.used, 1);
  assert.equal(put(p, 100), 100);
  assert.equal(p.used, 1);
  assert.equal(put(p, 100, false), 100);
  assert.equal(p.used, 2);
});

Deno.test("Pipe.peek() leaves the data for the next take()", () => {
  const p = new Pipe();
  p.put(new BufferIo(new TextEncoder().encode("abc")), true);
  const seen = new Uint8Array(10);
  assert.equal(p.peek(seen), 3);
  assert.equal(new TextDecoder().decode(seen.subarray(0, 3)), "abc");
  const out = new Uint8Array(3);
  assert.equal(p.take(new BufferIo(out)), 3);
  assert.equal(new TextDecoder().decode(out), "abc");
  assert.equal(p.size, 0);
});

Deno.test("Pipe keeps bytes in order as its ring wraps", () => {
  const p = new Pipe();
  p.setCapacity(4 * 4096);
  const sent: number[] = [];
  const got: number[] = [];
  let next = 0;
  for (let round = 0; round < 50; round++) {
    const src = new Uint8Array(1000 + (round * 777) % 9000).map(() => next++ & 0xff);
    const n = p.put(new BufferIo(src), true);
    sent.push(...src.subarray(0, n));
    next -= src.length - n;
    const out = new Uint8Array(3000 + (round * 313) % 5000);
    const m = p.take(new BufferIo(out));
    got.push(...out.subarray(0, m));
  }
  const rest = new Uint8Array(p.size);
  p.take(new BufferIo(rest));
  got.push(...rest);
  assert.deepEqual(got, sent);
  assert.equal(p.used, 0);
});

Deno.test("Pipe.setCapacity() keeps buffered data and refuses to drop any (EBUSY)", () => {
  const p = new Pipe();
  const src = new Uint8Array(3 * 4096).map((_, i) => i & 0xff);
  // Move the ring's head so that the data wraps before the resize.
  put(p, 14 * 4096);
  take(p, 14 * 4096);
  assert.equal(p.put(new BufferIo(src), true), src.length);
  assert.throws(() => p.setCapacity(2 * 4096), /EBUSY/);
  p.setCapacity(4 * 4096);
  assert.equal(p.capacity, 4 * 4096);
  assert.ok(!p.full);
  const out = new Uint8Array(src.length);
  assert.equal(p.take(new BufferIo(out)), src.length);
  assert.deepEqual(out, src);
});

Deno.test("Pipe.setCapacity() never lets two slots share a page", () => {
  const p = new Pipe();
  put(p, 16 * 4096);
  take(p, 16 * 4096);
  const a = new Uint8Array(3 * 4096).fill(1);
  p.put(new BufferIo(a), true);
  p.setCapacity(32 * 4096);
  const b = new Uint8Array(29 * 4096).fill(2);
  assert.equal(p.put(new BufferIo(b), true), b.length);
  const out = new Uint8Array(32 * 4096);
  assert.equal(p.take(new BufferIo(out)), out.length);
  assert.deepEqual(out.subarray(0, a.length), a);
  assert.deepEqual(out.subarray(a.length), b);
});
