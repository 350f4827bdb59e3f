/** Address helpers. */

import assert from "node:assert/strict";
import { inPrefix } from "./address.ts";

Deno.test("inPrefix() compares exactly the prefix's bits, whole bytes and a partial last one", () => {
  const a = new Uint8Array(16).fill(0xab);
  for (let len = 0; len <= 128; len++) {
    assert.ok(inPrefix(a, a, len), `len ${len}`);
    for (let bit = 0; bit < 128; bit++) {
      // The address differs from the prefix in one bit: inside the prefix only if bit < len.
      const b = a.slice();
      b[bit >> 3] ^= 0x80 >> (bit & 7);
      assert.equal(inPrefix(b, a, len), bit >= len, `len ${len} bit ${bit}`);
    }
  }
});
