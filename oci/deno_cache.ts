/**
 * Deno's cache directory (DENO_DIR) as the boot and gofer roles see it.
 *
 * Run from source or from the bundle, Deno opens its cache databases (V8's code cache, module
 * and CommonJS analysis) read-write at start-up, before any of our code runs, and keeps them
 * open. A confined Sentry or Gofer holding them could write into the code cache that the next,
 * unconfined, `runsc` loads. So, as root, each role starts in its own mount namespace with
 * DENO_DIR bind-mounted read-only over itself (readOnlyDenoDir): SQLite then opens the
 * databases read-only and V8 still reads its code cache (worth about 30 ms per role here). What
 * the roles cannot write, the CLI writes for them: warmRoleCache imports the roles' modules once
 * per change of the sources, unconfined, so that their code cache and transpiled sources exist.
 * `deno task bundle` does the same for the bundle (V8 caches it once, when first loaded: loaded
 * by the warm-up, its cache holds the roles' code too, which saves the boot a few ms more than
 * when the CLI loads it first). A `deno compile` binary uses no DENO_DIR, and needs neither.
 *
 * @module
 */

import { basename, dirname, join } from "../path.ts";
import { log } from "../log.ts";
import { mainScript, runningFromSource } from "./reexec.ts";

const SH = "/bin/sh";
const MOUNT = "/bin/mount";
/** One of the databases Deno keeps open; its directory is the DENO_DIR in use. */
const CODE_CACHE_DB = "v8_code_cache_v2";

/**
 * The DENO_DIR this process uses: where its open code cache database lies, else where Deno
 * would put it (DENO_DIR, $XDG_CACHE_HOME/deno, $HOME/.cache/deno). null for a compiled binary.
 */
export function denoDir(): string | null {
  if (!runningFromSource()) return null;
  try {
    for (const e of Deno.readDirSync("/proc/self/fd")) {
      try {
        const target = Deno.readLinkSync(`/proc/self/fd/${e.name}`);
        if (target.endsWith(`/${CODE_CACHE_DB}`)) return dirname(target);
      } catch { /* closed meanwhile */ }
    }
  } catch { /* no /proc: fall back to Deno's rule */ }
  const env = Deno.env.get("DENO_DIR");
  if (env) return env;
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  if (xdg?.startsWith("/")) return join(xdg, "deno");
  const home = Deno.env.get("HOME");
  return home ? join(home, ".cache", "deno") : null;
}

/**
 * `argv` (a role's, as selfArgv builds it) run after DENO_DIR `dir` is bind-mounted read-only
 * over itself. Only meaningful inside a new mount namespace with private propagation (as
 * confinedArgv starts it), where the mount is the role's alone. If the mount fails the role
 * does not start: a confined process never runs with a writable cache. Throws when the tools
 * for it are missing, rather than start the role with a cache it could write.
 */
export function readOnlyDenoDirArgv(dir: string, argv: readonly string[]): string[] {
  for (const tool of [SH, MOUNT]) {
    try {
      Deno.statSync(tool);
    } catch {
      throw new Error(
        `cannot confine the sandbox: ${tool} is missing (needed to make Deno's cache ${dir} ` +
          "read-only for it); install it",
      );
    }
  }
  return [
    SH,
    "-c",
    `${MOUNT} --bind -o ro -- "$0" "$0" && exec "$@"`,
    dir,
    ...argv,
  ];
}

/** The newest modification time among the program's TypeScript sources (tests excluded). */
function sourcesStamp(root: string): string {
  let newest = 0;
  let count = 0;
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      if (e.isDirectory) {
        if (!e.name.startsWith(".") && !["tests", "bench", "dist", "tools"].includes(e.name)) {
          walk(join(dir, e.name));
        }
      } else if (e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) {
        count++;
        newest = Math.max(newest, Deno.statSync(join(dir, e.name)).mtime?.getTime() ?? 0);
      }
    }
  };
  walk(root);
  return `${newest}-${count}`;
}

/** A short hash (FNV-1a, 32 bits) naming the checkout in the stamp, whatever its path's length. */
function shortHash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/**
 * Makes sure the roles' modules are in DENO_DIR `dir` (transpiled sources and V8's code cache)
 * before they start with it read-only: from source, once per change of the sources, imports
 * them in a child process of the CLI's own, unconfined, kind. Nothing to do for the bundle
 * (the CLI loads the same single file) or a compiled binary.
 */
export async function warmRoleCache(dir: string): Promise<void> {
  const main = mainScript();
  if (!main.endsWith("/main.ts")) return;
  const stamp = join(
    dir,
    "runsc",
    `warm-${Deno.version.deno}-${sourcesStamp(dirname(main))}-${shortHash(main)}`,
  );
  try {
    Deno.statSync(stamp);
    return;
  } catch { /* not warm */ }
  const t0 = performance.now();
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", main, WARM_ROLE],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!r.success) {
    log.warning(`warming the roles' code cache failed: ${new TextDecoder().decode(r.stderr)}`);
    return;
  }
  try {
    Deno.mkdirSync(dirname(stamp), { recursive: true });
    Deno.writeTextFileSync(stamp, "");
    // This checkout's older stamps name sources that are gone.
    const mine = `-${shortHash(main)}`;
    for (const e of Deno.readDirSync(dirname(stamp))) {
      if (e.name.endsWith(mine) && e.name !== basename(stamp)) {
        Deno.removeSync(join(dirname(stamp), e.name));
      }
    }
  } catch { /* warmed again next time */ }
  log.debug("warmed the roles' code cache", { ms: Math.round(performance.now() - t0) });
}

/** The internal role word (main.ts) that loads the boot and gofer modules and exits. */
export const WARM_ROLE = "__warm-roles";

/** Loads the boot's and the gofer's modules, so that Deno caches them (WARM_ROLE). */
export async function loadRoleModules(): Promise<void> {
  await import("../boot/boot.ts");
  await import("../boot/sandbox_impl.ts");
  await import("../platform/systrap/systrap.ts");
  await import("../platform/ptrace/ptrace.ts");
  await import("../platform/kvm/kvm.ts");
  await import("../gofer/gofer.ts");
}
