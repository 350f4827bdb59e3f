import assert from "node:assert/strict";
import { runsc } from "../../tests/harness.ts";
import { formatCompat } from "./compat.ts";
import { SYSCALL_TABLE } from "./table.ts";

Deno.test("every partial or unimplemented syscall says why", () => {
  const silent = SYSCALL_TABLE.filter((e) => e && e.support !== "supported" && !e.note?.trim());
  assert.deepEqual(silent.map((e) => e.name), []);
});

Deno.test("runsc help syscalls prints every call with its support and reason", async () => {
  const r = await runsc(["help", "syscalls"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, formatCompat("table"));
  assert.match(r.stdout, /^\s*0 {2}read {2,}supported\s*$/m);
  assert.match(r.stdout, /^\s*272 {2}unshare {2,}unimplemented {2}\S.*$/m);
  const json = JSON.parse((await runsc(["help", "syscalls", "--format=json"])).stdout);
  assert.equal(json.length, SYSCALL_TABLE.filter(Boolean).length);
  const bad = await runsc(["help", "syscalls", "--format=xml"]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--format must be one of/);
});
