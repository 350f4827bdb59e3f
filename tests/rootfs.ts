/**
 * Root filesystems for acceptance tests, built once from the host's own files into the test
 * cache and reused: static busybox with its applets, and dynamically linked Debian programs
 * with the libraries ldd names (and Python's standard library).
 *
 * @module
 */

import { dirname, join } from "node:path";
import { CACHE_DIR } from "./harness.ts";

const cache = new Map<string, Promise<string | null>>();

async function run(cmd: string, args: string[]): Promise<string> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!r.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
  }
  return new TextDecoder().decode(r.stdout);
}

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Builds `name` once (per cache directory) with `build`, into a temp dir renamed in place. */
function cached(name: string, build: (dir: string) => Promise<void>): Promise<string | null> {
  let p = cache.get(name);
  if (!p) {
    p = (async () => {
      const dir = join(CACHE_DIR, "..", `rootfs-${name}`);
      if (exists(join(dir, ".complete"))) return dir;
      // Test files running at once (in one process or several) may build it together: each
      // builds its own copy, the first complete one stays, and one in use is never replaced.
      const tmp = `${dir}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
      await Deno.mkdir(tmp, { recursive: true });
      try {
        await build(tmp);
        await Deno.writeTextFile(join(tmp, ".complete"), "");
        // A directory is renamed into place only once complete, so one already there is
        // another build's, possibly in use: it stays, and this copy goes.
        await Deno.rename(tmp, dir).catch((e) => {
          if (!exists(join(dir, ".complete"))) throw e;
        });
      } finally {
        await Deno.remove(tmp, { recursive: true }).catch(() => {});
      }
      return dir;
    })();
    cache.set(name, p);
  }
  return p;
}

/** True when the host has a static busybox to build the busybox rootfs from. */
export function haveBusybox(): boolean {
  return exists("/bin/busybox");
}

/** /bin/busybox with a symlink per applet in /bin, and /tmp. */
export function busyboxRootfs(): Promise<string> {
  return cached("busybox", async (dir) => {
    for (const d of ["bin", "tmp", "proc", "dev"]) {
      await Deno.mkdir(join(dir, d), { recursive: true });
    }
    await Deno.copyFile("/bin/busybox", join(dir, "bin", "busybox"));
    await Deno.chmod(join(dir, "bin", "busybox"), 0o755);
    const applets = (await run("/bin/busybox", ["--list"])).split("\n").filter((a) =>
      a && a !== "busybox"
    );
    for (const a of applets) await Deno.symlink("busybox", join(dir, "bin", a));
  }) as Promise<string>;
}

/** Copies a host file (following links) to the same path under dir, with its mode. */
async function copyHost(dir: string, path: string): Promise<void> {
  const dest = join(dir, path);
  if (exists(dest)) return;
  await Deno.mkdir(dirname(dest), { recursive: true });
  await Deno.copyFile(path, dest);
  await Deno.chmod(dest, (await Deno.stat(path)).mode! & 0o7777);
}

/** The shared libraries `ldd` lists for an executable or library. */
async function libsOf(path: string): Promise<string[]> {
  const out = await run("ldd", [path]).catch(() => "");
  return [...out.matchAll(/(\/[^\s]+)/g)].map((m) => m[1]);
}

async function copyWithLibs(dir: string, path: string): Promise<void> {
  await copyHost(dir, path);
  for (const lib of await libsOf(path)) await copyHost(dir, lib);
}

/** The host's python3, resolved to its real file, or null. */
function hostPython(): string | null {
  try {
    return Deno.realPathSync("/usr/bin/python3");
  } catch {
    return null;
  }
}

/**
 * The name of the cached Debian rootfs: a new name whenever what it holds changes, so that an
 * old cache is never used for new tests.
 */
const DEBIAN_ROOTFS = "debian-2";

/** True when the host has what the Debian rootfs needs (ls, and python3 with its library). */
export function haveDebianPrograms(): boolean {
  const py = hostPython();
  return exists("/bin/ls") && py !== null && exists(`/usr/lib/${py.split("/").pop()}`);
}

/**
 * Dynamically linked Debian programs from the host: /bin/ls, /bin/cat, and /usr/bin/python3
 * with its standard library and the libraries its extension modules need.
 */
export function debianRootfs(): Promise<string> {
  return cached(DEBIAN_ROOTFS, async (dir) => {
    const programs = [
      "/bin/ls",
      "/bin/cat",
      "/bin/echo",
      "/bin/sh",
      "/usr/bin/cp",
      "/usr/bin/mv",
      "/usr/bin/sort",
      "/usr/bin/sha256sum",
      "/usr/bin/wc",
      "/usr/bin/head",
      "/usr/bin/sqlite3",
    ];
    for (const p of programs) if (exists(p)) await copyWithLibs(dir, p);
    const py = hostPython()!;
    const ver = py.split("/").pop()!;
    await copyWithLibs(dir, py);
    await Deno.mkdir(join(dir, "usr", "bin"), { recursive: true });
    if (py !== "/usr/bin/python3") await Deno.symlink(ver, join(dir, "usr", "bin", "python3"));
    await Deno.mkdir(join(dir, "usr", "lib"), { recursive: true });
    await run("cp", ["-a", `/usr/lib/${ver}`, join(dir, "usr", "lib") + "/"]);
    for (const e of Deno.readDirSync(join(dir, "usr", "lib", ver, "lib-dynload"))) {
      for (const lib of await libsOf(join("/usr/lib", ver, "lib-dynload", e.name))) {
        await copyHost(dir, lib);
      }
    }
    for (const d of ["tmp", "proc", "dev", "data"]) {
      await Deno.mkdir(join(dir, d), { recursive: true });
    }
    for (const [name, text] of [["a.txt", "alpha\n"], ["b.txt", "bravo bravo\n"]]) {
      await Deno.writeTextFile(join(dir, "data", name), text);
      await Deno.utime(join(dir, "data", name), 1700000000, 1700000000);
    }
    await Deno.utime(join(dir, "data"), 1700000000, 1700000000);
  }) as Promise<string>;
}
