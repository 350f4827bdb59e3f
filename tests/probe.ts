/**
 * Behaviour probes: a tests/progs/*.c program runs natively and in the sandbox, and both runs
 * must print the same output and end with the same status. Each *_test.ts file lists its
 * probes and calls probeTests().
 *
 * The suite is a parameter of the platform (PLATFORMS below): every probe runs on each.
 *
 * @module
 */

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { compileProg, IS_ROOT, makeBundle, makeRoot } from "./harness.ts";
import { probeSystrap } from "../platform/systrap/systrap.ts";
import { MemoryFile } from "../sentry/mm/memory_file.ts";

/** Why `platform` cannot run here, or null when it can. */
export function platformUnavailable(platform: string): string | null {
  if (platform === "systrap") {
    // Starting it needs what the sandbox has as root (tracing its own stubs).
    return IS_ROOT ? probeSystrap(new MemoryFile(1n << 24n)) : "needs root";
  }
  if (platform !== "kvm") return null;
  try {
    Deno.openSync("/dev/kvm", { read: true, write: true }).close();
    return null;
  } catch (e) {
    return `/dev/kvm is not usable here (${(e as Error).message})`;
  }
}

/**
 * The platforms every probe runs on: RUNSC_TEST_PLATFORMS (comma-separated), or systrap (the
 * default platform; its tests are skipped with the reason where it cannot run), ptrace and,
 * where /dev/kvm is usable, kvm too.
 */
export const PLATFORMS: string[] = Deno.env.get("RUNSC_TEST_PLATFORMS")?.split(",") ??
  ["systrap", "ptrace", ...(platformUnavailable("kvm") === null ? ["kvm"] : [])];

export interface Probe {
  /** tests/progs/<prog>.c, compiled and placed at /<prog>. */
  prog?: string;
  args?: string[];
  /** The command to run (default: /<prog> with args). */
  argv?: string[];
  /**
   * A prepared root filesystem used as it is by both runs (natively as the chroot, in the
   * sandbox as the read-only root); with it, prog and files are not allowed.
   */
  rootfs?: () => Promise<string>;
  /** Test name (default: the program and its arguments). */
  name?: string;
  /**
   * A writable root: the sandbox's is overlaid (its default --overlay2), the native run's is
   * an overlayfs; neither changes the rootfs.
   */
  writableRoot?: boolean;
  /**
   * Global flags for the sandbox's runsc (e.g. `--overlay2=none`). With them the sandbox gets
   * a root of its own: it may write to it directly, and the native run must not see that.
   */
  runscFlags?: string[];
  /** Build with -static-pie. */
  pie?: boolean;
  /** Extra files in the rootfs (see makeBundle). */
  files?: Record<string, string | { text: string; mode?: number }>;
  /** Text on stdin (default none: /dev/null). */
  stdin?: string;
  /** Extra environment, KEY=VALUE. */
  env?: string[];
  /** Fields added to the sandbox's config.json `process` (capabilities, noNewPrivileges). */
  process?: Record<string, unknown>;
  /**
   * The native run's command when it differs (default: the sandbox's): e.g. a launcher that
   * sets up natively what the spec gives the sandbox.
   */
  nativeArgv?: string[];
  /**
   * linux.resources.pids.limit for the sandbox; the native run is put in a pids cgroup with
   * that pids.max.
   */
  pidsLimit?: number;
  /**
   * The native run gets a network namespace of its own with only loopback up, as the
   * sandbox's --network=none (so routes and ports of the host do not change the answers).
   */
  loopbackOnly?: boolean;
  /**
   * Both runs happen in a network namespace of their own, made for the test with these
   * interfaces (`ip -n NS` commands' arguments after `-n NS`): for a probe of the host's
   * interfaces (--network=host), which other tests add to and remove from the host's namespace.
   */
  netns?: string[][];
}

interface Outcome {
  stdout: string;
  stderr: string;
  /** Exit code, or 128 + signal as a shell (and `runsc run`) reports it. */
  status: number;
}

const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSYS: 31,
};

/** How long a native run may take before it is killed (the sandbox's run has harness's). */
const NATIVE_TIMEOUT_S = 120;

/**
 * Runs the program natively in a chroot of the rootfs the sandbox gets, so that paths mean
 * the same thing in both runs.
 */
async function native(
  root: string,
  argv: string[],
  p: Probe,
  netns: string | null,
): Promise<Outcome> {
  // A private mount namespace gives the chroot /proc, /dev and an empty /tmp, as the sandbox
  // has, and takes them away again when the program ends: nothing is left in the rootfs. A
  // writable root is an overlayfs over it, with the upper layer thrown away afterwards.
  const scratch = p.writableRoot ? await Deno.makeTempDir({ prefix: "runsc-native-upper-" }) : "";
  const cgroup = p.pidsLimit === undefined ? "" : pidsCgroup();
  const setup = [
    // Descriptors the runner's parents left open (a CI runner's, a shell's) would reach the
    // program natively but never the sandbox's application, changing the numbers it gets and
    // its descriptor table's size: only stdio goes on, as in the sandbox. (bash: dash cannot
    // name descriptors past 9.)
    'for f in /proc/$$/fd/*; do n="${f##*/}"; [ "$n" -gt 2 ] && eval "exec $n>&-" 2>/dev/null; done',
    // The sandbox's process starts with umask 022 (Linux's init's); the runner's may differ.
    "umask 022",
    'root="$1"; shift',
    ...(cgroup
      ? [
        `mkdir "${cgroup}" && echo ${p.pidsLimit} > "${cgroup}/pids.max" || exit 125`,
      ]
      : []),
    ...(scratch
      ? [
        `mkdir -p "${scratch}/upper" "${scratch}/work" "${scratch}/merged"`,
        `mount -t overlay overlay -o "lowerdir=$root,upperdir=${scratch}/upper,` +
        `workdir=${scratch}/work" "${scratch}/merged" || exit 125`,
        `root="${scratch}/merged"`,
      ]
      : []),
    ...(p.loopbackOnly ? ["/usr/sbin/ip link set lo up || exit 125"] : []),
    'mkdir -p "$root/proc" "$root/dev" "$root/tmp" 2>/dev/null',
    'mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" && ' +
    // Terminals of its own, numbered from 0 as in the sandbox, whatever ptys the host has open.
    '{ mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts" && ' +
    'mount --bind "$root/dev/pts/ptmx" "$root/dev/ptmx" || true; } && ' +
    // In a subshell, with a command after it so that bash cannot exec it in place: a fork
    // gives the program a descriptor table sized for stdio again (Linux does not shrink one
    // when descriptors close, and select(2) ignores bits past its size). Only the program
    // joins the pids cgroup, as only it counts in the sandbox's.
    'mount -t tmpfs tmpfs "$root/tmp" && ( ' +
    (cgroup ? `{ echo $BASHPID > "${cgroup}/cgroup.procs" || exit 125; } && ` : "") +
    'exec /usr/sbin/chroot "$root" "$@" )',
    "exit $?",
  ].join("\n");
  // timeout(1) leads a process group of its own and kills all of it: a program that blocks
  // natively fails its probe instead of hanging the suite. setsid(1) first (in place: the
  // child leads no group) leaves the runner's controlling terminal behind, which the sandbox's
  // application never has either (a test run from a terminal saw /dev/tty open natively).
  const child = new Deno.Command(netns ? "/usr/sbin/ip" : "/usr/bin/setsid", {
    args: [
      ...(netns ? ["netns", "exec", netns, "/usr/bin/setsid"] : []),
      "/usr/bin/timeout",
      "-s",
      "KILL",
      String(NATIVE_TIMEOUT_S),
      "/usr/bin/unshare",
      "--mount",
      ...(p.loopbackOnly ? ["--net"] : []),
      "--propagation",
      "private",
      "/bin/bash",
      "-c",
      setup,
      "bash",
      root,
      ...argv,
    ],
    cwd: "/",
    env: Object.fromEntries(["PATH=/usr/bin:/bin", ...(p.env ?? [])].map((e) => {
      const i = e.indexOf("=");
      return [e.slice(0, i), e.slice(i + 1)];
    })),
    clearEnv: true,
    stdin: p.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (p.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(p.stdin));
    await w.close();
  }
  const started = Date.now();
  const r = await child.output();
  if (cgroup) await Deno.remove(cgroup).catch(() => {});
  const status = r.signal ? 128 + (SIGNALS[r.signal] ?? 0) : r.code;
  let stderr = new TextDecoder().decode(r.stderr);
  if (status === 128 + 9 && Date.now() - started >= NATIVE_TIMEOUT_S * 1000) {
    stderr += `\n(the native run was killed after ${NATIVE_TIMEOUT_S} s)`;
  }
  return { stdout: new TextDecoder().decode(r.stdout), stderr, status };
}

/** Runs ip(8), throwing with its stderr when it fails. */
async function ip(...args: string[]): Promise<void> {
  const r = await new Deno.Command("/usr/sbin/ip", { args, stdout: "null", stderr: "piped" })
    .output();
  if (!r.success) {
    throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(r.stderr).trim()}`);
  }
}

/** A new named network namespace with the given interfaces (`ip -n NS` arguments each). */
async function makeNetns(commands: string[][]): Promise<string> {
  const name = `runsc-probe-${crypto.randomUUID().slice(0, 8)}`;
  await ip("netns", "add", name);
  try {
    for (const c of commands) await ip("-n", name, ...c);
  } catch (e) {
    await ip("netns", "del", name).catch(() => {});
    throw e;
  }
  return name;
}

/** A new pids cgroup's path (v1's pids hierarchy, or the v2 root's), not made yet. */
function pidsCgroup(): string {
  let base = "/sys/fs/cgroup/pids";
  try {
    Deno.statSync(`${base}/cgroup.procs`);
  } catch {
    base = "/sys/fs/cgroup";
  }
  return `${base}/runsc-probe-${crypto.randomUUID()}`;
}

/** Puts files into a root directory as makeBundle does (host copies, or text). */
async function populate(
  root: string,
  files: Record<string, string | { text: string; mode?: number }>,
): Promise<void> {
  for (const [path, src] of Object.entries(files)) {
    const dest = join(root, path);
    await Deno.mkdir(dirname(dest), { recursive: true });
    await Deno.mkdir(join(root, "proc"), { recursive: true });
    await Deno.mkdir(join(root, "dev"), { recursive: true });
    if (typeof src === "string") {
      await Deno.copyFile(src, dest);
      await Deno.chmod(dest, 0o755);
    } else {
      await Deno.writeTextFile(dest, src.text, { mode: src.mode ?? 0o644 });
    }
  }
}

/**
 * Registers one test per probe and platform. `missing`: why these probes cannot run here (a
 * program the host lacks), or null. A probe that cannot run is still registered, ignored, with
 * the reason in its name, so that the report counts it as ignored and never as passed.
 */
export function probeTests(probes: Probe[], missing: string | null = null): void {
  for (const platform of PLATFORMS) {
    const skip = !IS_ROOT
      ? "running containers needs root"
      : missing ?? platformUnavailable(platform);
    for (const probe of probes) {
      const argv = probe.argv ?? [`/${probe.prog}`, ...(probe.args ?? [])];
      const label = probe.name ??
        `${argv.join(" ").replace(/^\//, "")}${probe.pie ? " (static-pie)" : ""}`;
      Deno.test({
        name: `${label} behaves the same in the sandbox (${platform}) as natively` +
          (skip === null ? "" : ` [ignored: ${skip}]`),
        ignore: skip !== null,
        async fn() {
          let rootfs: string;
          let made: string | null = null;
          let own: string | null = null;
          if (probe.rootfs) {
            if (probe.prog || probe.files) throw new Error("a prepared rootfs takes no files");
            rootfs = await probe.rootfs();
          } else {
            const files = { ...probe.files };
            if (probe.prog) {
              files[probe.prog] = await compileProg(probe.prog, { pie: probe.pie });
            }
            made = await Deno.makeTempDir({ prefix: "runsc-probe-root-" });
            await populate(made, files);
            rootfs = made;
            if (probe.runscFlags) {
              own = await Deno.makeTempDir({ prefix: "runsc-probe-root-" });
              await populate(own, files);
            }
          }
          const bundle = await makeBundle({
            args: argv,
            env: ["PATH=/usr/bin:/bin", ...(probe.env ?? [])],
            config: {
              root: { path: own ?? rootfs, readonly: !probe.writableRoot },
              ...(probe.pidsLimit === undefined
                ? {}
                : { linux: { resources: { pids: { limit: probe.pidsLimit } } } }),
            },
          });
          if (probe.process) {
            const file = join(bundle.dir, "config.json");
            const config = JSON.parse(await Deno.readTextFile(file));
            Object.assign(config.process, probe.process);
            await Deno.writeTextFile(file, JSON.stringify(config, null, 2));
          }
          const root = await makeRoot();
          const netns = probe.netns ? await makeNetns(probe.netns) : null;
          try {
            // The sandbox first: its root is read-only, so only the native run can leave
            // anything behind in the shared rootfs.
            const got = await root.runsc(
              ["run", "--bundle", bundle.dir, "probe"],
              { stdin: probe.stdin, netns: netns ?? undefined },
              [`--platform=${platform}`, ...(probe.runscFlags ?? [])],
            );
            const want = await native(rootfs, probe.nativeArgv ?? argv, probe, netns);
            const why = `sandbox stderr: ${got.stderr}\nnative stderr: ${want.stderr}`;
            assert.equal(got.stdout, want.stdout, `stdout differs; ${why}`);
            assert.equal(got.code, want.status, `status differs; ${why}`);
          } finally {
            await root.cleanup();
            await bundle.cleanup();
            if (netns) await ip("netns", "del", netns).catch(() => {});
            if (made) await Deno.remove(made, { recursive: true });
            if (own) await Deno.remove(own, { recursive: true });
          }
        },
      });
    }
  }
}
