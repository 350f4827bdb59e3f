/**
 * Shared helpers for the tests: the deno binary, test programs compiled from tests/progs/*.c
 * (static, cached by source hash), OCI bundles in temporary directories, and running runsc
 * (main.ts from source) as a subprocess.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { allCapabilityNames, CAP } from "../sentry/kernel/task_creds.ts";

/** The repository root. */
export const REPO: string = dirname(dirname(fileURLToPath(import.meta.url)));
/** main.ts, run from source. */
export const MAIN: string = join(REPO, "main.ts");
/** The deno binary running the tests. */
export const DENO: string = Deno.execPath();
/** Where compiled test programs are cached. */
export const CACHE_DIR: string = Deno.env.get("RUNSC_TEST_CACHE") ?? join(REPO, ".cache", "progs");

/** Whether the tests run as root (the lifecycle tests need it). */
export const IS_ROOT: boolean = Deno.uid() === 0;

async function sha256(data: Uint8Array<ArrayBuffer> | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** How to build a test program. */
export interface CompileOptions {
  /** Build a static PIE (`-static-pie`) instead of a static executable. */
  pie?: boolean;
  /** Extra gcc flags. */
  flags?: string[];
}

/**
 * Compiles tests/progs/<name>.c with `gcc -static -O2` (or `-static-pie`) and returns the
 * executable's path. Results are cached by the hash of the source and flags.
 */
export async function compileProg(name: string, opts: CompileOptions = {}): Promise<string> {
  const src = join(REPO, "tests", "progs", `${name}.c`);
  const source = await Deno.readTextFile(src);
  // The probes' own headers (#include "x.h") are part of what is built, so they are part of the key.
  const headers = await Promise.all(
    [...source.matchAll(/^#include "([^"]+)"/gm)].map((m) =>
      Deno.readTextFile(join(REPO, "tests", "progs", m[1]))
    ),
  );
  const flags = [opts.pie ? "-static-pie" : "-static", "-O2", ...(opts.flags ?? [])];
  const key = (await sha256([source, ...headers, flags.join(" ")].join("\0"))).slice(0, 16);
  const out = join(CACHE_DIR, `${name}${opts.pie ? "-pie" : ""}-${key}`);
  try {
    await Deno.stat(out);
    return out;
  } catch { /* not built yet */ }
  await Deno.mkdir(CACHE_DIR, { recursive: true });
  const tmp = `${out}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const r = await new Deno.Command("gcc", {
    args: [...flags, "-o", tmp, src],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) {
    throw new Error(`gcc ${name}.c failed:\n${new TextDecoder().decode(r.stderr)}`);
  }
  await Deno.rename(tmp, out);
  return out;
}

/** What goes into a test bundle. */
export interface BundleOptions {
  /** process.args; args[0] is the program's path inside the rootfs. */
  args: string[];
  /** Files to put in rootfs: path inside rootfs -> host file to copy, or contents. */
  files?: Record<string, string | { text: string; mode?: number }>;
  env?: string[];
  cwd?: string;
  /** Changes applied to config.json after the defaults (a shallow merge at the top level). */
  config?: Record<string, unknown>;
  /** Raw text to write as config.json instead of a generated one. */
  rawConfig?: string;
}

/** A bundle on disk; `cleanup()` removes it. */
export interface Bundle {
  dir: string;
  rootfs: string;
  config: Record<string, unknown>;
  cleanup(): Promise<void>;
}

/**
 * Root's capabilities in a test bundle: every one up to CAP_AUDIT_READ, the last that gVisor's
 * runsc (the bench's comparison) accepts in a spec; the probes use none above it.
 */
const ROOT_CAPS = allCapabilityNames().slice(0, CAP.AUDIT_READ + 1);

/**
 * Makes a bundle in a temporary directory: rootfs/ with the given files (copied, mode kept or
 * set) and a config.json running `args`.
 */
export async function makeBundle(opts: BundleOptions): Promise<Bundle> {
  const dir = await Deno.makeTempDir({ prefix: "runsc-bundle-" });
  const rootfs = join(dir, "rootfs");
  await Deno.mkdir(rootfs);
  for (const [path, src] of Object.entries(opts.files ?? {})) {
    const dest = join(rootfs, path);
    await Deno.mkdir(dirname(dest), { recursive: true });
    if (typeof src === "string") {
      await Deno.copyFile(src, dest);
      await Deno.chmod(dest, 0o755);
    } else {
      await Deno.writeTextFile(dest, src.text, { mode: src.mode ?? 0o644 });
    }
  }
  const config: Record<string, unknown> = {
    ociVersion: "1.1.0",
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: opts.args,
      env: opts.env ?? ["PATH=/usr/bin:/bin"],
      cwd: opts.cwd ?? "/",
      // A spec without capabilities gives root none (as runc); the probes compare with root
      // natively, which has them all, so test bundles ask for them.
      capabilities: {
        bounding: ROOT_CAPS,
        effective: ROOT_CAPS,
        permitted: ROOT_CAPS,
      },
    },
    root: { path: "rootfs", readonly: true },
    hostname: "runsc-test",
    mounts: [],
    ...opts.config,
  };
  await Deno.writeTextFile(
    join(dir, "config.json"),
    opts.rawConfig ?? JSON.stringify(config, null, 2),
  );
  return { dir, rootfs, config, cleanup: () => Deno.remove(dir, { recursive: true }) };
}

/** The outcome of one runsc invocation. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options for one runsc invocation. */
export interface RunscOptions {
  /** Working directory (default: the repository). */
  cwd?: string;
  /** Give up and kill it after this long (default 60 s). */
  timeoutMs?: number;
  /** Called after a timeout killed it (makeRoot's runsc deletes its containers). */
  onTimeout?: () => void;
  /** Text fed to its stdin (default: none, stdin is /dev/null). */
  stdin?: string;
  /**
   * Send stdout to this file and stderr to `<file>.err` instead of pipes. Needed for `create`
   * and `run --detach`: the sandbox inherits the CLI's stdio and keeps it open after the CLI
   * exits, so a pipe would not reach EOF until the container is deleted. The result's stdout
   * and stderr hold what the files contain when the CLI exits.
   */
  outputFile?: string;
  /** Variables added to its environment. */
  env?: Record<string, string>;
  /** A named network namespace (`ip netns add`) to run it in. */
  netns?: string;
}

/** Runs `deno run -A main.ts ...args` and captures its output and exit code. */
export async function runsc(args: string[], opts: RunscOptions = {}): Promise<RunResult> {
  const inNetns = opts.netns ? ["/usr/sbin/ip", "netns", "exec", opts.netns] : [];
  const argv = [...inNetns, DENO, "run", "-A", "--quiet", MAIN, ...args];
  const file = opts.outputFile;
  const child = new Deno.Command(file ? "/bin/sh" : argv[0], {
    args: file
      ? ["-c", 'out="$1"; shift; exec "$@" >>"$out" 2>>"$out.err"', "sh", file, ...argv]
      : argv.slice(1),
    cwd: opts.cwd ?? REPO,
    env: opts.env,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    // The sandbox's processes hold the CLI's stdio: they must go too, or the output pipes
    // never close and the test hangs instead of failing.
    opts.onTimeout?.();
  }, opts.timeoutMs ?? 60_000);
  try {
    const r = await child.output();
    const dec = new TextDecoder();
    if (file) {
      return { code: r.code, stdout: readOr(file), stderr: readOr(`${file}.err`) };
    }
    return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/** A temporary `--root` for one test; `cleanup()` force-deletes what is left and removes it. */
export interface TestRoot {
  root: string;
  /** runsc with `--root <root>` and `extra` global flags before `args`. */
  runsc(args: string[], opts?: RunscOptions, extra?: string[]): Promise<RunResult>;
  cleanup(): Promise<void>;
}

/**
 * Kills what runs for every container under root (boot, gofer): the last resort of a test
 * whose sandbox hangs, so that it fails instead of waiting for ever.
 */
function forceDeleteAll(root: string): void {
  for (const e of listDir(root)) {
    try {
      const st = JSON.parse(Deno.readTextFileSync(join(root, e, "state.json")));
      for (const pid of [st.pid, st.goferPid]) {
        if (typeof pid === "number" && pid > 0) Deno.kill(pid, "SIGKILL");
      }
    } catch {
      // Not a container, or gone already.
    }
  }
}

/** Makes a temporary state root (under /tmp, short enough for Unix socket paths). */
export async function makeRoot(): Promise<TestRoot> {
  const root = await Deno.makeTempDir({ prefix: "runsc-root-" });
  const t: TestRoot = {
    root,
    runsc: (args, opts, extra = []) =>
      runsc(["--root", root, ...extra, ...args], {
        onTimeout: () => forceDeleteAll(root),
        ...opts,
      }),
    async cleanup() {
      try {
        for (const e of Deno.readDirSync(root)) {
          if (e.isDirectory) await runsc(["--root", root, "delete", "--force", e.name]);
        }
      } finally {
        await Deno.remove(root, { recursive: true });
      }
    },
  };
  return t;
}

/**
 * Runs TypeScript `code` in a fresh Deno process (for what cannot be undone in the test
 * runner, such as a seccomp filter) and returns what it printed, trimmed. It must exit 0.
 */
export async function inFreshDeno(code: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (out.code !== 0) {
    throw new Error(`deno eval exited ${out.code}: ${dec.decode(out.stderr)}`);
  }
  return dec.decode(out.stdout).trim();
}

/** A file's text, or "" when it does not exist. */
export function readOr(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

/**
 * The Sentry errors (exceptions that were not a Linux errno: Sentry bugs) that each sandbox
 * logging to the debug log at `path` reported when it ended, one count per sandbox. Throws when
 * the log holds no such report, so that a renamed or lost record fails the caller's test
 * instead of reading as no error.
 */
export function sentryErrorCounts(path: string): number[] {
  const counts: number[] = [];
  for (const line of readOr(path).split("\n")) {
    // Text lines end with their fields as JSON; JSON lines are the fields.
    const fields = line.startsWith("{") ? line : / (\{.*\})$/.exec(line)?.[1];
    if (!fields) continue;
    let v: unknown;
    try {
      v = JSON.parse(fields).sentryErrors;
    } catch {
      continue;
    }
    if (typeof v === "number") counts.push(v);
  }
  if (counts.length === 0) throw new Error(`${path}: no sandbox reported its Sentry errors`);
  return counts;
}

/** Polls `cond` every 20 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

/** Lists a directory's entries (empty when it does not exist). */
export function listDir(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

const O_ACCMODE = 0o3;
const O_PATH = 0o10000000;

/** The descriptors of `pid` that break confinement: host files open for writing, and writable
 * shared mappings of host files. `allowed` are paths the process is meant to write (stdio). */
export function writableHostFiles(pid: number, allowed: string[]): string[] {
  // Files are compared by identity: a pivoted process's links name paths in its own root.
  const identity = (path: string) => {
    try {
      const s = Deno.statSync(path);
      return `${s.dev}:${s.ino}:${s.rdev}`;
    } catch {
      return "";
    }
  };
  const allowedIds = new Set(allowed.map(identity).filter((id) => id !== ""));
  const bad: string[] = [];
  for (const e of Deno.readDirSync(`/proc/${pid}/fd`)) {
    let target: string;
    let flags: number;
    try {
      target = Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`);
      const info = Deno.readTextFileSync(`/proc/${pid}/fdinfo/${e.name}`);
      flags = parseInt(/^flags:\s+([0-7]+)/m.exec(info)![1], 8);
    } catch {
      continue; // closed meanwhile
    }
    // Sockets, pipes, epoll and event descriptors, the Sentry's memfds: not host files.
    if (!target.startsWith("/") || target.startsWith("/memfd:runsc-")) continue;
    if (target === "/dev/null" || allowedIds.has(identity(`/proc/${pid}/fd/${e.name}`))) continue;
    if ((flags & O_PATH) !== 0 || (flags & O_ACCMODE) === 0) continue;
    bad.push(`fd ${e.name} -> ${target} (flags 0${flags.toString(8)})`);
  }
  for (const line of Deno.readTextFileSync(`/proc/${pid}/maps`).split("\n")) {
    const f = line.split(/\s+/);
    if (
      f[1]?.[1] === "w" && f[1][3] === "s" && f[5]?.startsWith("/") && !f[5].startsWith("/memfd:")
    ) {
      bad.push(`mapping ${line}`);
    }
  }
  return bad;
}
