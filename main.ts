/**
 * runsc: gVisor's OCI runtime in TypeScript. One program holds every role and dispatches on its
 * first word: `boot` (the sandbox), `gofer` (the file proxy), anything else (the runtime CLI).
 *
 * @module
 */

import { parseFlags } from "./oci/flags.ts";
import { GLOBAL_FLAGS } from "./oci/global.ts";

/** Runs the role named by the first non-flag word of `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let role = "";
  let roleArgs: string[] = [];
  try {
    const { rest, given } = parseFlags(args, GLOBAL_FLAGS);
    if (rest[0] === "boot" || rest[0] === "gofer") {
      role = rest[0];
      // Global flags given before the role word are handed to it as its own.
      roleArgs = [...given, ...rest.slice(1)];
    }
  } catch {
    // A bad global flag: the CLI reports it.
  }
  // Each role is imported on demand, so that a process loads only the code it runs: the CLI
  // never loads the Sentry, the gofer neither the Sentry nor the CLI's commands.
  if (role === "boot") {
    const { bootMain } = await import("./boot/boot.ts");
    return await bootMain(roleArgs);
  }
  if (role === "gofer") {
    const { goferMain } = await import("./gofer/gofer.ts");
    return await goferMain(roleArgs);
  }
  if (args[0] === "__warm-roles") {
    // Internal (oci/deno_cache.ts WARM_ROLE): the CLI fills Deno's cache for the roles.
    const { loadRoleModules } = await import("./oci/deno_cache.ts");
    await loadRoleModules();
    return 0;
  }
  const { cliMain } = await import("./oci/cli.ts");
  return await cliMain(args);
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (e) {
    // Only boot and gofer get here (the CLI reports its own errors); their stdio may be the
    // container's, so the message goes to stderr only as a last resort.
    console.error(`runsc: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    code = 128;
  }
  Deno.exit(code);
}
