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
import { PLATFORMS, platformUnavailable, probeTests } from "../probe.ts";
import { hostChanges, hostSnapshot } from "./hostcheck.ts";

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
  const fields = ["Seccomp", "Seccomp_filters", "NoNewPrivs", "CapInh", "CapPrm", "CapEff"];
  for (const f of [...fields, "CapBnd", "CapAmb"]) {
    out[f] = new RegExp(`^${f}:\\s*(\\S+)`, "m").exec(text)?.[1] ?? "?";
  }
  return out;
}

// Systrap's stubs are ptrace's with another filter, and their application threads each add the
// thread filter (platform/systrap/README.md): one more filter than the control thread has.
for (const platform of ["ptrace", "systrap"]) {
  Deno.test({
    name:
      `every stub thread runs with seccomp, no_new_privs and no capabilities, and holds only the memory file and an empty root (${platform})`,
    ignore: !IS_ROOT ||
      (platform === "ptrace" ? !onPtrace : platformUnavailable(platform) !== null),
    async fn() {
      const prog = await compileProg("sec_stub_race");
      const t = await makeRoot();
      const b = await makeBundle({
        args: ["/sec_stub_race", "hold"],
        files: { "/sec_stub_race": prog },
      });
      const out = join(b.dir, "out");
      try {
        const r = await t.runsc([
          `--platform=${platform}`,
          "run",
          "--detach",
          "--bundle",
          b.dir,
          "s",
        ], {
          outputFile: out,
        });
        assert.equal(r.code, 0, r.stderr);
        assert.ok(await waitFor(() => readOr(out).includes("ready")), "the program started");
        const st = JSON.parse((await t.runsc(["state", "s"])).stdout);
        const stubs = descendants(st.pid).filter(isStub);
        // The program and its child each live in a stub.
        assert.ok(stubs.length >= 2, `stubs found: ${stubs}`);
        let threads = 0;
        /** Application threads with one filter more than their stub's control thread. */
        let filtered = 0;
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
          const control = Number(threadStatus(pid, pid).Seccomp_filters);
          for (const e of Deno.readDirSync(`/proc/${pid}/task`)) {
            const s = threadStatus(pid, Number(e.name));
            if (s.Seccomp === "?") continue; // gone meanwhile
            threads++;
            if (Number(e.name) !== pid) {
              if (Number(s.Seccomp_filters) === control + 1) filtered++;
              else if (platform === "systrap") {
                assert.fail(`stub ${pid} thread ${e.name}: ${s.Seccomp_filters} filters`);
              }
            }
            delete s.Seccomp_filters;
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
        // Systrap: the program's three threads at least run under the thread filter.
        if (platform === "systrap") assert.ok(filtered >= 3, `threads with it: ${filtered}`);
      } finally {
        await t.cleanup();
        await b.cleanup();
      }
    },
  });
}

/** Files the probes make in /tmp when an attack reached the host (named sec_*). */
function secFilesInTmp(): string[] {
  return [...Deno.readDirSync("/tmp")].map((e) => e.name).filter((n) => n.startsWith("sec_"))
    .sort();
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
        // hostcheck also counts a stub orphaned by its Sentry as the test's process.
        const before = hostSnapshot({ markers: [b.dir, t.root] });
        const tmpBefore = secFilesInTmp();
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
        assert.deepEqual(hostChanges(before), [], "the host changed");
        assert.deepEqual(secFilesInTmp(), tmpBefore, "files in /tmp");
      } finally {
        await t.cleanup();
        await b.cleanup();
      }
    },
  });
}
