/**
 * How `runsc create` starts the gofer and the boot confined: in new namespaces, under util-linux
 * `unshare`. Apart from gofer/confine.ts (which builds the gofer's root once started) so that the
 * CLI does not load the confinement code and its seccomp filters only to write an argv.
 *
 * @module
 */

import { geteuid } from "../host/namespace.ts";

const UNSHARE = "/usr/bin/unshare";

/** The flag `runsc create` adds when it started the gofer or the boot in new namespaces. */
export const CONFINE_FLAG = "--confine";

/** Namespaces a confined process gets; see confinedArgv. */
export interface ConfineNamespaces {
  /** A new PID namespace (unshare then forks and waits for the process). */
  pid: boolean;
  /** A new, empty network namespace. */
  net: boolean;
}

/**
 * The argv that starts `argv` (as `selfArgv("gofer" | "boot", ...)` builds it) confined: under
 * util-linux `unshare` with new mount, IPC and UTS namespaces (PID and network as `ns` says),
 * followed by CONFINE_FLAG, when this process is root; unchanged when it is not (an
 * unprivileged process can reach no more than its user). Throws, as root, if unshare is
 * missing: a root gofer or Sentry never runs unconfined.
 */
export function confinedArgv(
  argv: readonly string[],
  ns: ConfineNamespaces = { pid: true, net: true },
): string[] {
  if (geteuid() !== 0) return [...argv];
  try {
    Deno.statSync(UNSHARE);
  } catch {
    throw new Error(
      `cannot confine ${argv.includes("boot") ? "the sandbox" : "the gofer"}: ${UNSHARE} ` +
        "(util-linux) is missing; install it",
    );
  }
  return [
    UNSHARE,
    "--mount",
    "--ipc",
    "--uts",
    ...(ns.net ? ["--net"] : []),
    // unshare waits for the process; SIGKILL of unshare kills the process too.
    // --mount-proc: /proc shows the new PID namespace from the start (the ptrace platform
    // execs its template stub through /proc/self/fd before the Sentry pivots).
    ...(ns.pid ? ["--pid", "--fork", "--kill-child", "--mount-proc"] : []),
    "--propagation",
    "private",
    "--",
    ...argv,
    CONFINE_FLAG,
  ];
}
