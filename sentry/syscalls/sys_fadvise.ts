/**
 * Hints about file access: fadvise64(2), readahead(2). The Sentry keeps no page cache of its
 * own for them to steer, so both only check their arguments.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { PipeFile } from "../fs/pipe.ts";
import { O_PATH } from "../vfs/file.ts";
import { argI64, argInt } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { SyscallDef } from "./table.ts";

/** Implements Linux syscall fadvise64(2). */
function fadvise64(t: Task): number {
  const f = t.fdTable.get(argInt(t, 0));
  if (f.flags & O_PATH) throw new SysError(Errno.EBADF);
  if (f instanceof PipeFile) throw new SysError(Errno.ESPIPE);
  const advice = argInt(t, 3);
  if (advice < 0 || advice > 5 || argI64(t, 2) < 0n) throw new SysError(Errno.EINVAL);
  return 0;
}

/** Implements Linux syscall readahead(2). */
function readahead(t: Task): number {
  const f = t.fdTable.get(argInt(t, 0));
  if (f.flags & O_PATH || (f.flags & 3) === 1) throw new SysError(Errno.EBADF);
  if (!f.vd || (f.vd.inode.mode & 0o170000) !== 0o100000) throw new SysError(Errno.EINVAL);
  return 0;
}

export const syscalls: Record<string, SyscallDef> = {
  fadvise64: { handler: fadvise64, args: ["d", "d", "d", "d"] },
  readahead: { handler: readahead, args: ["d", "d", "d"] },
};
