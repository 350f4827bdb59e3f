/**
 * OCI hooks (runtime-spec config.md "POSIX-platform Hooks", runtime.md "Lifecycle"): create
 * runs prestart then createRuntime (status "creating"), start runs poststart (status
 * "running"), delete runs poststop (status "stopped", no pid), each with the state on stdin.
 * A failing prestart or createRuntime fails the create (and the poststop hooks run); a failing
 * poststart or poststop is a warning. Where runc is installed, the states of the hooks runc and
 * the spec agree on are compared with runc's.
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
  REPO,
  type TestRoot,
  waitFor,
} from "./harness.ts";

/**
 * A hook that saves its stdin in `<out>/<name>`, its working directory and $RUNSC_HOOK_TEST in
 * `<out>/<name>.ctx`, and appends `name` to `<out>/order`.
 */
function recorder(out: string, name: string, then = "") {
  const file = join(out, name);
  return {
    path: "/bin/sh",
    args: [
      "sh",
      "-c",
      `cat > ${file}; { /bin/pwd; echo "\${RUNSC_HOOK_TEST-unset}"; } > ${file}.ctx; ` +
      `echo ${name} >> ${join(out, "order")}; ${then}`,
    ],
  };
}

/** Where hook `name` ran and whether it had the runtime's environment, with `dirs` named. */
function contextOf(out: string, name: string, dirs: Record<string, string>): string {
  let ctx = readOr(join(out, `${name}.ctx`));
  for (const [dir, label] of Object.entries(dirs)) ctx = ctx.replace(`${dir}\n`, `${label}\n`);
  return ctx;
}

/** The hooks' order so far. */
function order(out: string): string[] {
  return readOr(join(out, "order")).split("\n").filter(Boolean);
}

/** The state hook `name` read on its stdin. */
function stateOf(out: string, name: string): Record<string, unknown> {
  return JSON.parse(readOr(join(out, name)));
}

/** What a state must look like whatever the runtime: the pid's presence, not its value. */
function shape(st: Record<string, unknown>): Record<string, unknown> {
  const { ociVersion: _, pid, ...rest } = st;
  return { ...rest, pid: typeof pid };
}

const hasRunc = (() => {
  try {
    return Deno.statSync("/usr/sbin/runc").isFile;
  } catch {
    return false;
  }
})();

/**
 * Runs a container with prestart, createRuntime and poststop recorders under runc (its own
 * `runc spec` bundle, `hello` as the program) and returns what each hook read, by name.
 */
async function runcStates(
  hello: string,
): Promise<Record<string, { state: Record<string, unknown>; ctx: string }>> {
  const dir = await Deno.makeTempDir({ prefix: "runsc-hooks-runc-" });
  const out = join(dir, "out");
  const root = join(dir, "root");
  const runc = async (...args: string[]) => {
    // Not piped: the container's init inherits runc's stdio, and a pipe would stay open.
    const r = await new Deno.Command("/usr/sbin/runc", {
      args: ["--root", root, ...args],
      cwd: "/",
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    assert.equal(r.code, 0, `runc ${args.join(" ")} failed`);
  };
  try {
    await Deno.mkdir(join(dir, "rootfs"));
    await Deno.mkdir(out);
    await Deno.copyFile(hello, join(dir, "rootfs", "hello"));
    await Deno.chmod(join(dir, "rootfs", "hello"), 0o755);
    await runc("spec", "--bundle", dir);
    const config = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
    config.process.args = ["/hello"];
    config.process.terminal = false;
    config.annotations = { "org.example.a": "b" };
    config.hooks = {
      prestart: [recorder(out, "prestart")],
      createRuntime: [recorder(out, "createRuntime")],
      poststop: [recorder(out, "poststop")],
    };
    await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(config));
    await runc("create", "--bundle", dir, "hk");
    await runc("start", "hk");
    // Bounds a hang only: hello exits at once.
    assert.ok(
      await waitFor(() => listDir(join(root, "hk")).length > 0 && !isRunning(root), 60_000),
    );
    await runc("delete", "hk");
    assert.deepEqual(order(out), ["prestart", "createRuntime", "poststop"]);
    const states: Record<string, { state: Record<string, unknown>; ctx: string }> = {};
    for (const name of order(out)) {
      states[name] = {
        state: { ...stateOf(out, name), bundle: "<bundle>" },
        ctx: contextOf(out, name, { [dir]: "<bundle>", "/": "<cwd>" }),
      };
    }
    return states;
  } finally {
    await new Deno.Command("/usr/sbin/runc", {
      args: ["--root", root, "delete", "-f", "hk"],
      stdout: "null",
      stderr: "null",
    }).output();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Whether runc's container hk still runs (its state file names a live pid). */
function isRunning(root: string): boolean {
  try {
    const st = JSON.parse(Deno.readTextFileSync(join(root, "hk", "state.json")));
    return Deno.statSync(`/proc/${st.init_process_pid}`).isDirectory &&
      !/^\d+ \(.*\) Z/.test(Deno.readTextFileSync(`/proc/${st.init_process_pid}/stat`));
  } catch {
    return false;
  }
}

/** A bundle running `hello` with `hooks`, and an output directory for the recorders. */
async function hooked(hooks: unknown) {
  const hello = await compileProg("hello");
  const bundle = await makeBundle({
    args: ["/hello"],
    files: { hello },
    config: { hooks, annotations: { "org.example.a": "b" } },
  });
  return bundle;
}

/** `create` with its output in a file (the sandbox keeps the CLI's stdio open). */
function create(root: TestRoot, bundle: string, id: string, extra: string[] = []) {
  return root.runsc(["create", "--bundle", bundle, id], {
    outputFile: join(bundle, `create-${id}.out`),
  }, extra);
}

Deno.test({
  name: "each hook kind runs at its step of the lifecycle with the state of that step",
  ignore: !IS_ROOT,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "runsc-hooks-" });
    const hooks = {
      // A timeout past what a timer holds (about 24 days) must not fire at once.
      prestart: [{ ...recorder(out, "prestart"), timeout: 3_000_000 }],
      createRuntime: [recorder(out, "createRuntime")],
      // Skipped: they would run in the container's namespaces (see oci/hooks.ts).
      createContainer: [recorder(out, "createContainer")],
      startContainer: [recorder(out, "startContainer")],
      poststart: [recorder(out, "poststart")],
      poststop: [
        recorder(out, "poststop"),
        // An environment of its own: nothing of the runtime's.
        {
          path: "/bin/sh",
          args: ["sh", "-c", `echo "\${RUNSC_HOOK_TEST-unset} $A" > ${join(out, "env")}`],
          env: ["A=1"],
        },
      ],
    };
    const bundle = await hooked(hooks);
    const root = await makeRoot();
    // The runtime's environment, which hooks without `env` get (as runc's).
    Deno.env.set("RUNSC_HOOK_TEST", "inherited");
    try {
      const c = await create(root, bundle.dir, "hk");
      assert.equal(c.code, 0, c.stderr);
      assert.match(c.stderr, /createContainer hook\(s\) skipped/);
      assert.deepEqual(order(out), ["prestart", "createRuntime"]);
      const st = JSON.parse((await root.runsc(["state", "hk"])).stdout);
      const { pid, ociVersion } = st;
      assert.equal(st.status, "created");

      const s = await root.runsc(["start", "hk"]);
      assert.equal(s.code, 0, s.stderr);
      assert.match(s.stderr, /startContainer hook\(s\) skipped/);
      assert.deepEqual(order(out), ["prestart", "createRuntime", "poststart"]);
      assert.equal((await root.runsc(["wait", "hk"])).code, 0);

      const d = await root.runsc(["delete", "hk"]);
      assert.equal(d.code, 0, d.stderr);
      assert.deepEqual(order(out), ["prestart", "createRuntime", "poststart", "poststop"]);

      const base = {
        id: "hk",
        bundle: bundle.dir,
        annotations: { "org.example.a": "b" },
      };
      for (const [name, status] of [["prestart", "creating"], ["createRuntime", "creating"]]) {
        assert.deepEqual(stateOf(out, name), { ...base, ociVersion, status, pid });
      }
      assert.deepEqual(stateOf(out, "poststart"), {
        ...base,
        ociVersion,
        status: "running",
        pid,
      });
      assert.deepEqual(stateOf(out, "poststop"), { ...base, ociVersion, status: "stopped" });

      // Create's hooks run in the bundle, the others where the command ran (the repository).
      const dirs = { [bundle.dir]: "<bundle>", [REPO]: "<cwd>" };
      assert.equal(contextOf(out, "prestart", dirs), "<bundle>\ninherited\n");
      assert.equal(contextOf(out, "poststart", dirs), "<cwd>\ninherited\n");
      assert.equal(contextOf(out, "poststop", dirs), "<cwd>\ninherited\n");
      assert.equal(readOr(join(out, "env")), "unset 1\n");

      if (hasRunc) {
        // runc (1.1) runs poststart at create, not start, against the spec's lifecycle: only
        // the kinds both follow the spec for are compared.
        const theirs = await runcStates(await compileProg("hello"));
        for (const name of ["prestart", "createRuntime", "poststop"]) {
          assert.deepEqual(
            shape({ ...stateOf(out, name), bundle: "<bundle>" }),
            shape(theirs[name].state),
            name,
          );
          assert.equal(contextOf(out, name, dirs), theirs[name].ctx, name);
        }
      }
    } finally {
      Deno.env.delete("RUNSC_HOOK_TEST");
      await root.cleanup();
      await bundle.cleanup();
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test({
  name: "--spare: a spec with hooks gets its own sandbox, and its hooks run",
  ignore: !IS_ROOT,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "runsc-hooks-" });
    const bundle = await hooked({
      prestart: [recorder(out, "prestart")],
      createRuntime: [recorder(out, "createRuntime")],
    });
    const root = await makeRoot();
    const flags = ["--spare"];
    try {
      // A ready spare is there to be taken, which would skip the hooks.
      assert.equal((await root.runsc(["spare"], {}, flags)).code, 0);
      const r = await root.runsc(["run", "--bundle", bundle.dir, "hooked"], {}, flags);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(order(out), ["prestart", "createRuntime"]);
      const state = stateOf(out, "prestart");
      assert.equal(state.id, "hooked");
      assert.equal(state.bundle, bundle.dir);
      assert.ok(Number.isInteger(state.pid) && (state.pid as number) > 0);
      assert.deepEqual(stateOf(out, "createRuntime"), state);
    } finally {
      await root.runsc(["spare", "--stop"], {}, flags);
      await root.cleanup();
      await bundle.cleanup();
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test({
  name: "a failing prestart fails the create with the hook's stderr, runs poststop, leaves " +
    "nothing; a failing poststart or poststop is a warning and the next hook runs",
  ignore: !IS_ROOT,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "runsc-hooks-" });
    const log = join(out, "runsc.log");
    const g = ["--log", log, "--log-format", "json"];
    const root = await makeRoot();
    const bad = await hooked({
      prestart: [recorder(out, "prestart", "echo no network for you >&2; exit 3")],
      createRuntime: [recorder(out, "createRuntime")],
      poststop: [recorder(out, "poststop")],
    });
    const warned = await hooked({
      poststart: [
        recorder(out, "poststart1", "echo poststart says no >&2; exit 4"),
        recorder(out, "poststart2"),
      ],
      poststop: [
        recorder(out, "poststop1", "echo poststop says no >&2; exit 5"),
        recorder(out, "poststop2"),
      ],
    });
    try {
      const c = await create(root, bad.dir, "bad", g);
      assert.notEqual(c.code, 0);
      assert.match(
        c.stderr,
        /prestart hook \/bin\/sh failed with exit status 3: no network for you/,
      );
      const lines = readOr(log).trim().split("\n").map((l) => JSON.parse(l));
      assert.ok(
        lines.some((l) => l.level === "error" && /no network for you/.test(l.msg)),
        readOr(log),
      );
      assert.deepEqual(order(out), ["prestart", "poststop"]);
      assert.equal(stateOf(out, "poststop").status, "stopped");
      assert.equal((await root.runsc(["list", "--quiet"])).stdout.trim(), "");
      assert.deepEqual(listDir(root.root), []);

      await Deno.writeTextFile(log, "");
      await Deno.remove(join(out, "order"));
      assert.equal((await create(root, warned.dir, "warned", g)).code, 0);
      const s = await root.runsc(["start", "warned"], {}, g);
      assert.equal(s.code, 0, s.stderr);
      assert.match(s.stderr, /warning: poststart hook \/bin\/sh failed with exit status 4: /);
      // Started all the same (hello may have exited already).
      assert.notEqual(JSON.parse((await root.runsc(["state", "warned"])).stdout).status, "created");
      assert.equal((await root.runsc(["wait", "warned"])).code, 0);
      const d = await root.runsc(["delete", "warned"], {}, g);
      assert.equal(d.code, 0, d.stderr);
      assert.match(d.stderr, /poststop hook \/bin\/sh failed with exit status 5: poststop says no/);
      assert.deepEqual(order(out), ["poststart1", "poststart2", "poststop1", "poststop2"]);
      assert.deepEqual(listDir(root.root), []);
      const warnings = readOr(log).trim().split("\n").map((l) => JSON.parse(l))
        .filter((l) => l.level === "warning").map((l) => l.msg);
      assert.equal(warnings.length, 2, readOr(log));
      assert.match(warnings[0], /poststart says no/);
      assert.match(warnings[1], /poststop says no/);
    } finally {
      await root.cleanup();
      await bad.cleanup();
      await warned.cleanup();
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test({
  name: "a hook past its timeout is killed with what it started, and the create fails saying so",
  ignore: !IS_ROOT,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "runsc-hooks-" });
    const child = join(out, "child");
    const bundle = await hooked({
      createRuntime: [{
        path: "/bin/sh",
        args: ["sh", "-c", `sleep 1000 & echo $! > ${child}; sleep 1000`],
        // Long enough for the shell to start its child even on a loaded machine.
        timeout: 3,
      }],
    });
    const root = await makeRoot();
    try {
      const c = await create(root, bundle.dir, "slow");
      assert.notEqual(c.code, 0);
      assert.match(c.stderr, /createRuntime hook \/bin\/sh timed out after 3 s/);
      const pid = Number(readOr(child));
      assert.ok(pid > 0, "the hook started its child");
      // Killed with its group; gone once whoever adopted it has reaped it.
      assert.ok(
        await waitFor(() => {
          const stat = readOr(`/proc/${pid}/stat`);
          return stat === "" || / Z /.test(stat);
        }, 30_000),
        `the hook's child ${pid} still runs`,
      );
      assert.deepEqual(listDir(root.root), []);
    } finally {
      await root.cleanup();
      await bundle.cleanup();
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test({
  name: "a hook with a field of the wrong type is refused at create, naming the field",
  ignore: !IS_ROOT,
  async fn() {
    const ok = { path: "/bin/true" };
    const cases: [unknown, RegExp][] = [
      ["prestart", /hooks must be an object/],
      [{ prestart: ok }, /hooks\.prestart must be an array/],
      [{ prestart: [{ path: "bin/true" }] }, /hooks\.prestart\[0\]\.path must be an absolute/],
      [{ createRuntime: [ok, { path: 7 }] }, /hooks\.createRuntime\[1\]\.path must be/],
      [{ poststart: [{ ...ok, args: "true" }] }, /hooks\.poststart\[0\]\.args must be an array/],
      [{ poststop: [{ ...ok, env: ["A=1", 2] }] }, /hooks\.poststop\[0\]\.env must be an array/],
      [{ prestart: [{ ...ok, timeout: 0 }] }, /hooks\.prestart\[0\]\.timeout must be a positive/],
      [{ prestart: [{ ...ok, timeout: 1.5 }] }, /timeout must be a positive whole number/],
      [{ prestart: [{ ...ok, timeout: "5" }] }, /timeout must be a positive whole number/],
      [{ prestart: ["/bin/true"] }, /hooks\.prestart\[0\] must be an object/],
    ];
    const root = await makeRoot();
    const bundles = [];
    try {
      for (const [hooks, want] of cases) {
        const bundle = await hooked(hooks);
        bundles.push(bundle);
        const r = await root.runsc(["create", "--bundle", bundle.dir, "broken"]);
        assert.notEqual(r.code, 0, JSON.stringify(hooks));
        assert.match(r.stderr, want);
        assert.deepEqual(listDir(root.root), [], JSON.stringify(hooks));
      }
    } finally {
      await root.cleanup();
      for (const b of bundles) await b.cleanup();
    }
  },
});
