/**
 * inotify_init(2), inotify_init1(2), inotify_add_watch(2), inotify_rm_watch(2).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { O_CLOEXEC, O_NONBLOCK, O_RDONLY } from "../vfs/file.ts";
import { InotifyFile } from "../fs/inotify.ts";
import { IN_DONT_FOLLOW } from "../vfs/inotify.ts";
import { checkPermission, credsOf, MAY_READ } from "../vfs/inode.ts";
import { argInt, argPtr, argU32 } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import { AT_FDCWD, contextAt, copyInPath } from "./paths.ts";
import type { SyscallDef } from "./table.ts";

function init(t: Task, flags: number): number {
  if (flags & ~(O_NONBLOCK | O_CLOEXEC)) throw new SysError(Errno.EINVAL);
  const f = new InotifyFile(O_RDONLY | (flags & O_NONBLOCK));
  return t.fdTable.install(f, (flags & O_CLOEXEC) !== 0);
}

function inotifyOf(t: Task, fd: number): InotifyFile {
  const f = t.fdTable.get(fd);
  if (!(f instanceof InotifyFile)) throw new SysError(Errno.EINVAL);
  return f;
}

/** Implements Linux syscall inotify_add_watch(2). */
function addWatch(t: Task): number {
  const f = inotifyOf(t, argInt(t, 0));
  const path = copyInPath(t, argPtr(t, 1));
  const mask = argU32(t, 2);
  const vd = t.kernel.vfs.resolve(contextAt(t, AT_FDCWD, path), path, {
    follow: !(mask & IN_DONT_FOLLOW),
  });
  checkPermission(credsOf(t), vd.inode, MAY_READ);
  return f.addWatch(vd.inode, mask);
}

export const syscalls: Record<string, SyscallDef> = {
  inotify_init: { handler: (t) => init(t, 0), args: [] },
  inotify_init1: { handler: (t) => init(t, argInt(t, 0)), args: ["x"] },
  inotify_add_watch: {
    handler: addWatch,
    support: "partial",
    note: "changes made through the sandbox only; host-side changes to shared mounts are not seen",
    args: ["d", "s", "x"],
  },
  inotify_rm_watch: {
    handler: (t) => {
      inotifyOf(t, argInt(t, 0)).removeWatch(argInt(t, 1));
      return 0;
    },
    args: ["d", "d"],
  },
};
