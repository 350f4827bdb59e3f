/**
 * pidfd_open(2) and pidfd_getfd(2): descriptors that name a process (sentry/fs/pidfd.ts), and
 * a copy of another process's descriptor. pidfd_send_signal(2) is with the signals
 * (sys_signal.ts), waitid(P_PIDFD) with the waits (sys_thread.ts).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task, ThreadGroup } from "../kernel/task.ts";
import { mayAccess } from "../kernel/task_creds.ts";
import { PidFd } from "../fs/pidfd.ts";
import { O_NONBLOCK, O_RDWR } from "../vfs/file.ts";
import { argInt, argU32 } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { SyscallDef } from "./table.ts";

const PIDFD_NONBLOCK = O_NONBLOCK;

/** The process a pidfd names; EBADF when fd is not one. */
export function pidfdTarget(t: Task, fd: number): PidFd {
  const f = t.fdTable.get(fd);
  if (!(f instanceof PidFd)) throw new SysError(Errno.EBADF);
  return f;
}

/** Implements Linux syscall pidfd_open(2). */
function pidfdOpen(t: Task): number {
  const pid = argInt(t, 0);
  const flags = argU32(t, 1);
  if (flags & ~PIDFD_NONBLOCK || pid <= 0) throw new SysError(Errno.EINVAL);
  const tg: ThreadGroup | undefined = t.kernel.threadGroups.get(pid);
  if (!tg) {
    // A thread that is not its group's leader is not a process.
    if (t.kernel.tasks.has(pid)) throw new SysError(Errno.EINVAL);
    throw new SysError(Errno.ESRCH);
  }
  return t.fdTable.install(new PidFd(tg, O_RDWR | flags), true);
}

/** Implements Linux syscall pidfd_getfd(2). */
function pidfdGetfd(t: Task): number {
  const target = pidfdTarget(t, argInt(t, 0));
  if (argU32(t, 2) !== 0) throw new SysError(Errno.EINVAL);
  if (target.exited) throw new SysError(Errno.ESRCH);
  if (!mayAccess(t, target.tg)) throw new SysError(Errno.EPERM);
  const file = target.tg.fdTable.get(argInt(t, 1));
  return t.fdTable.install(file, true);
}

export const syscalls: Record<string, SyscallDef> = {
  pidfd_open: { handler: pidfdOpen, args: ["d", "x"] },
  pidfd_getfd: { handler: pidfdGetfd, args: ["d", "d", "x"] },
};
