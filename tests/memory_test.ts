/**
 * Memory accounting: with linux.resources.memory.limit set, a program that allocates without
 * end is refused with ENOMEM near the limit, and the sandbox stays up to report it.
 */

import assert from "node:assert/strict";
import { compileProg, IS_ROOT, makeBundle, makeRoot } from "./harness.ts";

Deno.test({
  name: "a runaway allocation gets ENOMEM at the spec's memory limit",
  ignore: !IS_ROOT,
  async fn() {
    const exe = await compileProg("mem_hog");
    const bundle = await makeBundle({
      args: ["/mem_hog", "1024"],
      files: { mem_hog: exe },
      config: { linux: { resources: { memory: { limit: 64 * 1024 * 1024 } } } },
    });
    const root = await makeRoot();
    try {
      const r = await root.runsc(["run", "--bundle", bundle.dir, "hog"]);
      assert.equal(r.code, 0, r.stderr);
      const m = /got=(\d+) errno=(.*)/.exec(r.stdout);
      assert.ok(m, r.stdout);
      const got = Number(m[1]);
      assert.equal(m[2], "Cannot allocate memory");
      assert.ok(got >= 32 && got <= 80, `allocated ${got} MiB under a 64 MiB limit`);
    } finally {
      await root.cleanup();
      await bundle.cleanup();
    }
  },
});
