/**
 * Resolution of the path arguments of *at() system calls.
 *
 * @module
 */

import { Errno } from "../../host/errno.ts";
import type { Resolved } from "../fs/gofer.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "./errors.ts";

export const AT_FDCWD = -100;

/**
 * Resolves `path` relative to dirfd (AT_FDCWD: the working directory). Descriptors for
 * directories come with the VFS; until then a relative path needs AT_FDCWD.
 */
export function resolveAt(t: Task, dirfd: number, path: string, follow: boolean): Resolved {
  if (!path.startsWith("/") && dirfd !== AT_FDCWD) {
    t.fdTable.get(dirfd);
    throw new SysError(Errno.ENOTDIR);
  }
  return t.kernel.fs.resolve(path, t.tg.cwd, follow);
}
