/**
 * How `runsc create` starts the gofer and the boot confined: in new namespaces, under nsinit
 * (host/nsinit.ts). Apart from gofer/confine.ts (which builds the gofer's root once started) so
 * that the CLI does not load the confinement code and its seccomp filters only to write an argv.
 *
 * @module
 */

import { geteuid } from "../host/namespace.ts";
import { NSINIT_ARGV0, nsinitExecutable, type NsinitNamespaces } from "../host/nsinit.ts";
import type { FdMap } from "../host/spawn.ts";

/** The flag `runsc create` adds when it started the gofer or the boot in new namespaces. */
export const CONFINE_FLAG = "--confine";

/** Namespaces a confined process gets; see confinedCommand. */
export type ConfineNamespaces = NsinitNamespaces;

/**
 * The argv that starts `argv` (as `selfArgv("gofer" | "boot", ...)` builds it, its program an
 * absolute path) confined, followed by CONFINE_FLAG, when this process is root: under nsinit
 * (host/nsinit.ts) with new mount, IPC and UTS namespaces (PID and network as confinedCommand's
 * `ns` says). Unchanged when it is not root (an unprivileged process can reach no more than
 * its user). Only argv: confinedCommand gives the executable and descriptors that go with it.
 */
export function confinedArgv(argv: readonly string[]): string[] {
  if (geteuid() !== 0) return [...argv];
  if (!argv[0]?.startsWith("/")) {
    throw new Error(`cannot confine ${argv[0]}: nsinit needs the program's absolute path`);
  }
  return [NSINIT_ARGV0, ...argv, CONFINE_FLAG];
}

/** How to spawn a confined process: host/spawn.ts's path, argv and fds. */
export interface ConfinedCommand {
  path: string;
  argv: string[];
  fds: FdMap;
}

/**
 * The spawn of `argv` with descriptors `fds`, confined as confinedArgv says. As root, nsinit's
 * memfd goes to the descriptor right above those in `fds` and is executed through it (through
 * /proc/self/fd of the spawned child, which has it before exec); nsinit closes it, and every
 * descriptor above, first. `exitRecord` (as root, with a PID namespace): a descriptor of this
 * process, open for writing, that nsinit gets just below its memfd and writes its child's exit
 * status to (host/nsinit.ts); its child never has it. Not passed when not confined.
 */
export function confinedCommand(
  argv: readonly string[],
  fds: FdMap,
  ns: ConfineNamespaces = { pid: true, net: true },
  exitRecord = -1,
): ConfinedCommand {
  const run = confinedArgv(argv);
  if (run[0] !== NSINIT_ARGV0) return { path: run[0], argv: run, fds };
  const top = Math.max(2, ...fds.map(([child]) => child));
  const exitFd = exitRecord >= 0 ? top + 1 : -1;
  const execFd = Math.max(top, exitFd) + 1;
  return {
    path: `/proc/self/fd/${execFd}`,
    argv: run,
    fds: [
      ...fds,
      ...(exitRecord >= 0 ? [[exitFd, exitRecord] as [number, number]] : []),
      [execFd, nsinitExecutable(ns, execFd, exitFd)],
    ],
  };
}
