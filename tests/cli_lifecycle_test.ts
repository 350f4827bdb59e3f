/**
 * Container lifecycles through the CLI, with programs from tests/progs running in the Sentry:
 * create/state/start/wait/delete, run and its exit status, kill, two containers at once, and
 * create failing cleanly on a missing or non-ELF executable.
 *
 * These need root (ptrace of the sandbox's stub processes); without it they are skipped.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  compileProg,
  IS_ROOT,
  listDir,
  makeBundle,
  makeRoot,
  readOr,
  type TestRoot,
  waitFor,
} from "./harness.ts";

const SKIP = IS_ROOT ? "" : "needs root";
if (SKIP) console.warn(`cli_lifecycle_test: skipped: ${SKIP}`);

function lifecycleTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: SKIP !== "", sanitizeResources: false, sanitizeOps: false, fn });
}

/** Whether `pid` is a live process (zombies count as gone). */
function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

async function state(t: TestRoot, id: string): Promise<{ status: string; pid: number }> {
  const r = await t.runsc(["state", id]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

lifecycleTest("create, state, start, wait, state, delete run hello in the sandbox", async () => {
  const hello = await compileProg("hello");
  const t = await makeRoot();
  const b = await makeBundle({
    args: ["/bin/hello", "one", "two"],
    files: { "/bin/hello": hello },
    env: ["PATH=/bin", "FOO=bar"],
  });
  const out = join(b.dir, "out");
  try {
    const pidFile = join(b.dir, "pid");
    const c = await t.runsc(
      ["create", "--bundle", b.dir, "--pid-file", pidFile, "c1"],
      { outputFile: out },
    );
    assert.equal(c.code, 0, c.stderr);
    const created = await state(t, "c1");
    assert.equal(created.status, "created");
    // The pid-file names the sandbox, or unshare's process above it when confined as root.
    const named = Number(readOr(pidFile));
    assert.ok(
      named === created.pid || readOr(`/proc/${created.pid}/stat`).split(") ")[1]
            .split(" ")[1] === String(named),
      `pid-file ${named} is the sandbox ${created.pid} or its parent`,
    );
    assert.ok(created.pid > 0);

    const dup = await t.runsc(["create", "--bundle", b.dir, "c1"], { outputFile: out });
    assert.equal(dup.code, 128);
    assert.match(dup.stderr, /container with id "c1" already exists/);
    assert.equal((await state(t, "c1")).status, "created", "the first c1 is untouched");

    const s = await t.runsc(["start", "c1"]);
    assert.equal(s.code, 0, s.stderr);
    const w = await t.runsc(["wait", "c1"]);
    assert.equal(w.code, 0, w.stderr);
    assert.deepEqual(JSON.parse(w.stdout), { id: "c1", exitStatus: 0 });
    assert.equal((await state(t, "c1")).status, "stopped");

    const again = await t.runsc(["start", "c1"]);
    assert.equal(again.code, 128);
    assert.match(again.stderr, /cannot start container "c1" in state stopped/);

    const d = await t.runsc(["delete", "c1"]);
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(listDir(t.root), []);
    assert.ok(await waitFor(() => !alive(created.pid), 5000), `sandbox ${created.pid} is gone`);

    const text = readOr(out);
    assert.match(text, /^hello, world$/m);
    assert.match(text, /^argv\[0\]=\/bin\/hello$/m);
    assert.match(text, /^argv\[2\]=two$/m);
    assert.match(text, /^cwd=\/$/m);
    assert.match(text, /^FOO=bar$/m);
  } finally {
    await b.cleanup();
    await t.cleanup();
  }
});

lifecycleTest("run exits with the program's exit status", async () => {
  const prog = await compileProg("exit_code");
  const t = await makeRoot();
  try {
    for (const code of [0, 3, 255]) {
      const b = await makeBundle({
        args: ["/exit_code", String(code)],
        files: { "/exit_code": prog },
      });
      try {
        const r = await t.runsc(["run", "--bundle", b.dir, `e${code}`]);
        assert.equal(r.code, code, r.stderr);
        assert.deepEqual(listDir(t.root), [], "run deletes the container");
      } finally {
        await b.cleanup();
      }
    }
  } finally {
    await t.cleanup();
  }
});

lifecycleTest(
  "wait reads the exit record left for the ended sandbox, and ignores one that is not a status",
  async () => {
    const prog = await compileProg("exit_code");
    const t = await makeRoot();
    const b = await makeBundle({ args: ["/exit_code", "7"], files: { "/exit_code": prog } });
    try {
      const c = await t.runsc(["create", "--bundle", b.dir, "x"], {
        outputFile: join(b.dir, "out"),
      });
      assert.equal(c.code, 0, c.stderr);
      const { pid } = await state(t, "x");
      const s = await t.runsc(["start", "x"]);
      assert.equal(s.code, 0, s.stderr);
      assert.deepEqual(JSON.parse((await t.runsc(["wait", "x"])).stdout), {
        id: "x",
        exitStatus: 7,
      });
      // Once the sandbox is gone, the record is the only answer.
      assert.ok(await waitFor(() => !alive(pid), 30_000), `sandbox ${pid} is gone`);
      const recorded = await t.runsc(["wait", "x"]);
      assert.deepEqual(JSON.parse(recorded.stdout), { id: "x", exitStatus: 7 }, recorded.stderr);
      // Whoever else could write the file (an unconfined Sentry writes its own) may write
      // anything into it, of any size.
      const path = join(t.root, "x", "exit");
      const hostile: [string, (f: Deno.FsFile) => void][] = [
        ["out of range", (f) => f.writeSync(new TextEncoder().encode("300\n"))],
        ["too long", (f) => f.writeSync(new TextEncoder().encode("99999999999\n"))],
        ["a record then 1 TiB", (f) => {
          f.writeSync(new TextEncoder().encode("7\n"));
          f.truncateSync(2 ** 40);
        }],
      ];
      for (const [what, write] of hostile) {
        {
          using f = Deno.openSync(path, { write: true, truncate: true });
          write(f);
        }
        const w = await t.runsc(["wait", "x"]);
        assert.equal(w.code, 128, `${what}: ${w.stdout}${w.stderr}`);
        assert.match(w.stderr, /container "x" is not running/, what);
        assert.equal((await state(t, "x")).status, "stopped", what);
      }
      assert.equal((await t.runsc(["delete", "x"])).code, 0);
      assert.deepEqual(listDir(t.root), []);
    } finally {
      await b.cleanup();
      await t.cleanup();
    }
  },
);

lifecycleTest("run prints the output of a static-pie program", async () => {
  const hello = await compileProg("hello", { pie: true });
  const t = await makeRoot();
  const b = await makeBundle({ args: ["/hello"], files: { "/hello": hello }, env: ["FOO=pie"] });
  try {
    const r = await t.runsc(["run", "--bundle", b.dir, "pie"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^hello, world$/m);
    assert.match(r.stdout, /^FOO=pie$/m);
  } finally {
    await b.cleanup();
    await t.cleanup();
  }
});

lifecycleTest("kill KILL stops a spinning program with status 137", async () => {
  const spin = await compileProg("spin");
  const t = await makeRoot();
  const b = await makeBundle({ args: ["/spin"], files: { "/spin": spin } });
  try {
    const r = await t.runsc(["run", "--detach", "--bundle", b.dir, "s1"], {
      outputFile: join(b.dir, "out"),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await state(t, "s1")).status, "running");

    const refused = await t.runsc(["delete", "s1"]);
    assert.equal(refused.code, 128);
    assert.match(refused.stderr, /not stopped: running/);

    const k = await t.runsc(["kill", "s1", "KILL"]);
    assert.equal(k.code, 0, k.stderr);
    const w = await t.runsc(["wait", "s1"]);
    assert.deepEqual(JSON.parse(w.stdout), { id: "s1", exitStatus: 137 });
    assert.equal((await state(t, "s1")).status, "stopped");
    const k2 = await t.runsc(["kill", "s1"]);
    assert.equal(k2.code, 128);
    assert.match(k2.stderr, /is not running/);
    assert.equal((await t.runsc(["delete", "s1"])).code, 0);
  } finally {
    await b.cleanup();
    await t.cleanup();
  }
});

lifecycleTest(
  "a Sentry killed from the host: wait answers 137, as its nsinit recorded it",
  async () => {
    const spin = await compileProg("spin");
    const t = await makeRoot();
    const b = await makeBundle({ args: ["/spin"], files: { "/spin": spin } });
    try {
      const r = await t.runsc(["run", "--detach", "--bundle", b.dir, "k1"], {
        outputFile: join(b.dir, "out"),
      });
      assert.equal(r.code, 0, r.stderr);
      const { pid } = await state(t, "k1");
      // The Sentry writes no record of its own: its nsinit records how it ended.
      Deno.kill(pid, "SIGKILL");
      const w = await t.runsc(["wait", "k1"]);
      assert.equal(w.code, 0, w.stderr);
      assert.deepEqual(JSON.parse(w.stdout), { id: "k1", exitStatus: 137 });
      assert.equal(readOr(join(t.root, "k1", "exit")), "137\n");
      assert.equal((await state(t, "k1")).status, "stopped");
      assert.equal((await t.runsc(["delete", "k1"])).code, 0);
    } finally {
      await b.cleanup();
      await t.cleanup();
    }
  },
);

lifecycleTest(
  "run exits 128+signal when the program is killed; init ignores what it has no handler for",
  async () => {
    const spin = await compileProg("spin");
    const t = await makeRoot();
    const b = await makeBundle({ args: ["/spin"], files: { "/spin": spin } });
    try {
      const running = t.runsc(["run", "--bundle", b.dir, "r1"]);
      assert.ok(
        await waitFor(() => readOr(join(t.root, "r1", "state.json")).includes('"running"'), 30_000),
        "r1 starts",
      );
      // As the init of a PID namespace (and as with runc): no handler, so TERM is not delivered.
      const k = await t.runsc(["kill", "r1", "SIGTERM"]);
      assert.equal(k.code, 0, k.stderr);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await state(t, "r1")).status, "running");
      const k9 = await t.runsc(["kill", "r1", "KILL"]);
      assert.equal(k9.code, 0, k9.stderr);
      const r = await running;
      assert.equal(r.code, 128 + 9, r.stderr);
      assert.deepEqual(listDir(t.root), []);
    } finally {
      await b.cleanup();
      await t.cleanup();
    }
  },
);

lifecycleTest("two containers run at once and are listed; delete --force ends both", async () => {
  const spin = await compileProg("spin");
  const t = await makeRoot();
  const b = await makeBundle({ args: ["/spin"], files: { "/spin": spin } });
  try {
    const [a, c] = await Promise.all(
      ["a", "b"].map((id) =>
        t.runsc(["run", "-d", "--bundle", b.dir, id], { outputFile: join(b.dir, `out-${id}`) })
      ),
    );
    assert.equal(a.code, 0, a.stderr);
    assert.equal(c.code, 0, c.stderr);
    const list = await t.runsc(["list", "--format=json"]);
    const rows = JSON.parse(list.stdout) as { id: string; status: string; pid: number }[];
    assert.deepEqual(rows.map((r) => [r.id, r.status]), [["a", "running"], ["b", "running"]]);
    assert.notEqual(rows[0].pid, rows[1].pid);
    const quiet = await t.runsc(["list", "-q"]);
    assert.equal(quiet.stdout, "a\nb\n");
    const ps = await t.runsc(["ps", "a"]);
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, /spin/);

    const d = await t.runsc(["delete", "--force", "a", "b"]);
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(listDir(t.root), []);
    for (const r of rows) {
      assert.ok(await waitFor(() => !alive(r.pid), 5000), `boot ${r.pid} is gone`);
    }
  } finally {
    await b.cleanup();
    await t.cleanup();
  }
});

lifecycleTest("create fails cleanly when the executable is missing or not ELF", async () => {
  const t = await makeRoot();
  const missing = await makeBundle({ args: ["/nope"] });
  const text = await makeBundle({
    args: ["/script"],
    files: { "/script": { text: "just some text\n", mode: 0o755 } },
  });
  try {
    const m = await t.runsc(["create", "--bundle", missing.dir, "m"], {
      outputFile: join(missing.dir, "out"),
    });
    assert.equal(m.code, 128);
    assert.match(m.stderr, /\/nope/);
    assert.deepEqual(listDir(t.root), []);

    const x = await t.runsc(["create", "--bundle", text.dir, "x"], {
      outputFile: join(text.dir, "out"),
    });
    assert.equal(x.code, 128);
    assert.match(x.stderr, /\/script/);
    assert.deepEqual(listDir(t.root), []);
  } finally {
    await missing.cleanup();
    await text.cleanup();
    await t.cleanup();
  }
});

/**
 * The cgroup that schedules `pid` as /proc/<pid>/cgroup names it: v1's cpu hierarchy, or v2's
 * unified one.
 */
function cpuCgroup(pid: number): string {
  const lines = readOr(`/proc/${pid}/cgroup`).split("\n");
  const v1 = lines.find((l) => /^\d+:([^:]*,)?cpu(,[^:]*)?:/.test(l));
  const line = v1 ?? lines.find((l) => l.startsWith("0::"));
  return line ? line.slice(line.indexOf(":", line.indexOf(":") + 1) + 1) : "";
}

lifecycleTest(
  "a spec without a cgroup: its gofer and boot share one of their own, gone after delete",
  async () => {
    const spin = await compileProg("spin");
    const t = await makeRoot();
    const b = await makeBundle({ args: ["/spin"], files: { "/spin": spin } });
    try {
      const c = await t.runsc(["create", "--bundle", b.dir, "g1"], {
        outputFile: join(b.dir, "out"),
      });
      assert.equal(c.code, 0, c.stderr);
      const st = JSON.parse(readOr(join(t.root, "g1", "state.json")));
      // In sessions of their own, gofer and boot would otherwise each be an autogroup: every
      // Gofer round trip a hand-off between two task groups (oci/cgroup.ts).
      const boot = cpuCgroup(st.pid), gofer = cpuCgroup(st.goferPid);
      assert.match(boot, /^\/runsc-ts-g1-[0-9a-f]{8}$/);
      assert.equal(gofer, boot);
      const v2 = readOr("/sys/fs/cgroup/cgroup.controllers") !== "";
      const dirs = v2
        ? [`/sys/fs/cgroup${boot}`]
        : [`/sys/fs/cgroup/cpu${boot}`, `/sys/fs/cgroup/pids${boot}`];
      assert.ok(dirs.every((d) => readOr(join(d, "cgroup.procs")) !== ""), "it is populated");
      const d = await t.runsc(["delete", "--force", "g1"]);
      assert.equal(d.code, 0, d.stderr);
      for (const dir of dirs) assert.throws(() => Deno.statSync(dir), `${dir} is removed`);
    } finally {
      await b.cleanup();
      await t.cleanup();
    }
  },
);
