/**
 * `runsc do`: a command runs in a sandbox over the host's root filesystem, with the caller's
 * working directory and environment; its flags stay its own; its exit status comes back; what
 * it writes stays in the sandbox's overlay and never reaches the host.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { IS_ROOT, makeRoot } from "./harness.ts";

Deno.test({
  name: "runsc do runs a host command sandboxed and keeps the host unchanged",
  ignore: !IS_ROOT,
  async fn() {
    const root = await makeRoot();
    const dir = await Deno.makeTempDir({ prefix: "runsc-do-test-" });
    const marker = join(dir, "written-inside");
    try {
      const r = await root.runsc(
        [
          "do",
          "/bin/sh",
          "-c",
          `pwd; echo "FOO=$FOO"; ls -d /bin; echo data > ${marker} && cat ${marker}; exit 7`,
        ],
        { cwd: dir },
      );
      assert.equal(r.code, 7, r.stderr);
      assert.equal(r.stdout, `${dir}\nFOO=\n/bin\ndata\n`);
      assert.throws(() => Deno.statSync(marker), Deno.errors.NotFound);
      const env = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--quiet",
          join(import.meta.dirname!, "..", "main.ts"),
          "--root",
          root.root,
          "do",
          "/usr/bin/env",
        ],
        env: { FOO: "from-the-caller" },
        stdout: "piped",
      }).output();
      assert.match(new TextDecoder().decode(env.stdout), /^FOO=from-the-caller$/m);
      assert.deepEqual([...Deno.readDirSync(root.root)], [], "do leaves no container behind");
    } finally {
      await root.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
