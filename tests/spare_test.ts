/**
 * Spare sandboxes (`runsc --spare`, oci/spare.ts): a create takes the sandbox an earlier command
 * started, the container behaves as one started for it (stdio, exit status, exec, delete), the
 * spare holds nothing of any container before, and creates whose caller could tell the
 * difference (runc's process tree, a root mounted after the spare started) never take one.
 *
 * These need root (spares are confined sandboxes only); without it they are skipped.
 */

import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { PLATFORMS } from "./probe.ts";
import {
  compileProg,
  IS_ROOT,
  makeBundle,
  makeRoot,
  readOr,
  type TestRoot,
  waitFor,
} from "./harness.ts";
import { endSpares, sameProcess, startTime } from "../oci/spare.ts";
import { control, ControlError } from "../boot/control.ts";
import type { ProcessId } from "../oci/state.ts";

const SKIP = IS_ROOT ? "" : "needs root";
if (SKIP) console.warn(`spare_test: skipped: ${SKIP}`);

function spareTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: SKIP !== "", sanitizeResources: false, sanitizeOps: false, fn });
}

/**
 * The spare offered under `root` once there is one (commands have it made in the background),
 * or null after a few seconds.
 */
async function offered(
  root: string,
): Promise<{ dir: string; boot: ProcessId; gofer: ProcessId } | null> {
  for (let i = 0; i < 2500; i++) {
    const o = offeredNow(root);
    if (o) return o;
    await new Promise((r) => setTimeout(r, 2));
  }
  return null;
}

/** A spare offered under `root` now: its directory's record, or null. */
function offeredNow(root: string): { dir: string; boot: ProcessId; gofer: ProcessId } | null {
  try {
    const link = [...Deno.readDirSync(root)].find((e) => /^\+spare\./.test(e.name));
    if (!link) return null;
    const dir = join(root, Deno.readLinkSync(join(root, link.name)));
    const rec = JSON.parse(Deno.readTextFileSync(join(dir, "spare.json")));
    return { dir, boot: rec.boot, gofer: rec.gofer };
  } catch {
    return null;
  }
}

/** Waits until the spare in `dir` serves its control socket (it binds it once started). */
async function started(dir: string): Promise<void> {
  for (let i = 0; i < 5000 && !readOr(join(dir, "spare.json")); i++) {
    await new Promise((r) => setTimeout(r, 2));
  }
  for (let i = 0; i < 5000; i++) {
    try {
      if (Deno.lstatSync(join(dir, "ctl.sock")).isSocket) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`the spare in ${dir} did not start`);
}

/** The one child of nsinit `pid` (the boot or gofer itself). */
function childOf(pid: number): number {
  return Number(readOr(`/proc/${pid}/task/${pid}/children`).trim().split(" ")[0] || 0);
}

/** Field 19 of /proc/<tid>/stat: the nice value. */
function niceOf(tid: number): number {
  const stat = readOr(`/proc/${tid}/stat`);
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
}

/** The children of every thread of `pid`. */
function stubsOf(pid: number): number[] {
  return [...Deno.readDirSync(`/proc/${pid}/task`)].flatMap((t) =>
    readOr(`/proc/${pid}/task/${t.name}/children`).trim().split(" ").filter((s) => s)
      .map(Number)
  );
}

/** The cgroup that schedules `pid` (v1's cpu hierarchy, or v2's unified one). */
function cpuCgroup(pid: number): string {
  const lines = readOr(`/proc/${pid}/cgroup`).split("\n");
  const line = lines.find((l) => /^\d+:([^:]*,)?cpu(,[^:]*)?:/.test(l)) ??
    lines.find((l) => l.startsWith("0::"));
  return line ? line.slice(line.indexOf(":", line.indexOf(":") + 1) + 1) : "";
}

/** The directory of cgroup `path` in the hierarchy that schedules (see cpuCgroup). */
function cpuCgroupDir(path: string): string {
  const v2 = readOr("/sys/fs/cgroup/cgroup.controllers") !== "";
  return v2 ? `/sys/fs/cgroup${path}` : `/sys/fs/cgroup/cpu${path}`;
}

async function withRoot(fn: (t: TestRoot) => Promise<void>): Promise<void> {
  const t = await makeRoot();
  try {
    await fn(t);
  } finally {
    await endSpares(t.root).catch(() => {});
    await t.cleanup();
  }
}

/**
 * Runs `args` under t with `flags`, which must end with `code` and leave a spare; returns that
 * spare once it serves its control socket.
 */
async function spareAfter(
  t: TestRoot,
  args: string[],
  flags = ["--spare"],
  code = 0,
): Promise<{ dir: string; boot: ProcessId; gofer: ProcessId }> {
  const r = await t.runsc(args, {}, flags);
  assert.equal(r.code, code, r.stderr);
  const spare = await offered(t.root);
  assert.ok(spare, `${args[0]} leaves a spare`);
  await started(spare.dir);
  return spare;
}

/** Mounts a tmpfs at `mnt` (which the spare's mount namespace cannot see) holding `prog`. */
async function tmpfsWith(mnt: string, prog: string): Promise<void> {
  const mk = await new Deno.Command("mount", { args: ["-t", "tmpfs", "tmpfs", mnt] }).output();
  assert.ok(mk.success);
  Deno.copyFileSync(prog, join(mnt, "hello"));
  Deno.chmodSync(join(mnt, "hello"), 0o755);
}

/**
 * Points bundle `dir`'s root at `root`, runs it as `id` with --spare and checks that it ran as
 * natively (the first line: the rest names its path and pid) and that `spare`, unfit for that
 * root, was ended rather than taken.
 */
async function runsWithoutSpare(
  t: TestRoot,
  dir: string,
  root: string,
  id: string,
  prog: string,
  spare: { boot: ProcessId },
): Promise<void> {
  const config = JSON.parse(Deno.readTextFileSync(join(dir, "config.json")));
  config.root.path = root;
  Deno.writeTextFileSync(join(dir, "config.json"), JSON.stringify(config));
  const native = await new Deno.Command(prog).output();
  const run = await t.runsc(["run", "--bundle", dir, id], {}, ["--spare"]);
  assert.equal(run.code, 0, run.stderr);
  const first = (s: string) => s.split("\n")[0];
  assert.equal(first(run.stdout), first(new TextDecoder().decode(native.stdout)));
  assert.ok(!sameProcess(spare.boot), "the unfit spare was ended");
}

for (const platform of PLATFORMS) {
  spareTest(
    `--spare: a create takes the spare the last command left; stdio, exit, exec and delete as usual (${platform})`,
    () =>
      withRoot(async (t) => {
        const flags = ["--spare", `--platform=${platform}`];
        const b = await makeBundle({
          args: [
            "/sh",
            "-c",
            'echo out; echo err >&2; trap "exit 3" TERM; while :; do sleep 0.02; done',
          ],
          files: { sh: "/bin/busybox" },
        });
        const once = await makeBundle({
          args: ["/sh", "-c", "exit 3"],
          files: { sh: "/bin/busybox" },
        });
        try {
          const spare = await spareAfter(t, ["run", "--bundle", once.dir, "s1"], flags, 3);
          assert.ok(sameProcess(spare.boot) && sameProcess(spare.gofer));
          const boot = childOf(spare.boot.pid);
          const out = join(b.dir, "out");
          const c = await t.runsc(["create", "--bundle", b.dir, "s2"], { outputFile: out }, flags);
          assert.equal(c.code, 0, c.stderr);
          const st = JSON.parse(Deno.readTextFileSync(join(t.root, "s2", "state.json")));
          assert.equal(st.pid, boot, "the container's sandbox is the spare's boot");
          // Its descriptor table came with room from nsinit (host/nsinit.ts ROOM_HEX).
          const fdSize = Number(/FDSize:\s+(\d+)/.exec(readOr(`/proc/${boot}/status`))![1]);
          assert.ok(fdSize >= 4096, `FDSize ${fdSize}`);
          // Born in one cgroup of the spare's (one task group: oci/cgroup.ts), the container's
          // now.
          assert.match(st.cgroupsPath, /^\/runsc-ts-spare-[0-9a-f]{8}$/);
          assert.equal(cpuCgroup(st.pid), st.cgroupsPath);
          assert.equal(cpuCgroup(childOf(spare.gofer.pid)), st.cgroupsPath);
          // A spare starts niced; taken, its threads and stubs run at the creator's priority.
          const next0 = (await offered(t.root))!;
          assert.equal(niceOf(next0.boot.pid), 10);
          for (const pid of [st.pid, ...stubsOf(st.pid)]) {
            for (const tid of Deno.readDirSync(`/proc/${pid}/task`)) {
              assert.equal(niceOf(Number(tid.name)), niceOf(Deno.pid), `thread ${tid.name}`);
            }
          }
          const next = await offered(t.root);
          assert.ok(next && next.dir !== spare.dir, "create leaves the next spare");
          const list = await t.runsc(["list", "-q"]);
          assert.equal(list.stdout, "s2\n", "list shows containers only");
          // Taken once: a second take (another container's spec) is refused.
          const spec = JSON.parse(Deno.readTextFileSync(join(b.dir, "config.json")));
          await assert.rejects(
            control(join(t.root, "s2", "ctl.sock"), {
              cmd: "take",
              id: "other",
              spec,
              stdioToken: "t",
            }),
            ControlError,
          );
          assert.equal((await t.runsc(["start", "s2"])).code, 0);
          const ex = await t.runsc(["exec", "s2", "/sh", "-c", "echo exec ok"]);
          assert.equal(ex.stdout, "exec ok\n", ex.stderr);
          assert.equal((await t.runsc(["kill", "s2", "TERM"])).code, 0);
          const w = await t.runsc(["wait", "s2"]);
          assert.match(w.stdout, /3/, w.stderr);
          assert.equal(readOr(out), "out\n");
          assert.equal(readOr(`${out}.err`), "err\n");
          const d = await t.runsc(["delete", "s2"]);
          assert.equal(d.code, 0, d.stderr);
          for (const p of [...st.spareProcs]) assert.ok(!sameProcess(p), `${p.pid} is gone`);
          assert.throws(() => Deno.statSync(cpuCgroupDir(st.cgroupsPath)), "delete removed it");
          // An untaken spare's cgroup goes with it.
          const left = (await offered(t.root))!;
          const leftCgroup = cpuCgroupDir(`/runsc-ts-${basename(left.dir).slice(1)}`);
          assert.ok(Deno.statSync(leftCgroup).isDirectory);
          await endSpares(t.root);
          assert.throws(() => Deno.statSync(leftCgroup), "spare --stop removed it");
        } finally {
          await b.cleanup();
          await once.cleanup();
        }
      }),
  );
}

spareTest(
  "a spare holds no file of any container and is confined before it is taken",
  () =>
    withRoot(async (t) => {
      const b = await makeBundle({ args: ["/true"], files: { true: await compileProg("true") } });
      try {
        const spare = await spareAfter(t, ["run", "--bundle", b.dir, "c1"]);
        // Its maker named each process as it spawned it, before the record.
        const spawned = JSON.parse(readOr(join(spare.dir, "spawned.json")) || "[]");
        const key = (p: ProcessId) => `${p.pid}/${p.start}`;
        assert.deepEqual(spawned.map(key).sort(), [spare.boot, spare.gofer].map(key).sort());
        const boot = childOf(spare.boot.pid);
        const gofer = childOf(spare.gofer.pid);
        for (const pid of [boot, gofer]) {
          for (const e of Deno.readDirSync(`/proc/${pid}/fd`)) {
            let target = "";
            try {
              target = Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`);
            } catch { /* closed meanwhile */ }
            assert.ok(!target.startsWith(b.dir), `${pid} holds ${target}`);
          }
        }
        // It confines itself right after binding its sockets, before it reads a request.
        let status = "";
        for (let i = 0; i < 5000; i++) {
          status = Deno.readTextFileSync(`/proc/${boot}/status`);
          if (/^Seccomp:\s+2$/m.test(status)) break;
          await new Promise((r) => setTimeout(r, 2));
        }
        assert.match(status, /^CapEff:\s+0+$/m);
        assert.match(status, /^NoNewPrivs:\s+1$/m);
        assert.match(status, /^Seccomp:\s+2$/m);
        const root = Deno.readLinkSync(`/proc/${boot}/root`);
        assert.equal(root, "/");
        assert.deepEqual([...Deno.readDirSync(`/proc/${boot}/root`)].map((e) => e.name), ["proc"]);
      } finally {
        await b.cleanup();
      }
    }),
);

spareTest(
  "no spare is taken with --pid-file, nor for a root mounted after the spare started",
  () =>
    withRoot(async (t) => {
      const prog = await compileProg("hello");
      const b = await makeBundle({ args: ["/hello"], files: { hello: prog } });
      const mnt = await Deno.makeTempDir({ prefix: "runsc-spare-mnt-" });
      let mounted = false;
      try {
        // A shim's creates (--pid-file) never take one: none is made for them either.
        const shim = await t.runsc(
          ["create", "--bundle", b.dir, "--pid-file", join(b.dir, "pid0"), "c0"],
          { outputFile: join(b.dir, "out0") },
          ["--spare"],
        );
        assert.equal(shim.code, 0, shim.stderr);
        const names = () => [...Deno.readDirSync(t.root)].map((e) => e.name).sort();
        assert.deepEqual(names(), ["c0"]);
        assert.equal((await t.runsc(["delete", "--force", "c0"])).code, 0);
        const spare = await spareAfter(t, ["run", "--bundle", b.dir, "c1"]);
        // containerd's shim reaps the process in --pid-file: it must be the create's child.
        const pidFile = join(b.dir, "pid");
        const out = join(b.dir, "out");
        const c = await t.runsc(
          ["create", "--bundle", b.dir, "--pid-file", pidFile, "c2"],
          { outputFile: out },
          ["--spare"],
        );
        assert.equal(c.code, 0, c.stderr);
        assert.equal((await offered(t.root))?.dir, spare.dir, "the spare is still offered");
        assert.ok(sameProcess(spare.boot));
        assert.equal((await t.runsc(["delete", "--force", "c2"])).code, 0);
        // A root the spare's mount namespace cannot see: a tmpfs mounted now.
        mounted = true;
        await tmpfsWith(mnt, prog);
        await runsWithoutSpare(t, b.dir, mnt, "c3", prog, spare);
      } finally {
        if (mounted) await new Deno.Command("umount", { args: [mnt] }).output();
        await Deno.remove(mnt, { recursive: true });
        await b.cleanup();
      }
    }),
);

spareTest(
  "--spare-count keeps that many spares, and creates at once take one each",
  () =>
    withRoot(async (t) => {
      const b = await makeBundle({ args: ["/true"], files: { true: await compileProg("true") } });
      try {
        const flags = ["--spare", "--spare-count=3"];
        const r = await t.runsc(["spare"], {}, flags);
        assert.equal(r.code, 0, r.stderr);
        const links = () => [...Deno.readDirSync(t.root)].filter((e) => /^\+spare\./.test(e.name));
        assert.equal(links().length, 3);
        const boots = links().map((e) => {
          const dir = join(t.root, Deno.readLinkSync(join(t.root, e.name)));
          return JSON.parse(Deno.readTextFileSync(join(dir, "spare.json"))).boot.pid as number;
        });
        for (const e of links()) {
          await started(join(t.root, Deno.readLinkSync(join(t.root, e.name))));
        }
        const ids = ["p0", "p1", "p2"];
        const made = await Promise.all(
          ids.map((id) =>
            t.runsc(["create", "--bundle", b.dir, id], { outputFile: join(b.dir, id) }, flags)
          ),
        );
        for (const c of made) assert.equal(c.code, 0, c.stderr);
        // Each took a spare: one of those above, or one made since by a create that finished
        // first (its replacement), which a create started later may find ready and take.
        const states = ids.map((id) =>
          JSON.parse(Deno.readTextFileSync(join(t.root, id, "state.json")))
        );
        for (const [i, st] of states.entries()) {
          assert.ok(st.spareProcs, `${ids[i]} took no spare`);
          assert.equal(st.pid, childOf(st.spareProcs[0].pid), `${ids[i]} runs in its spare`);
        }
        assert.equal(new Set(states.map((st) => st.pid)).size, 3, "three sandboxes");
        const fromFirst = states.filter((st) => boots.includes(st.spareProcs[0].pid)).length;
        assert.ok(fromFirst >= 1, "the spares made first are taken");
        for (const id of ids) assert.equal((await t.runsc(["delete", "--force", id])).code, 0);
      } finally {
        await b.cleanup();
      }
    }),
);

/** A `sleep` of ours standing for a spare's process, known by pid and start time. */
function sleeper(): { id: ProcessId; end: () => Promise<void> } {
  const child = new Deno.Command("sleep", { args: ["300"] }).spawn();
  const start = startTime(child.pid);
  assert.ok(start !== null);
  return {
    id: { pid: child.pid, start },
    async end() {
      try {
        child.kill("SIGKILL");
      } catch { /* ended */ }
      await child.status;
    },
  };
}

/** Whether `path` exists (a dangling link counts). */
function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The offer links under `root`. */
function offerLinks(root: string): string[] {
  return [...Deno.readDirSync(root)].map((e) => e.name).filter((n) => /^\+spare\./.test(n));
}

spareTest(
  "a spare that ended at its idle timeout is removed, and the next command makes another",
  () =>
    withRoot(async (t) => {
      // Spares made with it end after 1 s untaken (oci/spare_dir.ts).
      const env = { RUNSC_SPARE_IDLE_MS: "1000" };
      const r = await t.runsc(["spare"], { env }, ["--spare"]);
      assert.equal(r.code, 0, r.stderr);
      const first = await offered(t.root);
      assert.ok(first);
      assert.ok(await waitFor(() => !sameProcess(first.boot), 60_000), "it ended by itself");
      const link = offerLinks(t.root).find((n) => join(t.root, n.replace(".", "-")) === first.dir);
      assert.ok(link, "its offer is still there until a command sees it ended");
      const again = await t.runsc(["spare"], { env }, ["--spare"]);
      assert.equal(again.code, 0, again.stderr);
      assert.ok(!exists(join(t.root, link)), "its offer is removed");
      assert.ok(!exists(first.dir), "its directory is removed");
      assert.ok(!sameProcess(first.gofer), "its gofer is ended");
      const links = offerLinks(t.root);
      assert.equal(links.length, 1, `another is offered: ${links}`);
    }),
);

spareTest(
  "a spare directory whose maker died unrecorded is removed by spare --stop and the next create, a live maker's is not",
  () =>
    withRoot(async (t) => {
      Deno.mkdirSync(t.root, { recursive: true });
      // As a maker holds its spare's directory until it is recorded (oci/spare.ts makeOne):
      // locked before it takes its name.
      const fresh = join(t.root, "+spare-new-0000aaaa");
      const live = join(t.root, "+spare-0000aaaa");
      Deno.mkdirSync(fresh);
      const held = Deno.openSync(fresh, { read: true });
      held.lockSync(true);
      Deno.renameSync(fresh, live);
      // One whose maker died: nobody holds it. It died after spawning a process for it,
      // which it named (spawned.json) but never recorded (spare.json).
      const dead = join(t.root, "+spare-0000bbbb");
      Deno.mkdirSync(dead);
      const orphan = sleeper();
      Deno.writeTextFileSync(join(dead, "spawned.json"), JSON.stringify([orphan.id]));
      try {
        const stop = await t.runsc(["spare", "--stop"], {}, ["--spare"]);
        assert.equal(stop.code, 0, stop.stderr);
        assert.ok(!exists(dead), "the dead maker's directory is removed");
        assert.ok(exists(live), "the live maker's directory is left");
        assert.ok(!sameProcess(orphan.id), "the process it spawned is ended");
      } finally {
        held.close();
        await orphan.end();
      }
      const b = await makeBundle({ args: ["/true"], files: { true: await compileProg("true") } });
      try {
        const c = await t.runsc(
          ["create", "--bundle", b.dir, "c1"],
          { outputFile: join(b.dir, "out") },
          ["--spare"],
        );
        assert.equal(c.code, 0, c.stderr);
        assert.ok(!exists(live), "its maker gone, the next create removes it");
        assert.equal((await t.runsc(["delete", "--force", "c1"])).code, 0);
      } finally {
        await b.cleanup();
      }
    }),
);

spareTest(
  "no spare is taken for a root reached through an absolute symbolic link to a mount made since",
  () =>
    withRoot(async (t) => {
      const prog = await compileProg("hello");
      const b = await makeBundle({ args: ["/hello"], files: { hello: prog } });
      const mnt = await Deno.makeTempDir({ prefix: "runsc-spare-mnt-" });
      const links = await Deno.makeTempDir({ prefix: "runsc-spare-link-" });
      let mounted = false;
      try {
        const spare = await spareAfter(t, ["run", "--bundle", b.dir, "c1"]);
        mounted = true;
        await tmpfsWith(mnt, prog);
        // Here the link leads into the tmpfs; in the spare's mount namespace, to an empty
        // directory.
        Deno.symlinkSync(mnt, join(links, "root"));
        await runsWithoutSpare(t, b.dir, join(links, "root"), "c2", prog, spare);
      } finally {
        if (mounted) await new Deno.Command("umount", { args: [mnt] }).output();
        await Deno.remove(mnt, { recursive: true });
        await Deno.remove(links, { recursive: true });
        await b.cleanup();
      }
    }),
);

spareTest(
  "a claim whose create died is removed with the spare it names; a live create's claim is not",
  () =>
    withRoot(async (t) => {
      Deno.mkdirSync(t.root, { recursive: true });
      // Two spares (their processes stood for by sleeps), each claimed: one by a create that
      // died between its claim and its take, one by a create still running (this process).
      const gone = sleeper();
      const dead = gone.id;
      await gone.end();
      const me = { pid: Deno.pid, start: startTime(Deno.pid)! };
      const procs = [sleeper(), sleeper(), sleeper(), sleeper()];
      const claims: Record<string, { claimer: ProcessId; procs: ProcessId[] }> = {
        "0000cccc": { claimer: dead, procs: [procs[0].id, procs[1].id] },
        "0000dddd": { claimer: me, procs: [procs[2].id, procs[3].id] },
      };
      for (const [hex, c] of Object.entries(claims)) {
        const dir = join(t.root, `+spare-${hex}`);
        Deno.mkdirSync(dir, { mode: 0o700 });
        Deno.writeTextFileSync(
          join(dir, "spare.json"),
          JSON.stringify({ flags: [], program: "", boot: c.procs[0], gofer: c.procs[1] }),
        );
        Deno.symlinkSync(
          `+spare-${hex}`,
          join(t.root, `+spare-claim-${c.claimer.pid}-${c.claimer.start}-${hex}`),
        );
      }
      try {
        // `spare` prunes before it makes one.
        const r = await t.runsc(["spare"], {}, ["--spare"]);
        assert.equal(r.code, 0, r.stderr);
        const left = [...Deno.readDirSync(t.root)].map((e) => e.name).filter((n) =>
          n.includes("claim")
        );
        assert.deepEqual(left, [`+spare-claim-${me.pid}-${me.start}-0000dddd`]);
        assert.ok(!exists(join(t.root, "+spare-0000cccc")), "the dead claim's spare is removed");
        assert.ok(!sameProcess(procs[0].id) && !sameProcess(procs[1].id), "and ended");
        assert.ok(exists(join(t.root, "+spare-0000dddd")), "the live claim's spare is left");
        assert.ok(sameProcess(procs[2].id) && sameProcess(procs[3].id), "and runs");
      } finally {
        for (const p of procs) await p.end();
      }
    }),
);

spareTest(
  "a spec whose only hooks are poststart and poststop takes a spare; its hooks run",
  () =>
    withRoot(async (t) => {
      const out = await Deno.makeTempDir({ prefix: "runsc-spare-hooks-" });
      const hook = (name: string) => ({
        path: "/bin/sh",
        args: ["sh", "-c", `echo ${name} >> ${join(out, "order")}`],
      });
      const b = await makeBundle({
        args: ["/true"],
        files: { true: await compileProg("true") },
        config: { hooks: { poststart: [hook("poststart")], poststop: [hook("poststop")] } },
      });
      try {
        await spareAfter(t, ["spare"]);
        const c = await t.runsc(["create", "--bundle", b.dir, "h1"], {
          outputFile: join(b.dir, "out"),
        }, ["--spare"]);
        assert.equal(c.code, 0, c.stderr);
        const st = JSON.parse(readOr(join(t.root, "h1", "state.json")));
        assert.ok(st.spareProcs, "taken from a spare");
        assert.equal((await t.runsc(["start", "h1"], {}, ["--spare"])).code, 0);
        assert.equal((await t.runsc(["wait", "h1"], {}, ["--spare"])).code, 0);
        assert.equal((await t.runsc(["delete", "h1"], {}, ["--spare"])).code, 0);
        assert.equal(readOr(join(out, "order")), "poststart\npoststop\n");
      } finally {
        await b.cleanup();
        await Deno.remove(out, { recursive: true });
      }
    }),
);
