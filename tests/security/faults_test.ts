/**
 * Faults from the host: the Gofer killed mid-run, the Sentry killed, a full disk under the
 * overlay's filestore. The application sees an error or ends, the container ends, `runsc
 * state` says stopped, `runsc delete` cleans up, and nothing is left on the host
 * (hostcheck.ts). tests/progs/sec_fault.c is the application.
 *
 * Runs on every platform of tests/probe.ts.
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
} from "../harness.ts";
import { PLATFORMS, platformUnavailable } from "../probe.ts";
import { hostChanges, type HostSnapshot, hostSnapshot, ownProcesses } from "./hostcheck.ts";

function alive(pid: number): boolean {
  const stat = readOr(`/proc/${pid}/stat`);
  return stat !== "" && stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
}

/** Threads' children of a process: for the Sentry, its stubs. */
function children(pid: number): number[] {
  return listDir(`/proc/${pid}/task`).flatMap((t) =>
    readOr(`/proc/${pid}/task/${t}/children`).trim().split(/\s+/).filter(Boolean).map(Number)
  );
}

interface Started {
  root: TestRoot;
  bundleDir: string;
  out: string;
  flags: string[];
  state: { pid: number; goferPid: number };
  /** The host before create (hostcheck.ts). */
  before: HostSnapshot;
  cleanup(): Promise<void>;
}

/** Creates and starts sec_fault with `args`, and waits for "ready" (unless `ready` is false). */
async function start(
  platform: string,
  args: string[],
  opts: { writable?: boolean; flags?: string[]; ready?: boolean; watch?: string[] } = {},
): Promise<Started> {
  const b = await makeBundle({
    args: ["/sec_fault", ...args],
    files: { sec_fault: await compileProg("sec_fault"), "tmp/.keep": { text: "" } },
    config: { root: { path: "rootfs", readonly: !opts.writable } },
  });
  const root = await makeRoot();
  const before = hostSnapshot({
    markers: [b.dir, root.root],
    ...(opts.watch ? { watch: opts.watch } : {}),
  });
  const out = join(b.dir, "out");
  const flags = [`--platform=${platform}`, ...(opts.flags ?? [])];
  const cleanup = async () => {
    await root.cleanup();
    await b.cleanup();
  };
  try {
    const cr = await root.runsc(["create", "--bundle", b.dir, "f"], { outputFile: out }, flags);
    assert.equal(cr.code, 0, cr.stderr);
    const state = JSON.parse(Deno.readTextFileSync(join(root.root, "f", "state.json")));
    const s = await root.runsc(["start", "f"], {}, flags);
    assert.equal(s.code, 0, s.stderr);
    if (opts.ready !== false) {
      assert.ok(await waitFor(() => /^ready$/m.test(readOr(out)), 30_000), readOr(`${out}.err`));
    }
    return { root, bundleDir: b.dir, out, flags, state, before, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/**
 * `runsc state` reports stopped (within a few seconds), `runsc delete` removes it all, the
 * Sentry is gone, and the host holds nothing new (hostcheck.ts).
 */
async function assertEndedClean(s: Started): Promise<void> {
  await assertStoppedAndDeleted(s);
  assert.ok(await waitFor(() => !alive(s.state.pid), 5000), "the Sentry is gone");
  assert.deepEqual(hostChanges(s.before), [], "the host changed");
}

/** `runsc state` reports stopped (within a few seconds), and `runsc delete` removes it all. */
async function assertStoppedAndDeleted(s: Started): Promise<void> {
  let status = "";
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const st = await s.root.runsc(["state", "f"], { timeoutMs: 10_000 }, s.flags);
    assert.equal(st.code, 0, st.stderr);
    status = JSON.parse(st.stdout).status;
    if (status === "stopped") break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(status, "stopped");
  const d = await s.root.runsc(["delete", "f"], { timeoutMs: 20_000 }, s.flags);
  assert.equal(d.code, 0, d.stderr);
  assert.deepEqual(listDir(s.root.root), [], "the state directory is gone");
}

for (const platform of PLATFORMS) {
  const ignore = !IS_ROOT || platformUnavailable(platform) !== null;

  Deno.test({
    name: `fault: the Gofer killed mid-run ends the container, delete cleans up (${platform})`,
    ignore,
    async fn() {
      const s = await start(platform, ["walk"]);
      try {
        Deno.kill(s.state.goferPid, "SIGKILL");
        // The application's next lookup gets EIO (it then exits 3), or the Sentry, seeing the
        // Gofer gone, ends the container (SIGKILL) before that lookup or after it, before the
        // exit: nothing else.
        const w = await s.root.runsc(["wait", "f"], { timeoutMs: 20_000 }, s.flags);
        assert.equal(w.code, 0, w.stderr);
        const { exitStatus } = JSON.parse(w.stdout);
        const out = readOr(s.out);
        const eio = "ready\nerror: Input/output error\n";
        if (exitStatus === 3) assert.equal(out, eio);
        else {
          assert.equal(exitStatus, 128 + 9, out);
          assert.ok(out === "ready\n" || out === eio, out);
        }
        await assertEndedClean(s);
      } finally {
        await s.cleanup();
      }
    },
  });

  Deno.test({
    name: `fault: the Gofer killed while the application sleeps ends the container (${platform})`,
    ignore,
    async fn() {
      const s = await start(platform, ["sleep"]);
      try {
        Deno.kill(s.state.goferPid, "SIGKILL");
        // Without its Gofer the container cannot reach its files again: it ends, killed.
        const w = await s.root.runsc(["wait", "f"], { timeoutMs: 20_000 }, s.flags);
        assert.equal(w.code, 0, w.stderr);
        assert.deepEqual(JSON.parse(w.stdout), { id: "f", exitStatus: 128 + 9 });
        await assertEndedClean(s);
      } finally {
        await s.cleanup();
      }
    },
  });

  Deno.test({
    name: `fault: the Sentry killed leaves no stub, no Gofer, state stopped (${platform})`,
    ignore,
    async fn() {
      const s = await start(platform, ["sleep"]);
      try {
        const stubs = children(s.state.pid);
        const own = [...ownProcesses([s.bundleDir, s.root.root]).keys()];
        Deno.kill(s.state.pid, "SIGKILL");
        const left = () => [s.state.goferPid, ...stubs, ...own].filter(alive);
        assert.ok(await waitFor(() => left().length === 0, 10_000), `still alive: ${left()}`);
        await assertStoppedAndDeleted(s);
        assert.deepEqual(hostChanges(s.before), [], "the host changed");
      } finally {
        await s.cleanup();
      }
    },
  });

  Deno.test({
    name: `fault: the Sentry killed while it makes stubs leaves none behind (${platform})`,
    ignore,
    async fn() {
      // Killed at several moments of a fork loop, so that some kill lands while a stub is
      // being made: none may outlive it untraced (hostChanges counts orphaned stubs).
      for (const delayMs of [0, 7, 23]) {
        const s = await start(platform, ["forks"]);
        try {
          await new Promise((r) => setTimeout(r, delayMs));
          Deno.kill(s.state.pid, "SIGKILL");
          const own = () => [...ownProcesses([s.bundleDir, s.root.root], s.before).keys()];
          assert.ok(
            await waitFor(() => own().filter(alive).length === 0, 10_000),
            `still alive: ${own()}`,
          );
          await assertStoppedAndDeleted(s);
          assert.deepEqual(hostChanges(s.before), [], "the host changed");
        } finally {
          await s.cleanup();
        }
      }
    },
  });

  Deno.test({
    name: `fault: the template stub killed makes fork fail with EAGAIN, not the task (${platform})`,
    ignore: ignore || platform !== "ptrace",
    async fn() {
      const s = await start(platform, ["forks"]);
      try {
        // The template is the Sentry's first stub: every other one is forked from it later.
        const isStub = (p: number) => {
          try {
            return Deno.readLinkSync(`/proc/${p}/exe`).includes("runsc-stub");
          } catch {
            return false;
          }
        };
        const stubs = children(s.state.pid).filter(isStub);
        assert.ok(stubs.length > 1, `stubs of the Sentry: ${stubs}`);
        const template = Math.min(...stubs);
        // Never 0 or -1 (a process group, or everyone).
        assert.ok(Number.isSafeInteger(template) && template > 1);
        Deno.kill(template, "SIGKILL");
        const w = await s.root.runsc(["wait", "f"], { timeoutMs: 30_000 }, s.flags);
        assert.equal(w.code, 0, w.stderr);
        assert.deepEqual(JSON.parse(w.stdout), { id: "f", exitStatus: 0 });
        assert.match(readOr(s.out), /^fork: Resource temporarily unavailable$/m);
        await assertEndedClean(s);
      } finally {
        await s.cleanup();
      }
    },
  });

  Deno.test({
    name:
      `fault: a full disk under the overlay filestore is ENOSPC inside, then usable (${platform})`,
    ignore,
    async fn() {
      const dir = await Deno.makeTempDir({ prefix: "runsc-fill-" });
      const mount = await new Deno.Command("mount", {
        args: ["-t", "tmpfs", "-o", "size=4m", "tmpfs", dir],
      }).output();
      assert.ok(mount.success, new TextDecoder().decode(mount.stderr));
      try {
        const s = await start(platform, ["fill", "16"], {
          writable: true,
          flags: [`--overlay2=root:${dir}`],
          ready: false,
          watch: [dir, "/", "/var/tmp", "/dev/shm"],
        });
        try {
          const w = await s.root.runsc(["wait", "f"], { timeoutMs: 60_000 }, s.flags);
          const why = `${w.stderr}\n${readOr(`${s.out}.err`)}\n${readOr(s.out)}`;
          assert.equal(w.code, 0, why);
          assert.deepEqual(
            JSON.parse(w.stdout),
            { id: "f", exitStatus: 0 },
            readOr(`${s.out}.err`),
          );
          assert.equal(
            readOr(s.out),
            "write 16 MiB: No space left on device\n" +
              "unlink: ok\n" +
              "write 1 MiB after: ok\n" +
              "read back: 1048576 bytes, last byte x\n",
          );
          await assertStoppedAndDeleted(s);
          assert.deepEqual(hostChanges(s.before), [], "the host changed");
        } finally {
          await s.cleanup();
        }
        assert.deepEqual(listDir(dir), [], "the filestore is gone");
      } finally {
        await new Deno.Command("umount", { args: [dir] }).output();
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}
