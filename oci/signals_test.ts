import assert from "node:assert/strict";
import { parseSignal } from "./signals.ts";

Deno.test("parseSignal() reads names with or without SIG, any case, and numbers", () => {
  assert.equal(parseSignal("KILL"), 9);
  assert.equal(parseSignal("SIGKILL"), 9);
  assert.equal(parseSignal("term"), 15);
  assert.equal(parseSignal("9"), 9);
  assert.equal(parseSignal("SIGRTMIN+2"), 36);
  assert.equal(parseSignal("NOPE"), null);
  assert.equal(parseSignal("0"), null);
  assert.equal(parseSignal("65"), null);
});
