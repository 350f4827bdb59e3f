import assert from "node:assert/strict";
import { isAbsolute } from "node:path";
import { mainScript, runningFromSource, selfArgv } from "./reexec.ts";

Deno.test("selfArgv() re-runs main.ts under deno when running from source", () => {
  assert.equal(runningFromSource(), true);
  const argv = selfArgv("boot", ["--id", "c1"]);
  assert.equal(argv[0], Deno.execPath());
  assert.deepEqual(argv.slice(1, 4), ["run", "-A", "--quiet"]);
  assert.equal(argv[4], mainScript());
  assert.ok(isAbsolute(argv[4]) && argv[4].endsWith("/main.ts"));
  assert.deepEqual(argv.slice(5), ["boot", "--id", "c1"]);
});
