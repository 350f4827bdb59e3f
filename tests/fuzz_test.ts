/**
 * Hostile programs: random system calls with random arguments (tests/progs/syscall_fuzz.c)
 * must leave the sandbox standing. The program finishes, and the sandbox reports no Sentry
 * error (an exception that is not a Linux errno would be a Sentry bug) in its count.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { compileProg, IS_ROOT, makeBundle, makeRoot, sentryErrorCounts } from "./harness.ts";

for (const seed of ["1", "20261123"]) {
  Deno.test({
    name: `random system calls (seed ${seed}) leave the sandbox standing`,
    ignore: !IS_ROOT,
    async fn() {
      const exe = await compileProg("syscall_fuzz");
      const bundle = await makeBundle({
        args: ["/syscall_fuzz", "3000", seed],
        files: { syscall_fuzz: exe, "tmp/.keep": { text: "" } },
        config: { root: { path: "rootfs", readonly: false } },
      });
      const root = await makeRoot();
      const logDir = await Deno.makeTempDir({ prefix: "runsc-fuzz-log-" });
      const log = join(logDir, "debug.log");
      try {
        const r = await root.runsc(
          ["run", "--bundle", bundle.dir, "fuzz"],
          { timeoutMs: 120_000 },
          ["--debug", `--debug-log=${log}`],
        );
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^fuzzed 3000 calls in 30 children$/m);
        assert.deepEqual(sentryErrorCounts(log), [0], "the Sentry threw on a hostile argument");
      } finally {
        await root.cleanup();
        await bundle.cleanup();
        await Deno.remove(logDir, { recursive: true });
      }
    },
  });
}
