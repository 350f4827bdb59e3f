/**
 * The ptrace platform's stubs, attacked from inside and checked from the host: the application
 * cannot reach anything the stub trusts, and every stub thread is confined (no_new_privs, no
 * capabilities, a seccomp filter) before any application code runs in it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { compileProg, IS_ROOT, makeBundle, makeRoot, readOr, waitFor } from "../harness.ts";
import { PLATFORMS, probeTests } from "../probe.ts";

probeTests([{ prog: "sec_stub_race" }, { prog: "sec_stub_gadget" }]);

const onPtrace = PLATFORMS.includes("ptrace");

/** Host processes descending from `root` (itself excluded). */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const m = /^PPid:\s*(\d+)/m.exec(readOr(`/proc/${e.name}/status`));
    if (m) parent.set(Number(e.name), Number(m[1]));
  }
  const out: number[] = [];
  for (const pid of parent.keys()) {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      if (p === root) {
        out.push(pid);
        break;
      }
    }
  }
  return out;
}

function isStub(pid: number): boolean {
  try {
    return Deno.readLinkSync(`/proc/${pid}/exe`).includes("runsc-stub");
  } catch {
    return false;
  }
}

/** The `Name: hex` capability and confinement fields of one thread's status. */
function threadStatus(pid: number, tid: number): Record<string, string> {
  const text = readOr(`/proc/${pid}/task/${tid}/status`);
  const out: Record<string, string> = {};
  for (const f of ["Seccomp", "NoNewPrivs", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]) {
    out[f] = new RegExp(`^${f}:\\s*(\\S+)`, "m").exec(text)?.[1] ?? "?";
  }
  return out;
}

Deno.test({
  name:
    "every stub thread runs with seccomp, no_new_privs and no capabilities, and holds only the memory file and an empty root (ptrace)",
  ignore: !IS_ROOT || !onPtrace,
  async fn() {
    const prog = await compileProg("sec_stub_race");
    const t = await makeRoot();
    const b = await makeBundle({
      args: ["/sec_stub_race", "hold"],
      files: { "/sec_stub_race": prog },
    });
    const out = join(b.dir, "out");
    try {
      const r = await t.runsc(["--platform=ptrace", "run", "--detach", "--bundle", b.dir, "s"], {
        outputFile: out,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(await waitFor(() => readOr(out).includes("ready")), "the program started");
      const st = JSON.parse((await t.runsc(["state", "s"])).stdout);
      const stubs = descendants(st.pid).filter(isStub);
      // The program and its child each live in a stub.
      assert.ok(stubs.length >= 2, `stubs found: ${stubs}`);
      let threads = 0;
      for (const pid of stubs) {
        // Nothing of the Sentry's (stdio, sockets, the gofer's channel) but the memory file.
        const fds = [...Deno.readDirSync(`/proc/${pid}/fd`)].map((e) => e.name);
        assert.deepEqual(fds, ["3"], `stub ${pid} descriptors`);
        assert.match(
          Deno.readLinkSync(`/proc/${pid}/fd/3`),
          /^\/memfd:runsc-memory/,
          `stub ${pid} fd 3`,
        );
        // The Sentry's empty root, not the host's.
        const root = [...Deno.readDirSync(`/proc/${pid}/root`)].map((e) => e.name);
        assert.deepEqual(root, ["proc"], `stub ${pid} root`);
        assert.equal(Deno.readLinkSync(`/proc/${pid}/cwd`), "/", `stub ${pid} cwd`);
        for (const e of Deno.readDirSync(`/proc/${pid}/task`)) {
          const s = threadStatus(pid, Number(e.name));
          if (s.Seccomp === "?") continue; // gone meanwhile
          threads++;
          assert.deepEqual(s, {
            Seccomp: "2",
            NoNewPrivs: "1",
            CapInh: "0000000000000000",
            CapPrm: "0000000000000000",
            CapEff: "0000000000000000",
            CapBnd: "0000000000000000",
            CapAmb: "0000000000000000",
          }, `stub ${pid} thread ${e.name}`);
        }
      }
      // The control threads and the program's three threads at least.
      assert.ok(threads >= 5, `stub threads checked: ${threads}`);
    } finally {
      await t.cleanup();
      await b.cleanup();
    }
  },
});

/** Stub processes whose Sentry is gone (reparented to init). */
function orphanStubs(): number[] {
  return [...Deno.readDirSync("/proc")].filter((e) => /^\d+$/.test(e.name)).map((e) =>
    Number(e.name)
  ).filter((p) => isStub(p) && /^PPid:\s*1$/m.test(readOr(`/proc/${p}/status`)));
}

/** What the host looks like to a sandbox escape: mounts, files in /tmp and /, processes. */
function hostSnapshot(): { mounts: string; tmp: string[]; rootDir: string[] } {
  return {
    mounts: readOr("/proc/self/mountinfo").split("\n").map((l) => l.split(" ").slice(3).join(" "))
      .sort().join("\n"),
    // What the probes create inside the sandbox (other engineers' files come and go in /tmp).
    tmp: [...Deno.readDirSync("/tmp")].map((e) => e.name).filter((n) => n.startsWith("sec_"))
      .sort(),
    rootDir: [...Deno.readDirSync("/")].map((e) => e.name).sort(),
  };
}

for (const name of ["sec_stub_race", "sec_stub_gadget"]) {
  Deno.test({
    name: `${name} leaves the host as it was and no process behind (ptrace)`,
    ignore: !IS_ROOT || !onPtrace,
    async fn() {
      const prog = await compileProg(name);
      const t = await makeRoot();
      const b = await makeBundle({ args: [`/${name}`], files: { [`/${name}`]: prog } });
      try {
        const before = hostSnapshot();
        const orphansBefore = orphanStubs();
        const r = await t.runsc(["--platform=ptrace", "run", "--bundle", b.dir, "attack"]);
        assert.equal(r.code, 0, r.stderr);
        if (name === "sec_stub_race") {
          assert.match(r.stdout, /thread 2: writes faulted all, reads faulted all/);
          assert.doesNotMatch(r.stdout, /NOT ALL/);
          assert.match(r.stdout, /done pid>0 1/);
        } else {
          assert.match(r.stdout, /alive after mmap over the stub 1/);
          assert.match(r.stdout, /every gadget gave the same results: 1/);
        }
        assert.deepEqual(hostSnapshot(), before);
        // No process was left behind: a stub outliving its Sentry would be an orphan.
        assert.deepEqual(orphanStubs().filter((p) => !orphansBefore.includes(p)), []);
      } finally {
        await t.cleanup();
        await b.cleanup();
      }
    },
  });
}
