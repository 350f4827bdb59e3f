/**
 * `runsc exec`: another process in a running container gets the caller's stdio (the same
 * open files: a pipe, a file appended to), the container's environment, and its exit status
 * comes back; containerd's form (--process file, --detach, --pid-file) starts it and returns.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { IS_ROOT, makeBundle, makeRoot } from "./harness.ts";
import { busyboxRootfs, haveBusybox } from "./rootfs.ts";

Deno.test({
  name: "runsc exec runs a process in a running container with the caller's stdio",
  ignore: !IS_ROOT || !haveBusybox(),
  async fn() {
    const rootfs = await busyboxRootfs();
    const bundle = await makeBundle({
      args: ["/bin/sleep", "30"],
      env: ["PATH=/bin", "FOO=from-the-spec"],
      config: { root: { path: rootfs, readonly: true } },
    });
    const root = await makeRoot();
    try {
      const started = await root.runsc(["run", "-d", "--bundle", bundle.dir, "c1"], {
        outputFile: join(bundle.dir, "run.out"),
      });
      assert.equal(started.code, 0, started.stderr);

      const r = await root.runsc(["exec", "c1", "/bin/sh", "-c", 'echo "$FOO"; pwd; exit 4']);
      assert.equal(r.code, 4, r.stderr);
      assert.equal(r.stdout, "from-the-spec\n/\n");

      const cat = await root.runsc(["exec", "c1", "/bin/cat"], { stdin: "piped in\n" });
      assert.equal(cat.stdout, "piped in\n");

      // Output appended to a file lands after what the file already held.
      const out = join(bundle.dir, "exec.out");
      await Deno.writeTextFile(out, "before\n");
      const appended = await root.runsc(["exec", "c1", "/bin/echo", "after"], { outputFile: out });
      assert.equal(appended.code, 0);
      assert.equal(await Deno.readTextFile(out), "before\nafter\n");

      // containerd's form: a process file, detached, with a pid file.
      const proc = join(bundle.dir, "process.json");
      await Deno.writeTextFile(
        proc,
        JSON.stringify({
          args: ["/bin/sleep", "2"],
          env: ["PATH=/bin"],
          cwd: "/",
          user: { uid: 0, gid: 0 },
        }),
      );
      const pidFile = join(bundle.dir, "exec.pid");
      const d = await root.runsc(
        ["exec", "--process", proc, "--detach", "--pid-file", pidFile, "c1"],
        { outputFile: join(bundle.dir, "detached.out") },
      );
      assert.equal(d.code, 0, d.stderr);
      // The pid-file names the host process standing for it (tests/cli_shim_test.ts).
      const pid = Number(await Deno.readTextFile(pidFile));
      assert.ok(pid > 1, `pid ${pid}`);
      assert.match(await Deno.readTextFile(`/proc/${pid}/cmdline`), /\0--proxy\0/);
      const ps = await root.runsc(["ps", "c1"]);
      assert.match(ps.stdout, /sleep 2$/m, `ps lists the exec'd process: ${ps.stdout}`);

      const bad = await root.runsc(["exec", "c1", "/no/such/program"]);
      assert.equal(bad.code, 128);
      assert.match(bad.stderr, /no\/such\/program/);
    } finally {
      await root.cleanup();
      await bundle.cleanup();
    }
  },
});

Deno.test({
  name: "runsc exec into a container that does not exist is a clear error",
  async fn() {
    const root = await makeRoot();
    try {
      const r = await root.runsc(["exec", "nosuch", "/bin/true"]);
      assert.equal(r.code, 128);
      assert.match(r.stderr, /nosuch/);
    } finally {
      await root.cleanup();
    }
  },
});
