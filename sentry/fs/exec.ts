/**
 * Finding and opening executables through the VFS, for the loader (execve and the container's
 * init process).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Kernel } from "../kernel/kernel.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "../../abi/linux/error.ts";
import { O_RDONLY, RegularFile } from "../vfs/file.ts";
import { checkPermission, type Creds, MAY_EXEC, S_IFMT, S_IFREG } from "../vfs/inode.ts";
import type { ResolveContext, VirtualDentry } from "../vfs/vfs.ts";

/** An executable opened for loading. */
export interface OpenExecutable {
  /** Canonical path from the root (for /proc/self/exe). */
  path: string;
  /** Reads at a file offset; returns bytes read. */
  readAt(buf: Uint8Array<ArrayBuffer>, off: number): number;
  /** The opened file (the loader maps nothing of it; mmap(2) of it goes through configureMMap). */
  file: RegularFile;
  close(): void;
}

/** Where a lookup happens: the root and working directory, and who looks. */
export interface ExecContext {
  root: VirtualDentry;
  cwd: VirtualDentry;
  creds: Creds;
  /** The task that execs, for /proc/self links; absent for the container's first process. */
  task?: Task;
}

function ctxOf(c: ExecContext): ResolveContext {
  return { t: c.task as Task, root: c.root, start: c.cwd, creds: c.creds };
}

/**
 * Opens path for execution: it must be a regular file with execute permission on a mount
 * without noexec. Throws SysError with execve's errno (ENOENT, EACCES, ...).
 */
export function openExecutable(k: Kernel, c: ExecContext, path: string): OpenExecutable {
  const ctx = ctxOf(c);
  const vd = k.vfs.resolve(ctx, path, { follow: true });
  if ((vd.inode.mode & S_IFMT) !== S_IFREG) {
    throw new SysError(Errno.EACCES, `${path} is not a regular file`);
  }
  if (vd.mount.opts.noexec) throw new SysError(Errno.EACCES, `${path} is on a noexec mount`);
  if ((vd.inode.mode & 0o111) === 0) throw new SysError(Errno.EACCES, `${path} is not executable`);
  checkPermission(c.creds, vd.inode, MAY_EXEC);
  const f = k.vfs.openAt(ctx, vd, O_RDONLY);
  if (!(f instanceof RegularFile)) throw new SysError(Errno.EACCES);
  return {
    path: k.vfs.pathOf(vd, c.root),
    readAt: (buf, off) => f.data.readAt(BigInt(off), buf),
    file: f,
    close: () => f.release(),
  };
}

/** Whether path names an executable regular file (for PATH search). Throws like resolve. */
export function isExecutable(k: Kernel, c: ExecContext, path: string): boolean {
  const vd = k.vfs.resolve(ctxOf(c), path, { follow: true });
  return (vd.inode.mode & S_IFMT) === S_IFREG;
}
