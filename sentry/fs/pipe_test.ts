import assert from "node:assert/strict";
import { Pipe, PIPE_BUF } from "./pipe.ts";

Deno.test("Pipe.put() keeps a write of at most PIPE_BUF bytes whole", () => {
  const p = new Pipe();
  p.capacity = 2 * 4096;
  assert.equal(p.put(new Uint8Array(4096 + 100), true), 4096 + 100);
  // One page is partly used and one is full: a 4000-byte write does not fit in the tail.
  assert.equal(p.put(new Uint8Array(4000), true), 0);
  const out = new Uint8Array(4096 + 100);
  assert.equal(p.take(out), 4096 + 100);
  assert.equal(p.put(new Uint8Array(PIPE_BUF), true), PIPE_BUF);
});

Deno.test("Pipe.peek() leaves the data for the next take()", () => {
  const p = new Pipe();
  p.put(new TextEncoder().encode("abc"), true);
  assert.equal(new TextDecoder().decode(p.peek(10)), "abc");
  const out = new Uint8Array(3);
  assert.equal(p.take(out), 3);
  assert.equal(p.size, 0);
});
