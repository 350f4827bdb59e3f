/**
 * Path arguments of the *at() system calls: where a relative path starts (the working
 * directory for AT_FDCWD, else the directory an FD names) and the resolve context for a task.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { FsContext } from "../vfs/fs_context.ts";
import { credsOf } from "../vfs/inode.ts";
import type { ResolveContext, VirtualDentry } from "../vfs/vfs.ts";
import { SysError } from "../../abi/linux/error.ts";
import { AT_FDCWD } from "../../abi/linux/file.ts";
export {
  AT_EACCESS,
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_NO_AUTOMOUNT,
  AT_REMOVEDIR,
  AT_SYMLINK_FOLLOW,
  AT_SYMLINK_NOFOLLOW,
} from "../../abi/linux/file.ts";

/** The directory dirfd names (AT_FDCWD: the working directory). Throws EBADF, ENOTDIR. */
export function dirOf(t: Task, dirfd: number): VirtualDentry {
  if (dirfd === AT_FDCWD) return FsContext.of(t.tg).cwd;
  const f = t.fdTable.get(dirfd);
  if (!f.vd) throw new SysError(Errno.ENOTDIR);
  return f.vd;
}

/** The resolve context for t with relative paths starting at dirfd. */
export function contextAt(t: Task, dirfd: number, path = ""): ResolveContext {
  const fsc = FsContext.of(t.tg);
  // An absolute path ignores dirfd entirely, even a bad one.
  const start = path.startsWith("/") ? fsc.cwd : dirOf(t, dirfd);
  if (!path.startsWith("/") && path !== "" && !start.inode.isDir) {
    throw new SysError(Errno.ENOTDIR);
  }
  return { t, root: fsc.root, start, creds: credsOf(t) };
}

/** Reads a path argument (EFAULT, ENAMETOOLONG). */
export function copyInPath(t: Task, addr: bigint): string {
  return t.mm.copyInString(addr, 4096);
}

/**
 * The file an *at() call names: with AT_EMPTY_PATH and "" it is dirfd itself; otherwise the
 * path resolved from dirfd (following a final symlink when follow).
 */
export function resolveAt(
  t: Task,
  dirfd: number,
  path: string,
  opts: { follow: boolean; emptyPath?: boolean; directory?: boolean },
): VirtualDentry {
  if (path === "" && opts.emptyPath) return dirOf(t, dirfd);
  return t.kernel.vfs.resolve(contextAt(t, dirfd, path), path, opts);
}
