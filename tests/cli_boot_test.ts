/** Helpers of the boot process (boot/boot.ts) that do not need a sandbox. */

import assert from "node:assert/strict";
import { debugLogPath } from "../oci/global.ts";
import { exitStatusOf } from "../boot/boot.ts";

Deno.test("exitStatusOf() maps wait statuses to shell exit statuses", () => {
  assert.equal(exitStatusOf(0), 0);
  assert.equal(exitStatusOf(3 << 8), 3);
  assert.equal(exitStatusOf(255 << 8), 255);
  assert.equal(exitStatusOf(9), 137); // SIGKILL
  assert.equal(exitStatusOf(15 | 0x80), 143); // SIGTERM with a core dump flag
});

Deno.test("debugLogPath() expands gVisor's patterns and gives a directory one file each", () => {
  assert.equal(debugLogPath("", "c1", "boot"), "");
  assert.equal(debugLogPath("/tmp/x.log", "c1", "boot"), "/tmp/x.log");
  assert.equal(debugLogPath("/tmp/%ID%/%COMMAND%.log", "c1", "boot"), "/tmp/c1/boot.log");
  assert.equal(debugLogPath("/tmp/logs/", "c1", "boot"), "/tmp/logs/runsc.c1.boot.log");
});
