/**
 * The escape suite: programs inside the sandbox (tests/progs/sec_*.c) try to reach the host,
 * and each must get exactly what Linux gives a process in a container. Outside the rootfs the
 * test plants secrets (beside the rootfs in the bundle, and in a directory of its own under
 * /tmp) whose content no output may ever show. Where a chroot is an equivalent jail the same
 * program also runs natively in one and the outputs must match; otherwise the expected output
 * is written here. After each run, the host must hold nothing new (hostcheck.ts).
 *
 * Runs on every platform of tests/probe.ts.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  compileProg,
  IS_ROOT,
  makeBundle,
  makeRoot,
  readOr,
  sentryErrorCounts,
  type TestRoot,
} from "../harness.ts";
import { PLATFORMS, platformUnavailable } from "../probe.ts";
import { hostChanges, hostSnapshot } from "./hostcheck.ts";
import { fuzzLisafs } from "../../bench/lisafs_fuzz.ts";

/** The secrets and the rootfs laid out around them. */
interface Jail {
  /** The host's secret outside everything: an absolute host path. */
  host: string;
  /** The secret beside the rootfs, named from the root's parent. */
  beside: string;
  /** The text both secrets start with (after "SECRET-"). */
  token: string;
  rootfs: string;
  bundleDir: string;
  root: TestRoot;
  cleanup(): Promise<void>;
}

interface Case {
  name: string;
  prog: string;
  /** The program's arguments after its path. */
  args(j: Jail): string[];
  /** Compare with a native run in a chroot (else `expect` must be given). */
  native?: boolean;
  /** The exact output, when not compared with a native run. */
  expect?(j: Jail): string;
  /** A writable root (sandbox: the default overlay or runscFlags; native: an overlayfs). */
  writableRoot?: boolean;
  runscFlags?: string[];
  timeoutMs?: number;
  /** Run with create/start so the program can be given host PIDs (written to /pids). */
  hostPids?: boolean;
  /**
   * Long and deterministic, and the Sentry's path walks alone whatever the platform: run on
   * the first platform only (the default one), which keeps the suite's time as platforms come.
   */
  onePlatform?: boolean;
}

async function makeJail(prog: string, writable: boolean): Promise<Jail> {
  const token = crypto.randomUUID();
  const secretDir = await Deno.makeTempDir({ prefix: "runsc-secret-" });
  const host = join(secretDir, "secret");
  await Deno.writeTextFile(host, `SECRET-${token}\n`);
  const b = await makeBundle({
    args: [`/${prog}`],
    files: {
      [prog]: await compileProg(prog),
      "inside.txt": { text: "inside\n" },
      "d/.keep": { text: "" },
      "tmp/.keep": { text: "" },
      "proc/.keep": { text: "" },
      "dev/.keep": { text: "" },
    },
    config: { root: { path: "rootfs", readonly: !writable } },
  });
  await Deno.writeTextFile(join(b.dir, "secret.txt"), `SECRET-${token}\n`);
  await Deno.symlink(host, join(b.rootfs, "l_abs"));
  await Deno.symlink("../secret.txt", join(b.rootfs, "l_rel"));
  await Deno.symlink("../../../../..", join(b.rootfs, "l_up"));
  await Deno.symlink("../../../../..", join(b.rootfs, "d", "l_up"));
  await Deno.symlink("/", join(b.rootfs, "l_root"));
  const root = await makeRoot();
  return {
    host,
    beside: "secret.txt",
    token,
    rootfs: b.rootfs,
    bundleDir: b.dir,
    root,
    async cleanup() {
      await root.cleanup();
      await b.cleanup();
      await Deno.remove(secretDir, { recursive: true });
    },
  };
}

/** Every capability Linux has (0-40): the attacker is root with all of them. */
const ALL_CAPS = [
  "CHOWN",
  "DAC_OVERRIDE",
  "DAC_READ_SEARCH",
  "FOWNER",
  "FSETID",
  "KILL",
  "SETGID",
  "SETUID",
  "SETPCAP",
  "LINUX_IMMUTABLE",
  "NET_BIND_SERVICE",
  "NET_BROADCAST",
  "NET_ADMIN",
  "NET_RAW",
  "IPC_LOCK",
  "IPC_OWNER",
  "SYS_MODULE",
  "SYS_RAWIO",
  "SYS_CHROOT",
  "SYS_PTRACE",
  "SYS_PACCT",
  "SYS_ADMIN",
  "SYS_BOOT",
  "SYS_NICE",
  "SYS_RESOURCE",
  "SYS_TIME",
  "SYS_TTY_CONFIG",
  "MKNOD",
  "LEASE",
  "AUDIT_WRITE",
  "AUDIT_CONTROL",
  "SETFCAP",
  "MAC_OVERRIDE",
  "MAC_ADMIN",
  "SYSLOG",
  "WAKE_ALARM",
  "BLOCK_SUSPEND",
  "AUDIT_READ",
  "PERFMON",
  "BPF",
  "CHECKPOINT_RESTORE",
].map((c) => `CAP_${c}`); // deno-fmt-ignore

/** Rewrites config.json's process: these args, root with every capability. */
async function setArgs(j: Jail, args: string[]): Promise<void> {
  const path = join(j.bundleDir, "config.json");
  const config = JSON.parse(await Deno.readTextFile(path));
  config.process.args = args;
  config.process.capabilities = Object.fromEntries(
    ["bounding", "effective", "permitted", "inheritable", "ambient"].map((k) => [k, ALL_CAPS]),
  );
  await Deno.writeTextFile(path, JSON.stringify(config, null, 2));
}

/**
 * Runs argv natively, chrooted into the rootfs in a private mount namespace with /proc and a
 * tmpfs /tmp, as the sandbox has them; the root is a read-only bind mount, or for a writable
 * root an overlayfs whose upper layer is thrown away.
 */
async function native(j: Jail, argv: string[], writable: boolean) {
  const scratch = await Deno.makeTempDir({ prefix: "runsc-native-upper-" });
  const setup = [
    'root="$1"; s="$2"; shift 2',
    writable
      ? 'mkdir -p "$s/u" "$s/w" "$s/m" && mount -t overlay overlay ' +
        '-o "lowerdir=$root,upperdir=$s/u,workdir=$s/w" "$s/m" && root="$s/m" || exit 125'
      : 'mkdir "$s/m" && mount --bind "$root" "$s/m" && mount -o remount,bind,ro "$s/m" && ' +
        'root="$s/m" || exit 125',
    'mount -t proc proc "$root/proc" && mount -t tmpfs tmpfs "$root/tmp" && ' +
    'exec /usr/sbin/chroot "$root" "$@"',
  ].join("\n");
  try {
    const r = await new Deno.Command("/usr/bin/unshare", {
      args: [
        "--mount",
        "--propagation",
        "private",
        "/bin/sh",
        "-c",
        setup,
        "sh",
        j.rootfs,
        scratch,
        ...argv,
      ],
      cwd: "/",
      clearEnv: true,
      env: { PATH: "/usr/bin:/bin" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    return {
      code: r.code,
      stdout: new TextDecoder().decode(r.stdout),
      stderr: new TextDecoder().decode(r.stderr),
    };
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
}

/** The container's host processes while it is created: boot, gofer and boot's children (stubs). */
function hostPids(j: Jail, id: string): [string, number][] {
  const st = JSON.parse(Deno.readTextFileSync(join(j.root.root, id, "state.json")));
  const out: [string, number][] = [["sentry", st.pid], ["gofer", st.goferPid]];
  for (const t of Deno.readDirSync(`/proc/${st.pid}/task`)) {
    const kids = Deno.readTextFileSync(`/proc/${st.pid}/task/${t.name}/children`).trim();
    for (const k of kids.split(/\s+/).filter(Boolean)) out.push(["child", Number(k)]);
  }
  out.push(["hostinit", 1 << 22]); // a PID the sandbox has not handed out, standing for the host's
  return out;
}

async function runCase(c: Case, platform: string): Promise<void> {
  const j = await makeJail(c.prog, !!c.writableRoot);
  const before = hostSnapshot({ markers: [j.bundleDir, j.root.root] });
  try {
    const argv = [`/${c.prog}`, ...c.args(j)];
    await setArgs(j, argv);
    const log = join(j.bundleDir, "debug.log");
    const flags = [
      `--platform=${platform}`,
      "--debug",
      `--debug-log=${log}`,
      ...(c.runscFlags ?? []),
    ];
    const opts = { timeoutMs: c.timeoutMs ?? 60_000 };
    let got: { code: number; stdout: string; stderr: string };
    let pids: [string, number][] = [];
    if (c.hostPids) {
      const out = join(j.bundleDir, "out");
      const cr = await j.root.runsc(["create", "--bundle", j.bundleDir, "esc"], {
        ...opts,
        outputFile: out,
      }, flags);
      assert.equal(cr.code, 0, cr.stderr);
      pids = hostPids(j, "esc");
      // The root is read-only inside; the host may still write into it before start.
      await Deno.writeTextFile(
        join(j.rootfs, "pids"),
        pids.map(([n, p]) => `${n} ${p}\n`).join(""),
      );
      const comms = pids.map(([, p]) => readOr(`/proc/${p}/stat`).split(" ")[2] ?? "");
      const s = await j.root.runsc(["start", "esc"], opts, flags);
      assert.equal(s.code, 0, s.stderr);
      const w = await j.root.runsc(["wait", "esc"], opts, flags);
      assert.equal(w.code, 0, w.stderr);
      // The Sentry and the Gofer outlive the container until delete: neither was stopped
      // (SIGSTOP) nor attached (ptrace) by the application's calls.
      const st = await j.root.runsc(["state", "esc"], opts, flags);
      assert.equal(st.code, 0, st.stderr);
      assert.equal(JSON.parse(st.stdout).status, "stopped");
      for (const [i, [name, pid]] of pids.entries()) {
        if (name !== "sentry" && name !== "gofer") continue;
        const status = readOr(`/proc/${pid}/status`);
        if (status === "") continue; // gone already
        assert.doesNotMatch(status, /^State:\s+[Tt]/m, `${name} was stopped (was ${comms[i]})`);
        assert.match(status, /^TracerPid:\s+0$/m, `${name} ${pid} is traced`);
      }
      got = {
        code: JSON.parse(w.stdout).exitStatus,
        stdout: Deno.readTextFileSync(out),
        stderr: cr.stderr,
      };
      const d = await j.root.runsc(["delete", "esc"], opts, flags);
      assert.equal(d.code, 0, d.stderr);
    } else {
      got = await j.root.runsc(["run", "--bundle", j.bundleDir, "esc"], opts, flags);
    }
    assert.ok(!got.stdout.includes(j.token), `a secret reached the sandbox:\n${got.stdout}`);
    assert.doesNotMatch(got.stdout, /LEAK/);
    let want: string;
    if (c.native) {
      const n = await native(j, argv, !!c.writableRoot);
      assert.equal(n.code, 0, `native run: ${n.stderr}`);
      want = n.stdout;
    } else {
      want = c.expect!(j);
    }
    const tail = readOr(log).split("\n").slice(-30).join("\n");
    assert.equal(got.stdout, want, `sandbox status ${got.code}, stderr: ${got.stderr}\n${tail}`);
    assert.equal(got.code, 0, got.stderr);
    const changes = hostChanges(before);
    assert.deepEqual(changes, [], "the host changed");
  } finally {
    await j.cleanup();
  }
}

/**
 * The answer to every call sec_proc.c aims at a PID that is not in the container: Linux's
 * ESRCH, except EPERM for rt_sigqueueinfo (a positive si_code may only be sent to oneself,
 * checked first). None reaches the host.
 */
function foreignPid(name: string): string {
  const answers: [string, string][] = [
    ["kill 0", "No such process"],
    ["kill SIGKILL", "No such process"],
    ["tgkill SIGSTOP", "No such process"],
    ["tkill SIGKILL", "No such process"],
    ["rt_sigqueueinfo", "Operation not permitted"],
    ["ptrace ATTACH", "No such process"],
    ["ptrace SEIZE", "No such process"],
    ["process_vm_readv", "No such process"],
    ["process_vm_writev", "No such process"],
    ["pidfd_open", "No such process"],
    ["setpriority", "No such process"],
    ["prlimit", "No such process"],
    ["sched_getaffinity", "No such process"],
    ["kcmp", "No such process"],
    ["readlink /proc/<pid>/root", "No such file or directory"],
  ];
  return answers.map(([call, err]) => `${name} ${call}: ${err}\n`).join("");
}

const CASES: Case[] = [
  {
    name: "paths by '..', symlinks and /proc/self links stay in the root",
    prog: "sec_paths",
    args: (j) => [j.host, j.beside],
    native: true,
  },
  {
    name: "every write under a read-only root is EROFS",
    prog: "sec_rofs",
    args: () => [],
    native: true,
  },
  {
    name: "huge argv and envp are E2BIG",
    prog: "sec_argv",
    args: () => [],
    native: true,
  },
  {
    name: "a symlink swapped during walks never leads out (tmpfs)",
    prog: "sec_swap",
    args: (j) => ["/tmp", "5000", j.host, j.beside],
    native: true,
    timeoutMs: 180_000,
  },
  {
    name: "a symlink swapped during walks never leads out (gofer root, no overlay)",
    prog: "sec_swap",
    args: (j) => ["/", "5000", j.host, j.beside],
    native: true,
    writableRoot: true,
    runscFlags: ["--overlay2=none"],
    timeoutMs: 180_000,
  },
  {
    name: "a symlink swapped during walks never leads out (overlay root)",
    prog: "sec_swap",
    args: (j) => ["/", "5000", j.host, j.beside],
    native: true,
    writableRoot: true,
    timeoutMs: 180_000,
  },
  {
    // 10000 deep: past PATH_MAX twice over and deep enough for any recursion on the depth to
    // overflow; deeper costs minutes (chdir recomputes the whole path: quadratic in the depth).
    name: "symlink bombs, long paths and a directory 10000 deep (tmpfs)",
    prog: "sec_deep",
    onePlatform: true,
    args: () => ["/tmp", "10000"],
    native: true,
    timeoutMs: 180_000,
  },
  {
    name: "symlink bombs, long paths and a directory 4000 deep (overlay root)",
    prog: "sec_deep",
    onePlatform: true,
    args: () => ["/", "4000"],
    native: true,
    writableRoot: true,
    timeoutMs: 180_000,
  },
  {
    // 4000 deep: the Gofer holds a host FD for every node the Sentry holds, and the cwd holds
    // the whole chain; 20000 (RLIMIT_NOFILE here) ends in EMFILE, which Linux never gives.
    name: "symlink bombs, long paths and a directory 4000 deep (gofer root, no overlay)",
    prog: "sec_deep",
    onePlatform: true,
    args: () => ["/", "4000"],
    native: true,
    writableRoot: true,
    runscFlags: ["--overlay2=none"],
    timeoutMs: 180_000,
  },
  {
    name: "/proc/1, other processes' links, file handles and host PIDs lead nowhere",
    prog: "sec_proc",
    args: (j) => [j.host, j.beside, "/pids"],
    hostPids: true,
    expect: (j) => {
      const pids = Deno.readTextFileSync(join(j.rootfs, "pids")).trim().split("\n")
        .map((l) => l.split(" "));
      return [
        "pid: 1",
        "readlink /proc/1/root: /",
        "/proc/1/root + host path: No such file or directory",
        "/proc/1/root/../../beside: No such file or directory",
        "/proc/1/root/..: the root",
        "/proc/1/cwd/../.. + host path: No such file or directory",
        "readlink /proc/<child>/fd/9: /d",
        "/proc/<child>/fd/9/../.. + host path: No such file or directory",
        "/proc/<child>/cwd/../../beside: No such file or directory",
        "/proc/<child>/root/.. + host path: No such file or directory",
        "/proc/<child>/cwd/../../..: the root",
        "name_to_handle_at /inside.txt: Operation not supported",
        "open_by_handle_at (host root's handle): Operation not supported",
        "open_by_handle_at (oversized handle): Operation not supported",
        "mount --bind /proc/1/root /d: 0",
        "/d + host path: No such file or directory",
        "umount /d: 0",
        "mount tmpfs on /d: 0",
        "umount /d: 0",
        "chroot /d: 0",
        "fchdir out of it: 0",
        "chroot .: 0",
        "after the chroot escape, / is: the container's root",
        "after the chroot escape, host path: No such file or directory",
        "after the chroot escape, beside: No such file or directory",
      ].map((l) => `${l}\n`).join("") +
        pids.map(([n]) => foreignPid(n)).join("") + "leaks: 0\n";
    },
  },
];

/**
 * Raw system calls 0-599 with random arguments from 4 threads per process: nothing reaches the
 * host, and the Sentry answers `runsc state` all along and runs the program to its end.
 */
async function fuzzCase(platform: string): Promise<void> {
  const j = await makeJail("syscall_fuzz", false);
  const before = hostSnapshot({ markers: [j.bundleDir, j.root.root] });
  try {
    await setArgs(j, ["/syscall_fuzz", "40000", "7", "601", "4"]);
    const log = join(j.bundleDir, "debug.log");
    const flags = [`--platform=${platform}`, "--debug", `--debug-log=${log}`];
    const out = join(j.bundleDir, "out");
    const cr = await j.root.runsc(
      ["create", "--bundle", j.bundleDir, "fz"],
      { outputFile: out },
      flags,
    );
    assert.equal(cr.code, 0, cr.stderr);
    assert.equal((await j.root.runsc(["start", "fz"], {}, flags)).code, 0);
    const deadline = Date.now() + 180_000;
    let polls = 0;
    for (;;) {
      const st = await j.root.runsc(["state", "fz"], { timeoutMs: 20_000 }, flags);
      assert.equal(st.code, 0, `runsc state while fuzzing: ${st.stderr}`);
      const status = JSON.parse(st.stdout).status;
      polls++;
      if (status === "stopped") break;
      assert.equal(status, "running");
      assert.ok(Date.now() < deadline, "the fuzzer did not finish in 3 minutes");
      await new Promise((r) => setTimeout(r, 300));
    }
    const w = await j.root.runsc(["wait", "fz"], {}, flags);
    assert.deepEqual(JSON.parse(w.stdout), { id: "fz", exitStatus: 0 }, readOr(`${out}.err`));
    assert.match(readOr(out), /^fuzzed 40000 calls in 100 children$/m);
    assert.ok(polls > 0);
    // An exception that is not a Linux errno would be a Sentry bug (see tests/fuzz_test.ts).
    assert.deepEqual(sentryErrorCounts(log), [0], "the Sentry threw on a hostile argument");
    assert.equal((await j.root.runsc(["delete", "fz"], {}, flags)).code, 0);
    assert.deepEqual(hostChanges(before), [], "the host changed");
  } finally {
    await j.cleanup();
  }
}

/**
 * A symlink swapped by the host (another container, or any host process with access to a
 * shared volume) while the application walks through it in a bind mount with shared access:
 * the Gofer must never follow it on the host, whatever state it is in.
 */
async function hostSwapCase(platform: string): Promise<void> {
  const j = await makeJail("sec_swap", false);
  const shared = join(j.bundleDir, "shared");
  await Deno.mkdir(shared);
  await Deno.mkdir(join(j.rootfs, "shared"));
  const path = join(j.bundleDir, "config.json");
  const config = JSON.parse(await Deno.readTextFile(path));
  config.mounts = [{ destination: "/shared", type: "bind", source: shared, options: ["rbind"] }];
  await Deno.writeTextFile(path, JSON.stringify(config));
  const before = hostSnapshot({ markers: [j.bundleDir, j.root.root] });
  const flipper = new Deno.Command(await compileProg("sec_swap"), {
    args: [shared, "0", j.host, j.beside, "flip-only"],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = flipper.stdout.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, /^flipping/);
    reader.releaseLock();
    await setArgs(j, ["/sec_swap", "/shared", "5000", j.host, j.beside, "walk-only"]);
    const got = await j.root.runsc(
      ["run", "--bundle", j.bundleDir, "esc"],
      { timeoutMs: 180_000 },
      [`--platform=${platform}`],
    );
    assert.ok(!got.stdout.includes(j.token), `a secret reached the sandbox:\n${got.stdout}`);
    assert.equal(
      got.stdout,
      "walks: 10000\nleaks: 0\n",
      got.stderr,
    );
    assert.equal(got.code, 0, got.stderr);
  } finally {
    flipper.kill("SIGKILL");
    await flipper.status;
    await flipper.stdout.cancel().catch(() => {});
  }
  try {
    assert.deepEqual(hostChanges(before), [], "the host changed");
  } finally {
    await j.cleanup();
  }
}

for (const platform of PLATFORMS) {
  const unavailable = platformUnavailable(platform);
  for (const c of CASES) {
    if (c.onePlatform && platform !== PLATFORMS[0]) continue;
    Deno.test({
      name: `escape: ${c.name} (${platform})`,
      ignore: !IS_ROOT || unavailable !== null,
      fn: () => runCase(c, platform),
    });
  }
  Deno.test({
    name:
      `escape: a symlink swapped by the host in a shared bind mount never leads out (${platform})`,
    ignore: !IS_ROOT || unavailable !== null,
    fn: () => hostSwapCase(platform),
  });
  Deno.test({
    name: `escape: raw system calls 0-600 from 4 threads leave the host alone (${platform})`,
    ignore: !IS_ROOT || unavailable !== null,
    fn: () => fuzzCase(platform),
  });
}

/**
 * Systrap's stub page is readable and executable by the application, and its handler's futex
 * and rt_sigreturn instructions are the only ones its threads' filter lets through: every
 * `syscall` there, reached with hostile registers, must answer as the program's own
 * instruction does (the Sentry's answer), and the host must not change (sec_systrap_gadget.c).
 */
const SYSTRAP_GADGETS: Case = {
  name: "every system call instruction of the stub, with hostile registers, gives the host nothing",
  prog: "sec_systrap_gadget",
  args: () => ["/pids"],
  hostPids: true,
  timeoutMs: 120_000,
  expect: () =>
    "stub syscall instructions: 8 or more\n" +
    "every stub instruction gave the same results: 1\n" +
    "scribbler ended: 1\n" +
    "still running: 1\n",
};

Deno.test({
  name: `escape: ${SYSTRAP_GADGETS.name} (systrap)`,
  ignore: !IS_ROOT || platformUnavailable("systrap") !== null,
  fn: () => runCase(SYSTRAP_GADGETS, "systrap"),
});

Deno.test("escape: hostile LISAFS requests for 3 s leave the Gofer serving and the host alone", async () => {
  // The long run is bench/lisafs_fuzz.ts; this keeps it working and finds the shallow bugs.
  const r = await fuzzLisafs(3000, 20261205);
  assert.ok(r.messages > 1000, `only ${r.messages} messages`);
  // EIO is the Gofer's answer when a handler throws what it did not mean to: a bug.
  assert.equal(r.errors.EIO ?? 0, 0, `handlers failed unexpectedly:\n${r.bugs.join("\n")}`);
  assert.ok(
    Object.keys(r.ok).length > 10,
    `few messages got past validation: ${JSON.stringify(r.ok)}`,
  );
});
