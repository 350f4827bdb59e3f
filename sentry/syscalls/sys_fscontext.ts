/**
 * The filesystem context of a process: getcwd(2), chdir(2), fchdir(2), chroot(2), umask(2).
 *
 * @module
 */

import { CAP, capable } from "../kernel/task_creds.ts";
import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { FsContext } from "../vfs/fs_context.ts";
import { checkPermission, credsOf, MAY_EXEC } from "../vfs/inode.ts";
import type { VirtualDentry } from "../vfs/vfs.ts";
import { argInt, argPtr, argSize, argU32 } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import { AT_FDCWD, contextAt, copyInPath } from "./paths.ts";
import type { SyscallDef } from "./table.ts";
import { encodeBytes } from "../../host/utf8b.ts";

/** Implements Linux syscall getcwd(2): returns the length including the NUL. */
function getcwd(t: Task): number {
  const c = FsContext.of(t.tg);
  if (c.cwd.dentry.deleted) throw new SysError(Errno.ENOENT);
  const path = t.kernel.vfs.pathOf(c.cwd, c.root);
  const bytes = encodeBytes(path + "\0");
  if (argSize(t, 1) < bytes.length) throw new SysError(Errno.ERANGE);
  t.mm.copyOut(argPtr(t, 0), bytes);
  return bytes.length;
}

function setCwd(t: Task, vd: VirtualDentry): number {
  if (!vd.inode.isDir) throw new SysError(Errno.ENOTDIR);
  checkPermission(credsOf(t), vd.inode, MAY_EXEC);
  const c = FsContext.of(t.tg);
  c.cwd = vd;
  // Kept in step for code that still reads the path (the loader's relative lookups).
  t.tg.cwd = t.kernel.vfs.pathOf(vd, c.root);
  return 0;
}

/** Implements Linux syscall chdir(2). */
function chdir(t: Task): number {
  const path = copyInPath(t, argPtr(t, 0));
  return setCwd(t, t.kernel.vfs.resolve(contextAt(t, AT_FDCWD, path), path, { follow: true }));
}

/** Implements Linux syscall fchdir(2). */
function fchdir(t: Task): number {
  const f = t.fdTable.get(argInt(t, 0));
  if (!f.vd) throw new SysError(Errno.ENOTDIR);
  return setCwd(t, f.vd);
}

/** Implements Linux syscall chroot(2). */
function chroot(t: Task): number {
  const path = copyInPath(t, argPtr(t, 0));
  const vd = t.kernel.vfs.resolve(contextAt(t, AT_FDCWD, path), path, { follow: true });
  if (!vd.inode.isDir) throw new SysError(Errno.ENOTDIR);
  checkPermission(credsOf(t), vd.inode, MAY_EXEC);
  if (!capable(t, CAP.SYS_CHROOT)) throw new SysError(Errno.EPERM);
  FsContext.of(t.tg).root = vd;
  return 0;
}

/** Implements Linux syscall umask(2). */
function umask(t: Task): number {
  const c = FsContext.of(t.tg);
  const old = c.umask;
  c.umask = argU32(t, 0) & 0o777;
  t.tg.umask = c.umask;
  return old;
}

export const syscalls: Record<string, SyscallDef> = {
  getcwd: { handler: getcwd, args: ["x", "d"] },
  chdir: { handler: chdir, args: ["s"] },
  fchdir: { handler: fchdir, args: ["d"] },
  chroot: { handler: chroot, args: ["s"] },
  umask: { handler: umask, args: ["o"] },
};
