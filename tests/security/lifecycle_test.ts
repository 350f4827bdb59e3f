/**
 * `delete --force` always works (issue #11, item 7): whatever state the Sentry is in (stopped
 * by SIGSTOP, so that it never answers its socket) and however far create got (its CLI killed
 * while it waited for the sandbox to be ready, or before it wrote any state), the next
 * `delete --force` ends every host process of the container (boot, gofer, stubs) and removes
 * its state directory. A host-side scan of /proc checks it after each.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  compileProg,
  DENO,
  IS_ROOT,
  MAIN,
  makeBundle,
  makeRoot,
  REPO,
  type TestRoot,
  waitFor,
} from "../harness.ts";
import { type HostProcess, hostProcesses, isStub } from "../../oci/container.ts";

const SKIP = IS_ROOT ? "" : "needs root";
if (SKIP) console.warn(`security/lifecycle_test: skipped: ${SKIP}`);

function lifecycleTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: SKIP !== "", sanitizeResources: false, sanitizeOps: false, fn });
}

type Proc = HostProcess;
const procs = hostProcesses;

function stubPids(): Set<number> {
  return new Set(procs().filter(isStub).map((p) => p.pid));
}

/**
 * What the host still holds of the container: live processes whose argv names its id or bundle,
 * stubs of its session started since `stubsBefore` whose parent is gone (or init), and its state
 * directory. (Other files' sandboxes run meanwhile: a stub of theirs, orphaned for a moment as
 * its sandbox ends, is in a session of its own.)
 */
function leftovers(
  t: TestRoot,
  id: string,
  bundle: string,
  stubsBefore: Set<number>,
  session: number,
): string[] {
  const all = procs().filter((p) => p.state !== "Z" && p.pid !== Deno.pid);
  const live = new Set(all.map((p) => p.pid));
  const left: string[] = [];
  for (const p of all) {
    const named = p.argv.some((a) => a === id || a.includes(bundle)) &&
      (p.argv.includes("boot") || p.argv.includes("gofer"));
    const orphanStub = isStub(p) && p.session === session && !stubsBefore.has(p.pid) &&
      (p.ppid <= 1 || !live.has(p.ppid));
    if (named || orphanStub) left.push(`${p.pid} ${p.state} ${p.argv.join(" ")}`);
  }
  try {
    Deno.statSync(join(t.root, id));
    left.push(`state directory ${join(t.root, id)}`);
  } catch { /* gone, as it should be */ }
  return left;
}

/** The session of the container's processes (its stubs'), while the boot runs. */
function sessionOf(bootPid: number): number {
  const p = procs().find((p) => p.pid === bootPid);
  assert.ok(p, `no process ${bootPid}`);
  return p.session;
}

async function stillThere(
  t: TestRoot,
  id: string,
  bundle: string,
  before: Set<number>,
  session: number,
) {
  // SIGKILL is asynchronous for the processes delete --force does not wait on (orphaned stubs).
  await waitFor(() => leftovers(t, id, bundle, before, session).length === 0, 3000);
  return leftovers(t, id, bundle, before, session);
}

lifecycleTest("delete --force ends a sandbox whose boot process is stopped (SIGSTOP)", async () => {
  const spin = await compileProg("spin");
  const t = await makeRoot();
  const b = await makeBundle({ args: ["/spin"], files: { "/spin": spin } });
  const before = stubPids();
  try {
    const r = await t.runsc(["run", "--detach", "--bundle", b.dir, "f1"], {
      outputFile: join(b.dir, "out"),
    });
    assert.equal(r.code, 0, r.stderr);
    const st = JSON.parse(Deno.readTextFileSync(join(t.root, "f1", "state.json")));
    assert.ok(st.pid > 0);
    // It runs: the boot process, and the application's stub below it on ptrace.
    assert.ok(procs().some((p) => p.pid === st.pid && p.state !== "Z"), "no boot process");
    // The boot runs below an nsinit parent that leads the session its stubs share.
    const session = procs().find((p) => p.pid === st.pid)!.session;
    assert.ok(procs().some((p) => isStub(p) && p.session === session), "no stub");
    // Every process of the boot's session: the boot itself (or its nsinit parent and the
    // boot below it) and its stubs. Stopped, the Sentry answers nothing on its socket.
    for (const p of procs()) {
      if (p.pid === st.pid || p.ppid === st.pid) Deno.kill(p.pid, "SIGSTOP");
    }
    const t0 = Date.now();
    const d = await t.runsc(["delete", "--force", "f1"], { timeoutMs: 30_000 });
    assert.equal(d.code, 0, d.stderr);
    assert.ok(Date.now() - t0 < 20_000, `delete --force took ${Date.now() - t0} ms`);
    assert.deepEqual(await stillThere(t, "f1", b.dir, before, session), []);
  } finally {
    await b.cleanup();
    await t.cleanup();
  }
});

lifecycleTest("delete --force cleans up after a create whose CLI was killed halfway", async () => {
  const spin = await compileProg("spin");
  const t = await makeRoot();
  const b = await makeBundle({ args: ["/spin"], files: { "/spin": spin } });
  const before = stubPids();
  try {
    const cli = new Deno.Command(DENO, {
      args: [
        "run",
        "-A",
        "--quiet",
        MAIN,
        "--root",
        t.root,
        "--overlay2=root:self",
        "create",
        "--bundle",
        b.dir,
        "k1",
      ],
      cwd: REPO,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    // Killed as soon as it has started boot and gofer, while it waits for readiness.
    const stateFile = join(t.root, "k1", "state.json");
    const started = await waitFor(() => {
      try {
        return JSON.parse(Deno.readTextFileSync(stateFile)).pid > 0;
      } catch {
        return false;
      }
    }, 30_000);
    assert.ok(started, "create never recorded its processes");
    cli.kill("SIGKILL");
    await cli.status;
    const st = JSON.parse(Deno.readTextFileSync(stateFile));
    assert.equal(st.status, "creating");
    // What the killed create left: its boot and gofer, still running.
    const live = procs().filter((p) => p.state !== "Z").map((p) => p.pid);
    assert.ok(live.includes(st.pid) && live.includes(st.goferPid), "boot or gofer not running");
    const session = sessionOf(st.pid);
    const d = await t.runsc(["delete", "--force", "k1"], { timeoutMs: 30_000 });
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(await stillThere(t, "k1", b.dir, before, session), []);
    // The overlay's filestore beside the rootfs went with it.
    const stores = [b.dir, b.rootfs].flatMap((dir) =>
      [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.includes("filestore"))
    );
    assert.deepEqual(stores, []);
  } finally {
    await b.cleanup();
    await t.cleanup();
  }
});

lifecycleTest("delete --force of a container half-created or gone succeeds", async () => {
  const t = await makeRoot();
  try {
    // A create killed between reserving the id and writing its state leaves a bare directory.
    Deno.mkdirSync(join(t.root, "h1"));
    const d = await t.runsc(["delete", "--force", "h1"]);
    assert.equal(d.code, 0, d.stderr);
    assert.throws(() => Deno.statSync(join(t.root, "h1")));
    const g = await t.runsc(["delete", "--force", "never-was"]);
    assert.equal(g.code, 0, g.stderr);
  } finally {
    await t.cleanup();
  }
});

lifecycleTest(
  "delete ends a stub left in its sandbox's session after the Sentry died",
  async () => {
    const t = await makeRoot();
    // A session like a dead boot's: its leader gone, a stub (never traced) left in it.
    const out = await new Deno.Command("setsid", {
      args: ["bash", "-c", "(exec -a runsc-stub sleep 300) </dev/null >/dev/null 2>&1 & echo $$"],
      stdout: "piped",
    }).output();
    const sid = Number(new TextDecoder().decode(out.stdout).trim());
    const stub = () => procs().find((p) => isStub(p) && p.state !== "Z" && p.session === sid);
    try {
      assert.ok(await waitFor(() => stub() !== undefined && !procs().some((p) => p.pid === sid)));
      const dir = join(t.root, "s1");
      Deno.mkdirSync(dir);
      Deno.writeTextFileSync(
        join(dir, "state.json"),
        JSON.stringify({
          ociVersion: "1.0.2",
          id: "s1",
          status: "created",
          pid: sid,
          goferPid: 0,
          bundle: "/nonexistent-bundle",
          annotations: {},
          created: new Date().toISOString(),
        }),
      );
      const d = await t.runsc(["delete", "s1"]);
      assert.equal(d.code, 0, d.stderr);
      assert.ok(await waitFor(() => stub() === undefined, 3000), "the stub survived delete");
    } finally {
      const s = stub();
      if (s) Deno.kill(s.pid, "SIGKILL");
      await t.cleanup();
    }
  },
);

lifecycleTest("kill KILL ends a sandbox that does not answer; state says stopped", async () => {
  const spin = await compileProg("spin");
  const t = await makeRoot();
  const b = await makeBundle({ args: ["/spin"], files: { "/spin": spin } });
  const before = stubPids();
  try {
    const r = await t.runsc(["run", "--detach", "--bundle", b.dir, "w1"], {
      outputFile: join(b.dir, "out"),
    });
    assert.equal(r.code, 0, r.stderr);
    const st = JSON.parse(Deno.readTextFileSync(join(t.root, "w1", "state.json")));
    const session = sessionOf(st.pid);
    for (const p of procs()) if (p.session === st.pid) Deno.kill(p.pid, "SIGSTOP");
    const t0 = Date.now();
    const k = await t.runsc(["kill", "w1", "KILL"], { timeoutMs: 30_000 });
    assert.equal(k.code, 0, k.stderr);
    assert.ok(Date.now() - t0 < 20_000, `kill took ${Date.now() - t0} ms`);
    const s = await t.runsc(["state", "w1"]);
    assert.equal(JSON.parse(s.stdout).status, "stopped", s.stderr);
    const d = await t.runsc(["delete", "w1"]);
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(await stillThere(t, "w1", b.dir, before, session), []);
  } finally {
    await b.cleanup();
    await t.cleanup();
  }
});
