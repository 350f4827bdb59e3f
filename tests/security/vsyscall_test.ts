/**
 * The legacy vsyscall page: every call through it stops in the Sentry, on every platform.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { compileProg, IS_ROOT, makeBundle, makeRoot, readOr } from "../harness.ts";
import { PLATFORMS, platformUnavailable, probeTests } from "../probe.ts";

probeTests([{ prog: "sec_vsyscall" }]);

for (const platform of PLATFORMS) {
  Deno.test({
    name: `vsyscall calls are served by the Sentry, seen by --strace (${platform})`,
    ignore: !IS_ROOT || platformUnavailable(platform) !== null,
    async fn() {
      const prog = await compileProg("sec_vsyscall");
      const t = await makeRoot();
      const logs = await Deno.makeTempDir({ prefix: "runsc-vsyscall-log-" });
      const b = await makeBundle({
        args: ["/sec_vsyscall", "loop"],
        files: { "/sec_vsyscall": prog },
      });
      try {
        const r = await t.runsc(
          ["run", "--bundle", b.dir, "v"],
          {},
          [`--platform=${platform}`, "--strace", "--debug", `--debug-log=${logs}/`],
        );
        assert.equal(r.code, 0, r.stderr);
        const log = [...Deno.readDirSync(logs)].map((e) => readOr(join(logs, e.name))).join("");
        // The three entries reached the Sentry's handlers (the host would leave no trace).
        for (const name of ["gettimeofday", "time", "getcpu"]) {
          assert.match(log, new RegExp(`vsyscall ${name} served by the Sentry`), name);
        }
        assert.match(log, /\] time\(/);
        assert.match(r.stdout, /time: within 1s of clock_gettime 1, same through the pointer 1/);
      } finally {
        await t.cleanup();
        await b.cleanup();
        await Deno.remove(logs, { recursive: true });
      }
    },
  });
}
