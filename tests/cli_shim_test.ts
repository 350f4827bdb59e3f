/**
 * The runtime as containerd's shim drives it: the shim is a child subreaper, runs `create
 * --pid-file`, adopts the process named there once `create` has exited, and takes that
 * process's end (its exit status, or its signal) as the container's. This test process plays
 * the shim.
 *
 * Needs root (ptrace of the sandbox's stub processes); skipped with the reason otherwise.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { closeFd } from "../host/libc.ts";
import { ioctlBuf, readFd, writeFd } from "../host/io.ts";
import {
  acceptUnix,
  bindUnix,
  listenFd,
  recvMsg,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  unixSocket,
} from "../host/socket.ts";
import { pollNow } from "../host/io.ts";
import { setChildSubreaper, W, waitpid } from "../host/spawn.ts";
import { IS_ROOT, listDir, makeBundle, makeRoot, readOr, waitFor } from "./harness.ts";
import { busyboxRootfs, haveBusybox } from "./rootfs.ts";

const SKIP = IS_ROOT ? "" : "needs root";
if (SKIP) console.warn(`cli_shim_test: skipped: ${SKIP}`);

const WNOHANG = 1;

/** A test; `busybox`: it runs the busybox rootfs, so it is ignored (and says so) without one. */
function shimTest(name: string, fn: () => Promise<void>, busybox = false): void {
  const skip = SKIP || (busybox && !haveBusybox() ? "no /bin/busybox on the host" : "");
  Deno.test({
    name: skip ? `${name} [ignored: ${skip}]` : name,
    ignore: skip !== "",
    sanitizeResources: false,
    sanitizeOps: false,
    fn,
  });
}

/** The shim's view of an adopted process's end: its exit status, 128+signal when killed. */
async function reapAdopted(pid: number, timeoutMs: number): Promise<number | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const st = waitpid(pid, WNOHANG);
    if (st) return W.exited(st.raw) ? W.exitCode(st.raw) : 128 + W.termSig(st.raw);
    await new Promise((r) => setTimeout(r, 20));
  }
  return null;
}

function parentOf(pid: number): number {
  const stat = readOr(`/proc/${pid}/stat`);
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

/** Reaps whatever of ours the containers left as zombies (the gofers we adopted). */
function reapZombies(pids: number[]): void {
  for (const pid of pids) {
    try {
      waitpid(pid, WNOHANG);
    } catch { /* not ours */ }
  }
}

/**
 * Ends a test that made this process a subreaper: reaps the processes it adopted (waiting a
 * little for them to end) and stops being one.
 */
async function releaseAdopted(adopted: number[]): Promise<void> {
  await waitFor(() => {
    reapZombies(adopted);
    return adopted.every((p) => !readOr(`/proc/${p}/stat`));
  }, 5000);
  setChildSubreaper(false);
}

shimTest("create --pid-file names a process that ends with the container's status", async () => {
  setChildSubreaper(true);
  const rootfs = await busyboxRootfs();
  const t = await makeRoot();
  const adopted: number[] = [];
  const trapTerm = 'trap "exit 143" TERM; while :; do sleep 1; done';
  const cases: { id: string; args: string[]; kill?: string[]; want: number }[] = [
    { id: "x0", args: ["/bin/true"], want: 0 },
    { id: "x3", args: ["/bin/sh", "-c", "exit 3"], want: 3 },
    { id: "k9", args: ["/bin/sleep", "1000"], kill: ["KILL"], want: 137 },
    { id: "t143", args: ["/bin/sh", "-c", trapTerm], kill: ["TERM"], want: 143 },
    // As the init of a PID namespace: a signal it has no handler for is not delivered.
    { id: "init", args: ["/bin/sleep", "1000"], kill: ["TERM", "INT", "KILL"], want: 137 },
  ];
  try {
    for (const c of cases) {
      const b = await makeBundle({
        args: c.args,
        env: ["PATH=/bin"],
        config: { root: { path: rootfs, readonly: true } },
      });
      try {
        const pidFile = join(b.dir, "init.pid");
        const cr = await t.runsc(["create", "--bundle", b.dir, "--pid-file", pidFile, c.id], {
          outputFile: join(b.dir, "out"),
        });
        assert.equal(cr.code, 0, cr.stderr);
        const pid = Number(readOr(pidFile));
        assert.ok(pid > 0, `pid-file holds a pid: ${readOr(pidFile)}`);
        adopted.push(pid, JSON.parse(readOr(join(t.root, c.id, "state.json"))).goferPid);
        assert.equal(parentOf(pid), Deno.pid, "the shim adopted the pid-file's process");

        assert.equal((await t.runsc(["start", c.id])).code, 0);
        for (const sig of c.kill ?? []) {
          // Still there while init runs: it ends with init, not before.
          assert.equal(await reapAdopted(pid, 300), null, `${c.id} ended before ${sig}`);
          const k = await t.runsc(["kill", c.id, sig]);
          assert.equal(k.code, 0, k.stderr);
        }
        assert.equal(await reapAdopted(pid, 30_000), c.want, `${c.id}: the pid's status`);

        // The sandbox is gone, yet state, wait and delete answer from the state directory.
        const st = await t.runsc(["state", c.id]);
        assert.equal(st.code, 0, st.stderr);
        assert.equal(JSON.parse(st.stdout).status, "stopped");
        const w = await t.runsc(["wait", c.id]);
        assert.deepEqual(JSON.parse(w.stdout), { id: c.id, exitStatus: c.want });
        const d = await t.runsc(["delete", c.id]);
        assert.equal(d.code, 0, d.stderr);
      } finally {
        await b.cleanup();
      }
    }
    assert.deepEqual(listDir(t.root), []);
  } finally {
    await t.cleanup();
    await releaseAdopted(adopted);
  }
}, true);

shimTest("exec --detach --pid-file names a host process standing for the exec'd one", async () => {
  setChildSubreaper(true);
  const rootfs = await busyboxRootfs();
  const t = await makeRoot();
  const b = await makeBundle({
    args: ["/bin/sleep", "1000"],
    config: { root: { path: rootfs, readonly: true } },
  });
  const adopted: number[] = [];
  const out = join(b.dir, "out");
  /** Starts `args` with exec --detach; returns the pid its --pid-file names. */
  const execDetached = async (name: string, args: string[]): Promise<number> => {
    const proc = join(b.dir, `${name}.json`);
    Deno.writeTextFileSync(proc, JSON.stringify({ args, env: ["PATH=/bin"], cwd: "/" }));
    const pidFile = join(b.dir, `${name}.pid`);
    const r = await t.runsc(
      ["exec", "--process", proc, "--detach", "--pid-file", pidFile, "e1"],
      { outputFile: out },
    );
    assert.equal(r.code, 0, r.stderr);
    const pid = Number(readOr(pidFile));
    adopted.push(pid);
    assert.equal(parentOf(pid), Deno.pid, `${name}: the shim adopted the pid-file's process`);
    return pid;
  };
  const sleepers = async () => {
    const ps = await t.runsc(["ps", "e1"]);
    return ps.stdout.split("\n").filter((l) => l.includes("sleep 2000")).length;
  };
  try {
    const c = await t.runsc(["create", "--bundle", b.dir, "e1"], { outputFile: out });
    assert.equal(c.code, 0, c.stderr);
    adopted.push(JSON.parse(readOr(join(t.root, "e1", "state.json"))).goferPid);
    assert.equal((await t.runsc(["start", "e1"])).code, 0);

    const five = await execDetached("five", ["/bin/sh", "-c", "exit 5"]);
    assert.equal(await reapAdopted(five, 30_000), 5, "its exit status");

    const term = await execDetached("term", ["/bin/sleep", "2000"]);
    assert.equal(await reapAdopted(term, 300), null, "it lives as long as the process");
    Deno.kill(term, "SIGTERM");
    assert.equal(await reapAdopted(term, 30_000), 143, "SIGTERM forwarded, and its status");

    const killed = await execDetached("killed", ["/bin/sleep", "2000"]);
    assert.equal(await sleepers(), 1);
    Deno.kill(killed, "SIGKILL");
    assert.equal(await reapAdopted(killed, 30_000), 137);
    let left = 1;
    for (let i = 0; i < 50 && left > 0; i++) {
      left = await sleepers();
      if (left) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(left, 0, "a SIGKILL of the host process ends the exec'd one too");

    const orphan = await execDetached("orphan", ["/bin/sleep", "2000"]);
    assert.equal((await t.runsc(["kill", "e1", "KILL"])).code, 0);
    assert.equal(await reapAdopted(orphan, 30_000), 137, "ends when the container ends");
    assert.equal((await t.runsc(["delete", "e1"])).code, 0);
  } finally {
    await t.cleanup();
    await b.cleanup();
    await releaseAdopted(adopted);
  }
}, true);

shimTest("pause, resume, events --stats and update as containerd calls them", async () => {
  const rootfs = await busyboxRootfs();
  const t = await makeRoot();
  const cgroupsPath = `/runsc-test-${crypto.randomUUID().slice(0, 8)}`;
  // A counter that only moves while the container runs.
  const b = await makeBundle({
    args: ["/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done"],
    env: ["PATH=/bin"],
    config: {
      root: { path: rootfs, readonly: false },
      linux: { cgroupsPath, resources: { pids: { limit: 64 } } },
    },
  });
  const log = join(b.dir, "log.json");
  // containerd's global flags on every call, and the ones it may add.
  const g = ["--log", log, "--log-format", "json", "--systemd-cgroup=false"];
  // The shell truncates /tmp/n before each write: an empty read is retried.
  const counter = async () => {
    for (let i = 0;; i++) {
      const out = (await t.runsc(["exec", "p1", "cat", "/tmp/n"])).stdout.trim();
      if (out !== "" || i === 20) return Number(out);
    }
  };
  try {
    const c = await t.runsc(
      ["create", "--no-pivot", "--no-new-keyring", "--preserve-fds", "0", "--bundle", b.dir, "p1"],
      { outputFile: join(b.dir, "out") },
      g,
    );
    assert.equal(c.code, 0, c.stderr);
    assert.equal((await t.runsc(["start", "p1"], {}, g)).code, 0);
    await new Promise((r) => setTimeout(r, 300));

    const ev = await t.runsc(["events", "--stats", "p1"], {}, g);
    assert.equal(ev.code, 0, ev.stderr);
    const stats = JSON.parse(ev.stdout);
    assert.equal(stats.type, "stats");
    assert.equal(stats.id, "p1");
    assert.ok(stats.data.pids.current > 0, `the sandbox's tasks are counted: ${ev.stdout}`);
    assert.ok(stats.data.memory.usage.usage > 0);
    const ps = await t.runsc(["ps", "--format", "json", "p1"], {}, g);
    const st = JSON.parse((await t.runsc(["state", "p1"])).stdout);
    assert.ok((JSON.parse(ps.stdout) as number[]).includes(st.pid), "host pids, the boot's too");

    assert.equal((await t.runsc(["pause", "p1"], {}, g)).code, 0);
    assert.equal(JSON.parse((await t.runsc(["state", "p1"])).stdout).status, "paused");
    const rec = JSON.parse(readOr(join(t.root, "p1", "state.json")));
    for (const pid of [rec.pid, rec.goferPid]) {
      assert.match(readOr(`/proc/${pid}/cgroup`), new RegExp(`:freezer:${cgroupsPath}$`, "m"));
    }
    assert.equal(readOr(`/sys/fs/cgroup/freezer${cgroupsPath}/freezer.state`).trim(), "FROZEN");
    const busy = await t.runsc(["exec", "p1", "/bin/true"], {}, g);
    assert.equal(busy.code, 128);
    assert.match(busy.stderr, /container "p1" is paused/);
    const refused = await t.runsc(["delete", "p1"], {}, g);
    assert.equal(refused.code, 128);
    assert.match(refused.stderr, /not stopped: paused/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await t.runsc(["resume", "p1"], {}, g)).code, 0);
    assert.equal(JSON.parse((await t.runsc(["state", "p1"])).stdout).status, "running");
    const before = await counter();
    // Given time on a loaded host: the loop forks a `sleep` for each step.
    let after = before;
    for (const deadline = Date.now() + 10_000; after <= before && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 100));
      after = await counter();
    }
    assert.ok(after > before, `it runs again after resume (${before} -> ${after})`);

    // Paused, then killed and deleted as containerd cleans up (docker rm -f).
    const b2 = await makeBundle({
      args: ["/bin/sleep", "1000"],
      env: ["PATH=/bin"],
      config: {
        root: { path: rootfs, readonly: true },
        linux: { cgroupsPath: `${cgroupsPath}-2` },
      },
    });
    try {
      const c2 = await t.runsc(["create", "--bundle", b2.dir, "p2"], {
        outputFile: join(b2.dir, "out"),
      }, g);
      assert.equal(c2.code, 0, c2.stderr);
      assert.equal((await t.runsc(["start", "p2"], {}, g)).code, 0);
      assert.equal((await t.runsc(["pause", "p2"], {}, g)).code, 0);
      assert.equal((await t.runsc(["kill", "--all", "p2", "KILL"], {}, g)).code, 0);
      assert.equal((await t.runsc(["delete", "--force", "p2"], {}, g)).code, 0);
      assert.throws(() => Deno.statSync(`/sys/fs/cgroup/freezer${cgroupsPath}-2`));
    } finally {
      await b2.cleanup();
    }

    // docker update --memory 64m --pids-limit 1: the shim's form, JSON on stdin.
    const up = await t.runsc(["update", "--resources", "-", "p1"], {
      stdin: JSON.stringify({ memory: { limit: 64 << 20 }, pids: { limit: 1 }, cpu: {} }),
    }, g);
    assert.equal(up.code, 0, up.stderr);
    const forked = await t.runsc(["exec", "p1", "/bin/sh", "-c", "/bin/true; echo $?"]);
    assert.notEqual(forked.code, 0, "pids.limit 1: the shell cannot fork");
    const bad = await t.runsc(["update", "--resources", "-", "p1"], { stdin: "{nope" }, g);
    assert.equal(bad.code, 128);

    const cp = await t.runsc(["checkpoint", "--image-path", b.dir, "p1"], {}, g);
    assert.equal(cp.code, 128);
    assert.match(cp.stderr, /checkpoint is not supported/);
    const lines = readOr(log).trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(
      lines.some((l) => l.level === "error" && /checkpoint is not supported/.test(l.msg)),
      `the error is a JSON line in --log: ${readOr(log)}`,
    );

    assert.equal((await t.runsc(["kill", "--all", "p1", "KILL"], {}, g)).code, 0);
    assert.equal((await t.runsc(["delete", "--force", "p1"], {}, g)).code, 0);
    assert.equal((await t.runsc(["delete", "--force", "p1"], {}, g)).code, 0, "gone: still fine");
    for (const c of ["freezer", "memory", "pids"]) {
      assert.throws(
        () => Deno.statSync(`/sys/fs/cgroup/${c}${cgroupsPath}`),
        `${c} cgroup removed`,
      );
    }
  } finally {
    await t.cleanup();
    await b.cleanup();
  }
}, true);

shimTest("features prints the OCI features document", async () => {
  const t = await makeRoot();
  try {
    const r = await t.runsc(["features"]);
    assert.equal(r.code, 0, r.stderr);
    const f = JSON.parse(r.stdout);
    assert.equal(f.ociVersionMin, "1.0.0");
    assert.ok(f.linux.namespaces.includes("pid"));
    assert.ok(f.linux.capabilities.includes("CAP_SYS_ADMIN"));
  } finally {
    await t.cleanup();
  }
});

/** A console socket as containerd serves it: receives the terminal's master (SCM_RIGHTS). */
class ConsoleReceiver {
  readonly path: string;
  readonly #fd: number;
  constructor(dir: string) {
    this.path = join(dir, "console.sock");
    this.#fd = unixSocket(SOCK_STREAM | SOCK_NONBLOCK);
    bindUnix(this.#fd, this.path);
    listenFd(this.#fd, 1);
  }
  /** The master the runtime sent, once it has. */
  async master(timeoutMs = 30_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let conn: number;
      try {
        conn = acceptUnix(this.#fd).fd;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      try {
        const got = recvMsg(conn, new Uint8Array(256));
        assert.equal(got.fds.length, 1, "one descriptor: the master");
        return got.fds[0];
      } finally {
        closeFd(conn);
      }
    }
  }
  close(): void {
    closeFd(this.#fd);
  }
}

/** Reads the master `fd` until `re` matches what came; returns all of it. */
async function readUntil(fd: number, seen: { text: string }, re: RegExp): Promise<string> {
  const buf = new Uint8Array(4096);
  const deadline = Date.now() + 20_000;
  while (!re.test(seen.text)) {
    if (Date.now() > deadline) throw new Error(`no ${re} in ${JSON.stringify(seen.text)}`);
    if (!(pollNow(fd, 1 /* POLLIN */) & 1)) {
      await new Promise((r) => setTimeout(r, 10));
      continue;
    }
    const n = readFd(fd, buf);
    if (n <= 0) break;
    seen.text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return seen.text;
}

function setWinsize(fd: number, rows: number, cols: number): void {
  const ws = new Uint8Array(8);
  new DataView(ws.buffer).setUint16(0, rows, true);
  new DataView(ws.buffer).setUint16(2, cols, true);
  assert.equal(ioctlBuf(fd, 0x5414, /* TIOCSWINSZ */ ws), 0);
}

shimTest("--console-socket gets the master of a real terminal; resizes reach the app", async () => {
  setChildSubreaper(true);
  const rootfs = await busyboxRootfs();
  const t = await makeRoot();
  const b = await makeBundle({
    args: ["/bin/sh"],
    env: ["PATH=/bin", "PS1=$ "],
    config: { root: { path: rootfs, readonly: true } },
  });
  const config = JSON.parse(readOr(join(b.dir, "config.json")));
  config.process.terminal = true;
  Deno.writeTextFileSync(join(b.dir, "config.json"), JSON.stringify(config));
  const rx = new ConsoleReceiver(b.dir);
  const adopted: number[] = [];
  let master = -1;
  try {
    const pidFile = join(b.dir, "init.pid");
    const creating = t.runsc(
      ["create", "--bundle", b.dir, "--console-socket", rx.path, "--pid-file", pidFile, "tty1"],
      { outputFile: join(b.dir, "out") },
    );
    master = await rx.master();
    const c = await creating;
    assert.equal(c.code, 0, c.stderr);
    const pid = Number(readOr(pidFile));
    adopted.push(pid);
    setWinsize(master, 30, 100);
    assert.equal((await t.runsc(["start", "tty1"])).code, 0);

    const seen = { text: "" };
    const say = (s: string) => {
      const b = new TextEncoder().encode(s);
      assert.equal(writeFd(master, b), b.length);
    };
    say("trap 'echo got-winch' WINCH; tty; stty size\n");
    await readUntil(master, seen, /30 100\r\n/);
    assert.match(seen.text, /\/dev\/pts\/\d+\r\n/, "a terminal in the sandbox");
    // The line discipline is the Sentry's: the typed line was echoed, with CR LF.
    assert.match(seen.text, /stty size\r\n/);

    // Docker resizes the master; the application sees the size and gets SIGWINCH.
    setWinsize(master, 40, 120);
    await new Promise((r) => setTimeout(r, 500));
    say("stty size\n");
    await readUntil(master, seen, /40 120\r\n/);
    say("echo ok\n");
    await readUntil(master, seen, /got-winch[\s\S]*ok\r\n|ok\r\n[\s\S]*got-winch/);

    // exec -t: a terminal of its own, its master sent to the console socket.
    Deno.mkdirSync(join(b.dir, "x"));
    const rx2 = new ConsoleReceiver(join(b.dir, "x"));
    try {
      const execing = t.runsc([
        "exec",
        "--tty",
        "--console-socket",
        rx2.path,
        "tty1",
        "/bin/sh",
        "-c",
        "tty; exit 4",
      ]);
      const m2 = await rx2.master();
      try {
        const seen2 = { text: "" };
        await readUntil(m2, seen2, /\/dev\/pts\/\d+\r\n/);
        assert.match(seen2.text, /^\/dev\/pts\/\d+\r\n/);
        assert.notEqual(seen2.text, "/dev/pts/0\r\n", "not init's terminal");
      } finally {
        closeFd(m2);
      }
      assert.equal((await execing).code, 4);
    } finally {
      rx2.close();
    }

    say("exit 5\n");
    assert.equal(await reapAdopted(pid, 30_000), 5, "the pid-file's process ends with it");
    assert.equal((await t.runsc(["delete", "tty1"])).code, 0);
  } finally {
    if (master >= 0) closeFd(master);
    rx.close();
    await t.cleanup();
    await b.cleanup();
    reapZombies(adopted);
    setChildSubreaper(false);
  }
}, true);

shimTest(
  "a cgroupsPath that leaves the hierarchy is refused at create, leaving nothing",
  async () => {
    const t = await makeRoot();
    const b = await makeBundle({
      args: ["/bin/true"],
      config: { linux: { cgroupsPath: "/docker/../../../etc" } },
    });
    try {
      const r = await t.runsc(["create", "--bundle", b.dir, "bad"]);
      assert.equal(r.code, 128);
      assert.match(r.stderr, /cgroupsPath "\/docker\/\.\.\/\.\.\/\.\.\/etc" leaves the hierarchy/);
      assert.deepEqual(listDir(t.root), []);
    } finally {
      await t.cleanup();
      await b.cleanup();
    }
  },
);
