/**
 * ptrace(2). The Sentry does not let one application task trace another: no task is ever a
 * tracee, so every request answers what Linux answers a tracer that has none.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { argInt } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { SyscallDef } from "./table.ts";

const PTRACE_TRACEME = 0;
const PTRACE_ATTACH = 16;
const PTRACE_SEIZE = 0x4206;

/** Implements Linux syscall ptrace(2), without tracing. */
function ptrace(t: Task): number {
  const request = argInt(t, 0);
  // As when a security module refuses: the caller goes on untraced.
  if (request === PTRACE_TRACEME) throw new SysError(Errno.EPERM);
  const target = t.kernel.tasks.get(argInt(t, 1));
  if (!target) throw new SysError(Errno.ESRCH);
  // Attaching is refused (to the caller's own thread group as on Linux, to anyone else
  // because the Sentry offers no tracing); any other request needs a tracee of the caller's
  // stopped for it, which nothing ever is.
  if (request === PTRACE_ATTACH || request === PTRACE_SEIZE) throw new SysError(Errno.EPERM);
  throw new SysError(Errno.ESRCH);
}

export const syscalls: Record<string, SyscallDef> = {
  ptrace: {
    handler: ptrace,
    support: "partial",
    note: "no task can trace another: TRACEME and ATTACH/SEIZE answer EPERM, other requests ESRCH",
    args: ["d", "d", "x", "x"],
  },
};
