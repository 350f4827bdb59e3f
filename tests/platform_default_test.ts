/**
 * The default platform: with no --platform, boot runs systrap where the host can run it and
 * ptrace otherwise (its debug log says why); --platform=ptrace still selects ptrace.
 */

import assert from "node:assert/strict";
import { IS_ROOT, makeRoot } from "./harness.ts";
import { platformUnavailable } from "./probe.ts";

/** The platform boot reports in its debug log when it runs `true` with `flags`. */
async function platformOf(flags: string[]): Promise<{ platform: string; log: string }> {
  const root = await makeRoot();
  const logs = await Deno.makeTempDir({ prefix: "runsc-platform-log-" });
  try {
    const r = await root.runsc(["do", "/bin/true"], {}, [
      "--debug",
      `--debug-log=${logs}/`,
      ...flags,
    ]);
    assert.equal(r.code, 0, r.stderr);
    let log = "";
    for (const e of Deno.readDirSync(logs)) {
      if (e.isFile && e.name.endsWith(".boot.log")) {
        log += Deno.readTextFileSync(`${logs}/${e.name}`);
      }
    }
    const m = log.match(/phase boot: platform ready \{.*"platform":"(\w+)"/);
    assert.ok(m, `no platform in the boot log:\n${log}`);
    return { platform: m[1], log };
  } finally {
    await root.cleanup();
    await Deno.remove(logs, { recursive: true });
  }
}

Deno.test({
  name: "with no --platform boot runs systrap where it can, else ptrace and says why",
  ignore: !IS_ROOT,
  async fn() {
    const why = platformUnavailable("systrap");
    const { platform, log } = await platformOf([]);
    assert.equal(platform, why === null ? "systrap" : "ptrace");
    if (why !== null) assert.match(log, /platform systrap is unusable here .*: ptrace instead/);
  },
});

Deno.test({
  name: "--platform=ptrace still runs ptrace",
  ignore: !IS_ROOT,
  async fn() {
    assert.equal((await platformOf(["--platform=ptrace"])).platform, "ptrace");
  },
});
