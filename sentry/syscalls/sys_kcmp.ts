/**
 * kcmp(2): whether two tasks share a kernel object (a file description, the address space,
 * the descriptor table, the file system context, the signal handlers).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { mayAccess } from "../kernel/task_creds.ts";
import { FsContext } from "../vfs/fs_context.ts";
import { argInt } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { SyscallDef } from "./table.ts";

const KCMP = { FILE: 0, VM: 1, FILES: 2, FS: 3, SIGHAND: 4, IO: 5, SYSVSEM: 6, EPOLL_TFD: 7 };

/**
 * A stable rank per object, standing in for Linux's obfuscated kernel addresses: unequal
 * objects compare in an order that stays the same while both exist.
 */
const ranks = new WeakMap<object, number>();
let nextRank = 1;
function rank(o: object): number {
  let r = ranks.get(o);
  if (r === undefined) ranks.set(o, r = nextRank++);
  return r;
}

/** 0 when a and b are the same object, else 1 or 2 by their order (as kcmp answers). */
function order(a: object | null, b: object | null): number {
  if (a === b) return 0;
  const ra = a === null ? 0 : rank(a), rb = b === null ? 0 : rank(b);
  return ra < rb ? 1 : 2;
}

/** Implements Linux syscall kcmp(2). */
function kcmp(t: Task): number {
  const a = t.kernel.tasks.get(argInt(t, 0));
  const b = t.kernel.tasks.get(argInt(t, 1));
  if (!a || !b) throw new SysError(Errno.ESRCH);
  const type = argInt(t, 2);
  if (!mayAccess(t, a.tg) || !mayAccess(t, b.tg)) throw new SysError(Errno.EPERM);
  switch (type) {
    case KCMP.FILE:
      return order(a.fdTable.get(argInt(t, 3)), b.fdTable.get(argInt(t, 4)));
    case KCMP.VM:
      return order(a.mm, b.mm);
    case KCMP.FILES:
      return order(a.fdTable, b.fdTable);
    case KCMP.FS:
      return order(FsContext.of(a.tg), FsContext.of(b.tg));
    case KCMP.SIGHAND:
      return order(a.tg.handlers, b.tg.handlers);
    case KCMP.IO:
    case KCMP.SYSVSEM:
      // No task has an I/O context or a System V semaphore undo list of its own to compare:
      // Linux compares two empty ones as equal.
      return 0;
    default:
      // KCMP_EPOLL_TFD (not offered), and types past the last.
      throw new SysError(Errno.EINVAL);
  }
}

export const syscalls: Record<string, SyscallDef> = {
  kcmp: {
    handler: kcmp,
    support: "partial",
    note: "KCMP_EPOLL_TFD answers EINVAL",
    args: ["d", "d", "d", "x", "x"],
  },
};
