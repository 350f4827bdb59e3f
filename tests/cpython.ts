/**
 * CPython's regression tests, natively and in the sandbox, side by side (`deno task
 * test:cpython`, not part of the default suite: the list takes longer than CI allows).
 *
 * A Debian bookworm root with python3 and libpython3.11-testsuite is built once with
 * `debootstrap --variant=minbase` and cached outside the repository ($RUNSC_CPYTHON_ROOT, or
 * $XDG_CACHE_HOME/runsc-ts/bookworm, or /var/cache/runsc-ts/bookworm). Each module then runs as
 * `python3 -m test MODULE` natively (a chroot over an overlayfs of that root), in our sandbox
 * (a writable root overlaid in memory) and, with --gvisor, in gVisor's runsc for comparison.
 *
 * test_sqlite3 is not in libpython3.11-testsuite (CPython 3.11.2's install leaves it out): it
 * is added to the root from Debian's python3.11 source package (addSqliteTests below); a
 * module whose tests are not in the root is printed as "unavailable", not as a failure.
 * The last full runs' results (native, ours, gVisor, wall times) are in tests/cpython.md.
 *
 * Usage: deno task test:cpython [--platform=ptrace|kvm] [--gvisor] [--timeout=SECONDS]
 *        [--no-native] [MODULE...]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { makeBundle, makeRoot } from "./harness.ts";

/** The modules the issue names (issue 14), in the order they run. */
export const MODULES = [
  "test_os",
  "test_posix",
  "test_subprocess",
  "test_signal",
  "test_threading",
  "test_multiprocessing_fork",
  "test_time",
  "test_fcntl",
  "test_mmap",
  "test_select",
  "test_selectors",
  "test_pty",
  "test_tempfile",
  "test_shutil",
  "test_glob",
  "test_pathlib",
  "test_io",
  "test_fileio",
  "test_file",
  "test_resource",
  "test_logging",
  "test_cmd_line",
  "test_cmd_line_script",
  "test_sqlite3",
  "test_json",
  "test_zlib",
  "test_hashlib",
  "test_struct",
  "test_re",
  "test_unicode",
  "test_datetime",
];

const ENV = ["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/root", "LANG=C.UTF-8", "TERM=dumb"];

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** The cached Debian root, built on first use (debootstrap into a temporary name, renamed). */
export async function debianRoot(): Promise<string> {
  const cache = Deno.env.get("XDG_CACHE_HOME");
  const dir = Deno.env.get("RUNSC_CPYTHON_ROOT") ??
    (cache ? join(cache, "runsc-ts", "bookworm") : "/var/cache/runsc-ts/bookworm");
  if (exists(join(dir, "usr/lib/python3.11/test/regrtest.py"))) return await completeRoot(dir);
  const tmp = `${dir}.tmp`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await Deno.mkdir(join(dir, ".."), { recursive: true });
  console.error(`cpython: building ${dir} with debootstrap (once)`);
  const r = await new Deno.Command("debootstrap", {
    args: [
      "--variant=minbase",
      "--include=python3,libpython3.11-testsuite,netbase",
      "bookworm",
      tmp,
      "http://deb.debian.org/debian",
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!r.success) throw new Error(`cpython: debootstrap into ${tmp} failed (${r.code})`);
  await Deno.rename(tmp, dir);
  return await completeRoot(dir);
}

/**
 * What an installed Debian system has and debootstrap leaves out: without /etc/hosts "localhost"
 * goes to the host's DNS server (test_logging's servers, the sockets tests), which natively
 * waits for its timeout on every lookup; without netbase's /etc/services getservbyname fails
 * (test_socket). Done on a cached root too, so older caches heal.
 */
async function completeRoot(dir: string): Promise<string> {
  if (!exists(join(dir, "etc/services"))) {
    const tmp = await Deno.makeTempDir({ prefix: "runsc-cpython-deb-" });
    try {
      const get = await new Deno.Command("apt-get", { args: ["download", "netbase"], cwd: tmp })
        .output();
      const deb = [...Deno.readDirSync(tmp)].find((e) => e.name.endsWith(".deb"))?.name;
      const put = deb &&
        await new Deno.Command("dpkg", { args: [`--root=${dir}`, "-i", join(tmp, deb)] }).output();
      if (!get.success || !put || !put.success) {
        throw new Error(`cpython: installing netbase into ${dir} failed`);
      }
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  }
  await addSqliteTests(dir).catch((e) => {
    console.error(`cpython: test_sqlite3 stays unavailable: ${(e as Error).message}`);
  });
  const hosts = join(dir, "etc/hosts");
  if (!exists(hosts)) {
    Deno.writeTextFileSync(
      hosts,
      "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    );
  }
  return dir;
}

/** Where the test package of CPython's sqlite3 module goes in the root. */
const SQLITE_TESTS = "usr/lib/python3.11/test/test_sqlite3";

/**
 * test_sqlite3 is missing from every build of CPython 3.11.2, Debian's included: that
 * release's Makefile.pre.in leaves test/test_sqlite3 out of TESTSUBDIRS, so `make install`
 * never installs it (later 3.11 releases do), and libpython3.11-testsuite has no
 * test_sqlite3. The module it tests (_sqlite3, libsqlite3) is in the root. The package is
 * taken from the same version's Debian source (`apt-get source --download-only`, with a
 * deb-src list and apt state of its own, the host's apt configuration untouched) and put
 * where make install would have put it.
 */
async function addSqliteTests(dir: string): Promise<void> {
  if (exists(join(dir, SQLITE_TESTS, "__init__.py"))) return;
  const status = Deno.readTextFileSync(join(dir, "var/lib/dpkg/status"));
  const version = status.match(/^Package: libpython3\.11-testsuite\n(?:.+\n)*?Version: (\S+)/m)
    ?.[1];
  if (!version) throw new Error("no libpython3.11-testsuite version in the root's dpkg status");
  const tmp = await Deno.makeTempDir({ prefix: "runsc-cpython-src-" });
  const run = async (cmd: string, args: string[]) => {
    const r = await new Deno.Command(cmd, { args, cwd: tmp, stdout: "null", stderr: "piped" })
      .output();
    if (!r.success) {
      const err = new TextDecoder().decode(r.stderr).trim().split("\n").slice(-2).join("; ");
      throw new Error(`${cmd} ${args.at(-1)} failed: ${err}`);
    }
  };
  try {
    console.error(`cpython: adding test_sqlite3 from Debian's python3.11 ${version} source`);
    const suites = ["bookworm", "bookworm-updates"].map((s) =>
      `deb-src http://deb.debian.org/debian ${s} main\n`
    ).join("") + "deb-src http://deb.debian.org/debian-security bookworm-security main\n";
    Deno.writeTextFileSync(join(tmp, "sources.list"), suites);
    for (const d of ["state/lists/partial", "cache/archives/partial"]) {
      Deno.mkdirSync(join(tmp, d), { recursive: true });
    }
    const apt = [
      `Dir::State=${tmp}/state`,
      `Dir::Cache=${tmp}/cache`,
      `Dir::Etc::SourceList=${tmp}/sources.list`,
      "Dir::Etc::SourceParts=/dev/null",
      "APT::Sandbox::User=root",
    ].flatMap((o) => ["-o", o]);
    await run("apt-get", [...apt, "-q", "update"]);
    await run("apt-get", [...apt, "-q", "source", "--download-only", `python3.11=${version}`]);
    const orig = [...Deno.readDirSync(tmp)].find((e) =>
      /\.orig\.tar\.\w+$/.test(e.name)
    )?.name;
    if (!orig) throw new Error("the source package has no .orig tarball");
    await run("tar", ["-xf", orig, "--wildcards", "Python-*/Lib/test/test_sqlite3"]);
    const top = [...Deno.readDirSync(tmp)].find((e) => e.name.startsWith("Python-"))!.name;
    await run("cp", ["-r", join(tmp, top, "Lib/test/test_sqlite3"), join(dir, SQLITE_TESTS)]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/**
 * Why a module cannot run from the root (its test file or package is not there), or null.
 * Such a module is reported as unavailable, not as a failure of either runner.
 */
function unavailable(root: string, module: string): string | null {
  const path = join(root, "usr/lib/python3.11/test", ...module.split("."));
  if (exists(`${path}.py`) || exists(join(path, "__init__.py"))) return null;
  return module === "test_sqlite3"
    ? "not installed by CPython 3.11.2, and Debian's source could not be fetched"
    : "not in the root";
}

/** One module's result on one runner. */
interface Result {
  /** SUCCESS, FAILURE, TIMEOUT, CRASH (signal) or what regrtest printed. */
  verdict: string;
  /** regrtest's summary of what failed ("3 failures, 1 error"), if any. */
  detail: string;
  seconds: number;
  output: string;
}

function summarize(out: string, code: number, timedOut: boolean, seconds: number): Result {
  const m = out.match(/Tests? result: ([A-Z_, ]+)/);
  // regrtest's own --timeout dumps the stacks and exits without a result line.
  const hung = timedOut || /^Timeout \(\d+:\d\d:\d\d\)!$/m.test(out);
  let verdict = hung ? "TIMEOUT" : m ? m[1].trim() : code > 128 ? `SIGNAL ${code - 128}` : "?";
  if (!timedOut && !m && code === 0) verdict = "SUCCESS";
  const d = out.match(/^\S+ failed(?: \(([^)]*)\))?/m) ?? out.match(/^\S+ crashed \(([^)]*)\)/m);
  return { verdict, detail: d?.[1] ?? (d ? "failed" : ""), seconds, output: out };
}

async function timed(
  cmd: string,
  args: string[],
  timeoutMs: number,
  onTimeout: () => void = () => {},
): Promise<{ out: string; code: number; timedOut: boolean; seconds: number }> {
  const t0 = performance.now();
  const child = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", stdin: "null" })
    .spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    onTimeout();
  }, timeoutMs);
  const r = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return {
    out: dec.decode(r.stdout) + dec.decode(r.stderr),
    code: r.signal ? 128 + (Deno.build.os === "linux" ? sigNum(r.signal) : 0) : r.code,
    timedOut,
    seconds: (performance.now() - t0) / 1000,
  };
}

function sigNum(s: Deno.Signal): number {
  return ({ SIGKILL: 9, SIGSEGV: 11, SIGABRT: 6, SIGBUS: 7, SIGTERM: 15 } as Record<
    string,
    number
  >)[
    s
  ] ?? 0;
}

function regrtest(module: string, timeout: number): string[] {
  // regrtest's own per-test timeout turns a hang into a traceback before ours kills it.
  return ["/usr/bin/python3", "-m", "test", "-W", "--timeout", String(timeout), module];
}

/** Natively: a chroot over a throwaway overlayfs of the root, with /proc, /dev and /tmp. */
async function native(root: string, module: string, timeout: number): Promise<Result> {
  const scratch = await Deno.makeTempDir({ prefix: "runsc-cpython-native-" });
  const setup = [
    'root="$1"; s="$2"; shift 2',
    'mkdir -p "$s/upper" "$s/work" "$s/merged"',
    'mount -t overlay overlay -o "lowerdir=$root,upperdir=$s/upper,workdir=$s/work" "$s/merged"',
    'r="$s/merged"',
    'mount -t proc proc "$r/proc" && mount --rbind /dev "$r/dev" && mount -t tmpfs tmpfs "$r/tmp"',
    // The host's vsock device has no peer here: test_socket's VSOCK tests would wait forever
    // (a sandbox has none, so they skip there).
    '[ ! -e "$r/dev/vsock" ] || mount --bind /dev/null "$r/dev/vsock"',
    `exec /usr/sbin/chroot "$r" /usr/bin/env -i ${ENV.join(" ")} "$@"`,
  ].join("\n");
  try {
    const r = await timed("/usr/bin/unshare", [
      "--mount",
      "--propagation",
      "private",
      "--uts",
      "--ipc",
      "--fork",
      "--pid",
      "/bin/sh",
      "-c",
      setup,
      "sh",
      root,
      scratch,
      ...regrtest(module, timeout),
    ], (timeout + 60) * 1000);
    return summarize(r.out, r.code, r.timedOut, r.seconds);
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
}

/** In a sandbox: ours (`runsc` from source, on a platform) or gVisor's (/usr/bin/runsc). */
async function sandboxed(
  root: string,
  module: string,
  timeout: number,
  runner: { platform: string } | "gvisor",
): Promise<Result> {
  const bundle = await makeBundle({
    args: regrtest(module, timeout),
    env: ENV,
    config: { root: { path: root, readonly: false } },
  });
  const state = await makeRoot();
  try {
    if (runner === "gvisor") {
      const r = await timed(
        "/usr/bin/runsc",
        [
          "--root",
          state.root,
          "--platform=ptrace",
          "--network=none",
          "run",
          "--bundle",
          bundle.dir,
          "cpython",
        ],
        (timeout + 60) * 1000,
        () => {
          new Deno.Command("/usr/bin/runsc", {
            args: ["--root", state.root, "delete", "--force", "cpython"],
          }).outputSync();
        },
      );
      return summarize(r.out, r.code, r.timedOut, r.seconds);
    }
    const t0 = performance.now();
    const r = await state.runsc(
      ["run", "--bundle", bundle.dir, "cpython"],
      { timeoutMs: (timeout + 60) * 1000 },
      [`--platform=${runner.platform}`],
    );
    const seconds = (performance.now() - t0) / 1000;
    const timedOut = seconds >= timeout + 59;
    return summarize(r.stdout + r.stderr, r.code, timedOut, seconds);
  } finally {
    if (runner === "gvisor") await Deno.remove(state.root, { recursive: true }).catch(() => {});
    else await state.cleanup();
    await bundle.cleanup();
  }
}

function cell(r: Result | undefined): string {
  if (!r) return "-";
  const v = r.verdict === "SUCCESS" ? "ok" : r.verdict;
  return `${v}${r.detail && r.verdict !== "SUCCESS" ? ` (${r.detail})` : ""} ${
    r.seconds.toFixed(0)
  }s`;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      platform: { type: "string", default: "ptrace" },
      gvisor: { type: "boolean", default: false },
      "no-native": { type: "boolean", default: false },
      timeout: { type: "string", default: "600" },
      logs: { type: "string" },
    },
  });
  const timeout = Number(values.timeout);
  if (!Number.isInteger(timeout) || timeout <= 0) {
    console.error(
      `cpython: --timeout must be a positive number of seconds, not "${values.timeout}"`,
    );
    return 2;
  }
  if (Deno.uid() !== 0) {
    console.error("cpython: needs root (chroot, mounts, containers)");
    return 2;
  }
  const modules = positionals.length ? positionals : MODULES;
  const root = await debianRoot();
  const logs = values.logs ?? await Deno.makeTempDir({ prefix: "runsc-cpython-logs-" });
  await Deno.mkdir(logs, { recursive: true });
  const cols = ["native", `runsc-ts ${values.platform}`, ...(values.gvisor ? ["gVisor"] : [])];
  const totals = cols.map(() => ({ pass: 0, seconds: 0 }));
  console.log(["module", ...cols].map((c, i) => c.padEnd(i ? 40 : 36)).join(""));
  let mismatch = 0;
  for (const module of modules) {
    const why = unavailable(root, module);
    if (why) {
      console.log(`${module.padEnd(36)}unavailable: ${why}`);
      continue;
    }
    const row: (Result | undefined)[] = [
      values["no-native"] ? undefined : await native(root, module, timeout),
      await sandboxed(root, module, timeout, { platform: values.platform! }),
      values.gvisor ? await sandboxed(root, module, timeout, "gvisor") : undefined,
    ].slice(0, cols.length);
    row.forEach((r, i) => {
      if (!r) return;
      if (r.verdict === "SUCCESS") totals[i].pass++;
      totals[i].seconds += r.seconds;
      Deno.writeTextFileSync(join(logs, `${module}.${cols[i].replace(/\W+/g, "_")}.log`), r.output);
    });
    if (row[0] && row[0].verdict === "SUCCESS" && row[1]?.verdict !== "SUCCESS") mismatch++;
    console.log([module, ...row.map(cell)].map((c, i) => c.padEnd(i ? 40 : 36)).join(""));
  }
  console.log(
    ["total", ...totals.map((t) => `${t.pass}/${modules.length} ${t.seconds.toFixed(0)}s`)]
      .map((c, i) => c.padEnd(i ? 40 : 36)).join(""),
  );
  console.log(`logs: ${logs}`);
  return mismatch === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
