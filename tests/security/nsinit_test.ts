/**
 * nsinit (host/nsinit.ts), the process that `runsc create` starts the Sentry and the Gofer
 * under and that waits for them outside their PID namespace: seen from the host it is confined
 * (seccomp, no_new_privs, no capability) and holds no descriptor but its own pipe (and the
 * Sentry's, the exit record, write-only); it records and ends as its child ended (exit code, or
 * death by the same signal); its death kills its child; a failing step says which on stderr and
 * exits 1.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { closeFd, pipe } from "../../host/libc.ts";
import { hostKill, spawn, W, waitpidAsync } from "../../host/spawn.ts";
import { confinedCommand } from "../../oci/confine_argv.ts";
import { nsinitFilter, nsinitImage } from "../../host/nsinit.ts";
import { SeccompRet } from "../../host/seccomp.ts";
import { SYS } from "../../abi/linux/syscalls.ts";
import { compileProg, IS_ROOT, makeBundle, makeRoot, waitFor } from "../harness.ts";
import { threadCreds } from "../../host/threads.ts";
import { firstChild } from "../../oci/proc.ts";
import { openExitRecord } from "../../oci/state.ts";

const SIGKILL = 9;

/** Whether `pid` is a live process (zombies count as gone). */
function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** A file's identity (device and inode): a link in /proc names it by its path. */
function fileId(path: string): string {
  const s = Deno.statSync(path);
  return `${s.dev}:${s.ino}`;
}

function parentOf(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

function childOf(pid: number): number {
  const kids = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim();
  assert.ok(kids, `process ${pid} has a child`);
  return Number(kids.split(" ")[0]);
}

/**
 * Asserts that `pid` is a confined nsinit holding nothing but its pipe to its child and, with
 * `record`, that file write-only.
 */
function assertConfinedNsinit(what: string, pid: number, record?: string): void {
  assert.match(Deno.readLinkSync(`/proc/${pid}/exe`), /^\/memfd:runsc-nsinit/, `${what}: exe`);
  assert.equal(Deno.readTextFileSync(`/proc/${pid}/comm`), "runsc-nsinit\n", `${what}: comm`);
  const threads = threadCreds(pid);
  assert.equal(threads.length, 1, `${what}: one thread`);
  const t = threads[0];
  assert.equal(t.seccomp, 2, `${what}: Seccomp`);
  assert.equal(t.noNewPrivs, 1, `${what}: NoNewPrivs`);
  for (const cap of ["capEff", "capPrm", "capBnd", "capInh", "capAmb"] as const) {
    assert.equal(t[cap], 0n, `${what}: ${cap}`);
  }
  const fds = [...Deno.readDirSync(`/proc/${pid}/fd`)].map((e) => ({
    target: Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`),
    flags: parseInt(
      /^flags:\s+([0-7]+)/m.exec(Deno.readTextFileSync(`/proc/${pid}/fdinfo/${e.name}`))![1],
      8,
    ),
    id: fileId(`/proc/${pid}/fd/${e.name}`),
  }));
  const pipes = fds.filter((f) => f.target.startsWith("pipe:"));
  assert.equal(pipes.length, 1, `${what}: one pipe in ${fds.map((f) => f.target)}`);
  const others = fds.filter((f) => !f.target.startsWith("pipe:"));
  if (record === undefined) {
    assert.deepEqual(others, [], `${what}: descriptors`);
  } else {
    assert.equal(others.length, 1, `${what}: descriptors ${fds.map((f) => f.target)}`);
    assert.equal(others[0].id, fileId(record), `${what}: the exit record`);
    assert.equal(others[0].flags & 3, 1, `${what}: the exit record is write-only`);
  }
  // Killed by a signal that dumps core, it writes none (its cwd is the host's /).
  assert.match(
    Deno.readTextFileSync(`/proc/${pid}/limits`),
    /^Max core file size\s+0\s+0\s/m,
    `${what}: core limit`,
  );
}

Deno.test({
  name: "the nsinit parents of the Sentry and the Gofer are confined; their death kills the child",
  ignore: !IS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const spin = await compileProg("spin");
    const t = await makeRoot();
    const b = await makeBundle({ args: ["/spin"], files: { "/spin": spin } });
    try {
      const r = await t.runsc(["run", "--detach", "--bundle", b.dir, "n1"], {
        outputFile: join(b.dir, "out"),
      });
      assert.equal(r.code, 0, r.stderr);
      const st = JSON.parse(Deno.readTextFileSync(`${t.root}/n1/state.json`));
      const boot = st.pid as number;
      const bootParent = parentOf(boot);
      const goferParent = st.goferPid as number;
      const gofer = childOf(goferParent);
      assertConfinedNsinit("boot's parent", bootParent, `${t.root}/n1/exit`);
      assertConfinedNsinit("gofer's parent", goferParent);

      // --kill-child: SIGKILL of an nsinit ends its child (and so the child's namespace).
      hostKill(goferParent, SIGKILL);
      assert.ok(await waitFor(() => !alive(gofer)), "the gofer ends with its nsinit");
      hostKill(bootParent, SIGKILL);
      assert.ok(await waitFor(() => !alive(boot)), "the Sentry ends with its nsinit");
      const d = await t.runsc(["delete", "--force", "n1"]);
      assert.equal(d.code, 0, d.stderr);
      for (const pid of [boot, bootParent, gofer, goferParent]) assert.ok(!alive(pid), `${pid}`);
    } finally {
      await b.cleanup();
      await t.cleanup();
    }
  },
});

/**
 * Starts `argv` under nsinit (PID namespace and all), its stderr to a pipe; with `record`, a
 * descriptor nsinit writes its exit record to.
 */
function startNsinit(argv: string[], wrap: string[] = [], record = -1) {
  const [errRead, errWrite] = pipe(0x80000);
  const cmd = confinedCommand(argv, [[2, errWrite]], undefined, record);
  const pid = spawn({
    path: wrap.length ? wrap[0] : cmd.path,
    argv: [...wrap, ...(wrap.length ? [cmd.path, ...cmd.argv.slice(1)] : cmd.argv)],
    fds: cmd.fds,
    closeOthers: true,
    setsid: true,
  });
  closeFd(errWrite);
  return {
    pid,
    /** Waits for nsinit; returns its raw wait status and what it wrote to stderr. */
    async end(): Promise<{ status: number; stderr: string }> {
      const status = (await waitpidAsync(pid, 0)).raw;
      const buf = new Uint8Array(4096);
      const file = Deno.openSync(`/proc/self/fd/${errRead}`);
      const n = file.readSync(buf) ?? 0;
      file.close();
      closeFd(errRead);
      return { status, stderr: new TextDecoder().decode(buf.subarray(0, n)) };
    },
  };
}

Deno.test({
  name: "nsinit ends as its child ended: its exit code, or killed by the same signal",
  ignore: !IS_ROOT,
  async fn() {
    const exit3 = await startNsinit(["/bin/sh", "-c", "exit 3"]).end();
    assert.ok(W.exited(exit3.status), `status ${exit3.status}`);
    assert.equal(W.exitCode(exit3.status), 3);

    const sleeper = startNsinit(["/bin/sh", "-c", "sleep 30; exit 0"]);
    let child = 0;
    assert.ok(
      await waitFor(() => {
        try {
          child = childOf(sleeper.pid);
          return true;
        } catch {
          return false;
        }
      }),
    );
    // As docker's kill of the container's pid: its nsinit dies the same way (137).
    hostKill(child, SIGKILL);
    const killed = await sleeper.end();
    assert.ok(W.signaled(killed.status), `status ${killed.status}`);
    assert.equal(W.termSig(killed.status), SIGKILL);
  },
});

Deno.test({
  name: "nsinit records its child's exit status in a file its child never holds",
  ignore: !IS_ROOT,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "runsc-nsinit-" });
    try {
      const run = async (script: string, kill = false) => {
        const record = openExitRecord(dir);
        // The record's descriptor is the one above stderr in nsinit: 3. The child must not have it.
        const started = startNsinit(["/bin/sh", "-c", script], [], record);
        closeFd(record);
        if (kill) {
          let child = 0;
          assert.ok(await waitFor(() => (child = firstChild(started.pid)) > 0));
          hostKill(child, SIGKILL);
        }
        const { status, stderr } = await started.end();
        return { status, stderr, record: Deno.readTextFileSync(join(dir, "exit")) };
      };
      const three = await run("test -e /proc/self/fd/3 && exit 9; exit 3");
      assert.equal(three.status, 3 << 8, three.stderr);
      assert.equal(three.record, "3\n");
      const max = await run("exit 255");
      assert.equal(max.record, "255\n");
      const zero = await run("exit 0");
      assert.equal(zero.record, "0\n");
      const killed = await run("sleep 30", true);
      assert.ok(W.signaled(killed.status), `status ${killed.status}`);
      assert.equal(killed.record, "137\n");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "nsinit says which step failed and exits 1 (execve; unshare as non-root)",
  ignore: !IS_ROOT,
  async fn() {
    const missing = await startNsinit(["/nonexistent/program"]).end();
    assert.equal(missing.status, 1 << 8);
    assert.equal(missing.stderr, "runsc-nsinit: execve: errno 2\n");

    const nobody = await startNsinit(["/bin/true"], [
      "/usr/bin/setpriv",
      "--reuid=65534",
      "--regid=65534",
      "--clear-groups",
      "--inh-caps=-all",
    ]).end();
    assert.equal(nobody.status, 1 << 8, nobody.stderr);
    assert.equal(nobody.stderr, "runsc-nsinit: unshare: errno 1\n");
  },
});

/** What classic BPF `filter` answers for a call (the few opcodes buildFilter emits). */
function runFilter(
  filter: Uint8Array<ArrayBuffer>,
  call: { nr: number; arch?: number; args?: bigint[] },
): number {
  const data = new DataView(new ArrayBuffer(64));
  data.setUint32(0, call.nr, true);
  data.setUint32(4, call.arch ?? 0xc000_003e, true);
  (call.args ?? []).forEach((a, i) => data.setBigUint64(16 + 8 * i, a, true));
  const v = new DataView(filter.buffer, filter.byteOffset, filter.byteLength);
  let acc = 0;
  for (let pc = 0; pc * 8 < filter.length; pc++) {
    const [code, jt, jf, k] = [
      v.getUint16(pc * 8, true),
      v.getUint8(pc * 8 + 2),
      v.getUint8(pc * 8 + 3),
      v.getUint32(pc * 8 + 4, true),
    ];
    if (code === 0x20) acc = data.getUint32(k, true);
    else if (code === 0x54) acc = (acc & k) >>> 0;
    else if (code === 0x05) pc += k;
    else if (code === 0x15) pc += acc === k ? jt : jf;
    else if (code === 0x35) pc += acc >= k ? jt : jf;
    else if (code === 0x06) return k;
    else throw new Error(`opcode ${code}`);
  }
  throw new Error("fell off the filter");
}

Deno.test("nsinit's filter, its pid patched in as its code does, allows only waiting and ending", () => {
  const image = nsinitImage({ pid: true, net: true }, 5);
  const v = new DataView(image.buffer);
  const load = 0x1000_0000;
  // The data page: the sock_fprog at 0x38, the address of the pid's slot at 0x48.
  const len = v.getUint16(0x1000 + 0x38, true);
  const filterAt = Number(v.getBigUint64(0x1000 + 0x40, true)) - load;
  const slot = Number(v.getBigUint64(0x1000 + 0x48, true)) - load;
  const filter = image.slice(filterAt, filterAt + len * 8);
  assert.deepEqual(filter, nsinitFilter());
  const pid = 4242;
  v.setUint32(slot, pid, true);
  const patched = image.slice(filterAt, filterAt + len * 8);
  const allow = SeccompRet.ALLOW;
  const kill = SeccompRet.KILL_PROCESS;
  const cases: [string, { nr: number; arch?: number; args?: bigint[] }, number][] = [
    ["wait4", { nr: SYS.wait4 }, allow],
    ["exit_group", { nr: SYS.exit_group }, allow],
    ["rt_sigreturn", { nr: SYS.rt_sigreturn }, allow],
    ["restart_syscall", { nr: SYS.restart_syscall }, allow],
    ["kill(self)", { nr: SYS.kill, args: [BigInt(pid), 9n] }, allow],
    ["kill(other)", { nr: SYS.kill, args: [1n, 9n] }, kill],
    ["kill(-self)", { nr: SYS.kill, args: [BigInt(-pid) & 0xffff_ffff_ffff_ffffn, 9n] }, kill],
    ["kill(self + 2^32)", { nr: SYS.kill, args: [BigInt(pid) | (1n << 32n), 9n] }, kill],
    ["tgkill", { nr: SYS.tgkill, args: [BigInt(pid), BigInt(pid), 9n] }, kill],
    ["write", { nr: SYS.write }, kill],
    ["execve", { nr: SYS.execve }, kill],
    ["i386 waitpid (7 there)", { nr: 7, arch: 0x4000_0003 }, kill],
    ["x32 wait4", { nr: 0x4000_0000 + SYS.wait4 }, kill],
  ];
  for (const [what, call, want] of cases) {
    assert.equal(runFilter(patched, call), want, what);
  }
  // Unpatched, the placeholder is no pid: kill(self) is refused.
  assert.equal(runFilter(filter, { nr: SYS.kill, args: [BigInt(pid), 9n] }), kill);
});

Deno.test("nsinit's filter with an exit record allows one short write to that descriptor only", () => {
  const filter = nsinitFilter(3);
  const write = (fd: bigint, count: bigint) =>
    runFilter(filter, { nr: SYS.write, args: [fd, 0x1000_10ecn, count] });
  const allow = SeccompRet.ALLOW;
  const kill = SeccompRet.KILL_PROCESS;
  assert.equal(write(3n, 4n), allow, "the record");
  assert.equal(write(3n, 1n), allow, "a shorter record");
  assert.equal(write(3n, 8n), kill, "8 bytes");
  assert.equal(write(3n, 1n << 32n), kill, "2^32 bytes");
  assert.equal(write(2n, 4n), kill, "stderr");
  assert.equal(write(3n | (1n << 32n), 4n), kill, "fd 3 + 2^32");
  assert.equal(runFilter(filter, { nr: SYS.pwrite64, args: [3n, 0n, 4n, 0n] }), kill, "pwrite64");
  assert.equal(runFilter(filter, { nr: SYS.wait4 }), allow, "wait4");
  // The image names the same descriptor in its filter.
  const image = nsinitImage({ pid: true, net: true }, 4, 3);
  const v = new DataView(image.buffer);
  const len = v.getUint16(0x1000 + 0x38, true);
  const filterAt = Number(v.getBigUint64(0x1000 + 0x40, true)) - 0x1000_0000;
  assert.deepEqual(image.slice(filterAt, filterAt + len * 8), filter);
  assert.throws(() => nsinitImage({ pid: false, net: true }, 4, 3), /PID namespace/);
});
