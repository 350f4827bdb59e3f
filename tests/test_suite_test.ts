/**
 * tools/test_suite.ts, the runner of `deno task test`, on a suite of files made here: they run at
 * the same time in processes of their own; a failing test fails the run and is named; a file that
 * fails once and passes on its retry alone is named flaky and does not fail the run.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO } from "./harness.ts";

/** A test file that records its pid and when it ran, and passes or fails. */
function fixture(log: string, name: string, pass: boolean): string {
  return `
Deno.test("${name} ${pass ? "passes" : "fails on purpose"}", async () => {
  const start = Date.now();
  await new Promise((r) => setTimeout(r, 3000));
  Deno.writeTextFileSync(${JSON.stringify(log)}, \`\${Deno.pid} \${start} \${Date.now()}\\n\`, {
    append: true,
  });
  if (${!pass}) throw new Error("${name} failed as it should");
});
`;
}

/** A test file that fails on its first run and passes on the next (`mark` remembers). */
function flakyFixture(mark: string): string {
  return `
Deno.test("c fails once", () => {
  try {
    Deno.statSync(${JSON.stringify(mark)});
  } catch {
    Deno.writeTextFileSync(${JSON.stringify(mark)}, "");
    throw new Error("c fails the first time");
  }
});
`;
}

Deno.test("the suite runner runs files side by side in their own processes, names a failure and a flake", async () => {
  const dir = await Deno.makeTempDir({ prefix: "runsc-suite-" });
  try {
    const log = join(dir, "runs.log");
    await Deno.writeTextFile(join(dir, "a_test.ts"), fixture(log, "a", true));
    await Deno.writeTextFile(join(dir, "b_test.ts"), fixture(log, "b", false));
    await Deno.writeTextFile(join(dir, "c_test.ts"), flakyFixture(join(dir, "c.mark")));
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", join(REPO, "tools", "test_suite.ts")],
      env: { RUNSC_TEST_ROOTS: dir, RUNSC_TEST_JOBS: "3", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(r.stdout);
    assert.notEqual(r.code, 0, out);
    assert.match(out, /b fails on purpose/);
    const failedList = out.slice(out.indexOf("test: FAILED files:"));
    assert.match(failedList, /b_test\.ts/, out);
    assert.doesNotMatch(failedList, /a_test\.ts/, out);
    assert.doesNotMatch(failedList, /c_test\.ts/, out);
    const flakyList = out.slice(
      out.indexOf("test: FLAKY files"),
      out.indexOf("test: FAILED files:"),
    );
    assert.match(flakyList, /c_test\.ts/, out);
    assert.doesNotMatch(flakyList, /[ab]_test\.ts/, out);

    const runs = Deno.readTextFileSync(log).trim().split("\n").map((l) => l.split(" ").map(Number));
    // a and b side by side, then b's retry alone.
    assert.equal(runs.length, 3, out);
    const [[pidA, startA, endA], [pidB, startB, endB], [, startRetry]] = runs;
    assert.ok(startRetry >= Math.max(endA, endB), `the retry ran among others: ${runs}`);
    assert.notEqual(pidA, pidB);
    assert.ok(startA < endB && startB < endA, `the two files did not overlap: ${runs}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
