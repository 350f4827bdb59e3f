/**
 * Re-executing ourselves in another role (`runsc boot`, `runsc gofer`).
 *
 * From source, `Deno.execPath()` is the deno binary and the entry script must be named again;
 * from a `deno compile` binary, the binary is the whole program. The one robust signal is the
 * executable's name: a compiled runtime is never called `deno`.
 *
 * @module
 */

import { basename, fileURLToPath } from "../path.ts";

/** True when running from source under the deno binary (not a compiled runsc). */
export function runningFromSource(): boolean {
  return /^deno(\.exe)?$/.test(basename(Deno.execPath()));
}

/**
 * Absolute path of the entry script (meaningful only when running from source): main.ts, or
 * the single-file bundle (`deno task bundle`) when that is what runs, so that boot and gofer
 * start as fast as the CLI did.
 */
export function mainScript(): string {
  const main = Deno.mainModule;
  if (main.startsWith("file:") && /(\/main\.ts|\.js)$/.test(main)) return fileURLToPath(main);
  return fileURLToPath(new URL("../main.ts", import.meta.url));
}

/**
 * The argv that runs this program as `role` with `args`: argv[0] is the absolute executable.
 * From source the permissions are all granted (`-A`), as the roles need FFI, files and sockets.
 */
export function selfArgv(role: string, args: readonly string[]): string[] {
  const exe = Deno.execPath();
  if (runningFromSource()) return [exe, "run", "-A", "--quiet", mainScript(), role, ...args];
  return [exe, role, ...args];
}

/** The argv that runs this program's CLI with `args` (global flags first, then a command). */
export function selfCliArgv(args: readonly string[]): string[] {
  const exe = Deno.execPath();
  if (runningFromSource()) return [exe, "run", "-A", "--quiet", mainScript(), ...args];
  return [exe, ...args];
}
