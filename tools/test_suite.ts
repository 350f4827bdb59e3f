/**
 * The whole test suite (`deno task test`): a parallel phase, then a serial one.
 *
 * Each test file of the parallel phase runs in a `deno test` process of its own, a few at a time
 * (RUNSC_TEST_JOBS, default twice the number of CPUs), longest first by the previous run's
 * times, so that what one file does to its process (a child subreaper, a ptrace waiter that
 * reaps any child, environment variables) cannot reach another. The serial phase then runs,
 * alone, the files whose checks read the whole host or that a busy host breaks (SERIAL). The code
 * is type-checked once, first, as `deno test` does.
 *
 * Arguments (e.g. `--filter name`) go to every `deno test` run. A file that fails runs once more,
 * alone, at the end (RUNSC_TEST_RETRY=0: not); the exit status is non-zero when any file failed
 * its retry too, and the end of the output names the failed and the flaky files, with the end of
 * each failed run's output (deno's list of failures); each file's own output is printed whole
 * when it finishes.
 *
 * @module
 */

import { dirname, join, resolve } from "node:path";

const REPO = join(dirname(new URL(import.meta.url).pathname), "..");
/** The folders whose test files make the suite; RUNSC_TEST_ROOTS (":"-separated) for others. */
const ROOTS = Deno.env.get("RUNSC_TEST_ROOTS")?.split(":") ??
  ["tests", "host", "oci", "sentry", "gofer", "platform"];

/**
 * Files that must run with no other test file of the suite alive: hostcheck.ts counts mounts,
 * files in host directories and .cache/ and orphaned stubs of the whole host as the test's own.
 */
const SERIAL = [
  // Leaks a container's cgroup when the host is busy (runsc delete gives a busy cgroup 3 s).
  "tests/docker_test.ts",
  "tests/security/escape_test.ts",
  "tests/security/faults_test.ts",
  "tests/security/soak_test.ts",
  "tests/security/stub_test.ts",
];

/** Where the previous run's seconds per file are kept, to start the longest files first. */
const TIMES = join(REPO, ".cache", "test-times.json");

const DENO = Deno.execPath();
const extra = Deno.args;
const enc = new TextEncoder();

/** Writes all of `bytes` to stdout (a pipe may take them in parts). */
function writeAll(bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
}

const say = (s: string) => writeAll(enc.encode(s + "\n"));

/** Lines of a failed file's output repeated at the end: deno lists the failures last. */
const FAILURE_LINES = 120;

/** The last `n` lines of `out`, without the passing tests' lines. */
function tail(out: Uint8Array, n: number): string {
  const colour = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");
  const lines = new TextDecoder().decode(out).split("\n")
    .filter((l) => !/ \.\.\. ok\b/.test(l.replace(colour, "")));
  return lines.slice(-n).join("\n");
}

/** Test files under `dir`, as `deno test` finds them (x_test.ts, x.test.ts, test.ts). */
function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(resolve(REPO, dir))) {
    const path = join(dir, e.name);
    if (e.isDirectory) out.push(...testFiles(path));
    else if (/(^|[._])test\.(ts|tsx|mts|js|mjs|jsx)$/.test(e.name)) out.push(path);
  }
  return out;
}

function loadTimes(): Record<string, number> {
  try {
    return JSON.parse(Deno.readTextFileSync(TIMES));
  } catch {
    return {};
  }
}

/** Runs `deno test` on one file, its stderr into its stdout (in order), captured. */
async function denoTest(file: string): Promise<{ ok: boolean; out: Uint8Array }> {
  const r = await new Deno.Command("sh", {
    args: ["-c", 'exec "$@" 2>&1', "sh", DENO, "test", "-A", "--no-check", ...extra, file],
    cwd: REPO,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).output();
  return { ok: r.success, out: r.stdout };
}

async function main(): Promise<number> {
  const all = ROOTS.flatMap(testFiles).sort();
  const check = await new Deno.Command(DENO, {
    args: ["check", ...all],
    cwd: REPO,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!check.success) {
    say("test: type check failed");
    return 1;
  }

  const times = loadTimes();
  const serial = all.filter((f) => SERIAL.includes(f));
  // Unknown files first (they may be long), then longest first.
  const queue = all.filter((f) => !SERIAL.includes(f))
    .sort((a, b) => (times[b] ?? Infinity) - (times[a] ?? Infinity));
  // Twice the CPUs: the serial suite kept its CPU busy about a quarter of its time (2026-12, two
  // cores: 135 s of CPU in 488 s), waiting on sandboxes, timers and compilers the rest.
  const jobs = Number(Deno.env.get("RUNSC_TEST_JOBS")) || 2 * (navigator.hardwareConcurrency || 1);
  const failed: string[] = [];
  /** The end of each failed file's output: CI keeps only the tail of the whole run's. */
  const failures: string[] = [];
  const newTimes: Record<string, number> = {};
  const t0 = performance.now();

  /** Runs the files of `q`, n at a time, each in its own process. */
  const run = (q: string[], n: number) => {
    const worker = async () => {
      for (let f = q.shift(); f !== undefined; f = q.shift()) {
        const start = performance.now();
        const r = await denoTest(f);
        newTimes[f] = Math.round(performance.now() - start) / 1000;
        if (!r.ok) {
          failed.push(f);
          failures.push(`==== ${f}: the end of its output\n${tail(r.out, FAILURE_LINES)}`);
        }
        say(`==== ${f} (${newTimes[f].toFixed(1)} s): ${r.ok ? "ok" : "FAILED"}`);
        writeAll(r.out);
      }
    };
    return Promise.all(Array.from({ length: n }, worker));
  };

  say(`test: ${queue.length} files, ${jobs} at a time; then ${serial.length} alone`);
  await run(queue, jobs);
  const parallelSecs = (performance.now() - t0) / 1000;
  await run(serial, 1);

  const secs = (performance.now() - t0) / 1000;
  say(`test: parallel phase ${parallelSecs.toFixed(0)} s, whole suite ${secs.toFixed(0)} s`);
  // Times are the repository's suite's; another set of roots (a test of this file) keeps none.
  if (!Deno.env.has("RUNSC_TEST_ROOTS")) {
    try {
      Deno.mkdirSync(dirname(TIMES), { recursive: true });
      Deno.writeTextFileSync(TIMES, JSON.stringify({ ...times, ...newTimes }, null, 1) + "\n");
    } catch { /* only an ordering hint */ }
  }
  for (const f of failures) say(f);
  if (failed.length === 0) {
    say("test: all files passed");
    return 0;
  }
  // A file that failed among others runs once more, alone: on two cores a test that waits on
  // a sandbox can lose to the load of three other files, and one such loss must not hide the
  // result of the whole run. A real failure fails again alone; a file that passes on its retry
  // is named FLAKY above the verdict, with its first run's failures printed above, to be mended.
  const retries = Deno.env.get("RUNSC_TEST_RETRY") === "0" ? [] : [...failed];
  const flaky: string[] = [];
  for (const f of retries) {
    say(`==== ${f}: failed among others; once more, alone`);
    const r = await denoTest(f);
    writeAll(r.out);
    if (r.ok) flaky.push(f);
    else say(`==== ${f}: the end of its retry's output\n${tail(r.out, FAILURE_LINES)}`);
  }
  const still = failed.filter((f) => !flaky.includes(f));
  if (flaky.length > 0) {
    say(
      `test: FLAKY files (failed among others, passed alone):\n${
        flaky.map((f) => `  ${f}`).join("\n")
      }`,
    );
  }
  if (still.length > 0) {
    say(`test: FAILED files:\n${still.map((f) => `  ${f}`).join("\n")}`);
    return 1;
  }
  say("test: all files passed (some only on their retry: see FLAKY above)");
  return 0;
}

Deno.exit(await main());
