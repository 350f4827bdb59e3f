/**
 * Start-up (issue 16): the `--debug` timeline of every role, what a confined Sentry and Gofer
 * hold open of the host, and the program's builds (source, bundle, compiled).
 *
 * These need root (the sandbox's namespaces and ptrace); without it they are skipped.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { compileProg, IS_ROOT, makeBundle, makeRoot, readOr } from "./harness.ts";

const SKIP = IS_ROOT ? "" : "needs root";
if (SKIP) console.warn(`startup_test: skipped: ${SKIP}`);

function startupTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: SKIP !== "", sanitizeResources: false, sanitizeOps: false, fn });
}

/** The `phase` names of a debug log, in order. */
function phases(text: string): string[] {
  return [...text.matchAll(/ phase ([^{\n]+?) \{"ms":[0-9.]+/g)].map((m) => m[1]);
}

startupTest(
  "--debug prints the start-up and tear-down phases of the CLI, boot and gofer",
  async () => {
    const t = await makeRoot();
    const logs = await Deno.makeTempDir({ prefix: "runsc-timeline-" });
    const b = await makeBundle({ args: ["/true"], files: { true: await compileProg("true") } });
    try {
      const r = await t.runsc(["run", "--bundle", b.dir, "tl"], {}, [
        "--debug",
        `--debug-log=${logs}/`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const cli = phases(readOr(join(logs, "runsc.tl.run.log")));
      const boot = phases(readOr(join(logs, "runsc.tl.boot.log")));
      const gofer = phases(readOr(join(logs, "runsc.gofer.log")));
      assert.deepEqual(cli, [
        "cli: loaded",
        "create: gofer and boot spawned",
        "create: sandbox ready",
        "start: started",
        "run: exited",
        "delete: processes gone",
        "delete: removed",
      ]);
      assert.deepEqual(boot, [
        "boot: loaded",
        "boot: sentry loaded",
        "boot: platform ready",
        "boot: mounts ready (gofer handshake)",
        "boot: init loaded",
        "boot: ready",
        "boot: init runs",
        "boot: init exited",
      ]);
      assert.deepEqual(gofer, ["gofer: loaded", "gofer: mounts opened", "gofer: serving"]);
    } finally {
      await t.cleanup();
      await b.cleanup();
      await Deno.remove(logs, { recursive: true });
    }
  },
);
