/**
 * Flushing: fsync(2), fdatasync(2), sync(2), syncfs(2), sync_file_range(2). The Sentry keeps
 * no dirty state of its own (tmpfs is memory; gofer files are written through), so these
 * only check their arguments.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { O_PATH } from "../vfs/file.ts";
import { argI64, argInt, argU32 } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { SyscallDef } from "./table.ts";

function fileSync(t: Task): number {
  const f = t.fdTable.get(argInt(t, 0));
  if (f.flags & O_PATH) throw new SysError(Errno.EBADF);
  if (!f.vd) throw new SysError(Errno.EINVAL);
  return 0;
}

/** Implements Linux syscall sync_file_range(2). */
function syncFileRange(t: Task): number {
  const f = t.fdTable.get(argInt(t, 0));
  if (argI64(t, 1) < 0n || argI64(t, 2) < 0n || (argU32(t, 3) & ~7)) {
    throw new SysError(Errno.EINVAL);
  }
  if (!f.vd) throw new SysError(Errno.ESPIPE);
  return 0;
}

export const syscalls: Record<string, SyscallDef> = {
  fsync: { handler: fileSync, args: ["d"] },
  fdatasync: { handler: fileSync, args: ["d"] },
  sync: { handler: () => 0, args: [] },
  syncfs: { handler: (t) => (t.fdTable.get(argInt(t, 0)), 0), args: ["d"] },
  sync_file_range: { handler: syncFileRange, args: ["d", "d", "d", "x"] },
};
