/**
 * Changes to the file tree by path: mkdir(2), mknod(2), rmdir(2), unlink(2), link(2),
 * symlink(2), rename(2), their *at forms and renameat2(2); readlink(2) and readlinkat(2).
 *
 * @module
 */

import { CAP, capable } from "../kernel/task_creds.ts";
import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { FsContext } from "../vfs/fs_context.ts";
import { S_IFBLK, S_IFCHR, S_IFIFO, S_IFMT, S_IFREG, S_IFSOCK } from "../vfs/inode.ts";
import { argInt, argPtr, argU32 } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_REMOVEDIR,
  AT_SYMLINK_FOLLOW,
  contextAt,
  copyInPath,
  resolveAt,
} from "./paths.ts";
import type { SyscallDef } from "./table.ts";
import { encodeBytes } from "../../host/utf8b.ts";

function mkdirAt(t: Task, dirfd: number, path: string, mode: number): number {
  t.kernel.vfs.mkdir(contextAt(t, dirfd, path), path, mode, FsContext.of(t.tg).umask);
  return 0;
}

function mknodAt(t: Task, dirfd: number, path: string, mode: number, dev: number): number {
  let type = mode & S_IFMT;
  if (type === 0) type = S_IFREG;
  switch (type) {
    case S_IFREG:
    case S_IFIFO:
    case S_IFSOCK:
      break;
    case S_IFCHR:
    case S_IFBLK:
      if (!capable(t, CAP.MKNOD)) throw new SysError(Errno.EPERM);
      break;
    case 0o040000:
      throw new SysError(Errno.EPERM);
    default:
      throw new SysError(Errno.EINVAL);
  }
  t.kernel.vfs.mknod(
    contextAt(t, dirfd, path),
    path,
    type | (mode & 0o7777),
    dev,
    FsContext.of(t.tg).umask,
  );
  return 0;
}

function unlinkAt(t: Task, dirfd: number, path: string, dir: boolean): number {
  t.kernel.vfs.remove(contextAt(t, dirfd, path), path, dir);
  return 0;
}

function linkAt(
  t: Task,
  olddirfd: number,
  oldpath: string,
  newdirfd: number,
  newpath: string,
  flags: number,
): number {
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) throw new SysError(Errno.EINVAL);
  if (oldpath === "" && !(flags & AT_EMPTY_PATH)) throw new SysError(Errno.ENOENT);
  const old = resolveAt(t, olddirfd, oldpath, {
    follow: (flags & AT_SYMLINK_FOLLOW) !== 0,
    emptyPath: (flags & AT_EMPTY_PATH) !== 0,
  });
  t.kernel.vfs.link(contextAt(t, newdirfd, newpath), old, newpath);
  return 0;
}

function symlinkAt(t: Task, target: string, dirfd: number, path: string): number {
  t.kernel.vfs.symlink(contextAt(t, dirfd, path), target, path);
  return 0;
}

function renameAt(
  t: Task,
  olddirfd: number,
  oldpath: string,
  newdirfd: number,
  newpath: string,
  flags: number,
): number {
  const oc = contextAt(t, olddirfd, oldpath);
  const nc = contextAt(t, newdirfd, newpath);
  t.kernel.vfs.rename(oc, oldpath, nc, newpath, flags);
  return 0;
}

function readlinkAt(t: Task, dirfd: number, path: string, buf: bigint, size: number): number {
  if (size <= 0) throw new SysError(Errno.EINVAL);
  const vd = resolveAt(t, dirfd, path, { follow: false, emptyPath: true });
  if (!vd.inode.isSymlink) throw new SysError(path === "" ? Errno.ENOENT : Errno.EINVAL);
  const target = vd.inode.readlink(t);
  const bytes = encodeBytes(target).subarray(0, size);
  t.mm.copyOut(buf, bytes);
  return bytes.length;
}

const p = (t: Task, i: number) => copyInPath(t, argPtr(t, i));

/**
 * name_to_handle_at and open_by_handle_at: file handles name an inode without a path, so they
 * would walk around every root; no file system of the sandbox exports them (gVisor answers the
 * same). Never ENOSYS, which a program may take as "try another way".
 */
const NO_FILE_HANDLES: SyscallDef = {
  handler: () => {
    throw new SysError(Errno.EOPNOTSUPP);
  },
  support: "partial",
  note: "no file system exports file handles (EOPNOTSUPP)",
};

export const syscalls: Record<string, SyscallDef> = {
  mkdir: { handler: (t) => mkdirAt(t, AT_FDCWD, p(t, 0), argU32(t, 1)), args: ["s", "o"] },
  mkdirat: {
    handler: (t) => mkdirAt(t, argInt(t, 0), p(t, 1), argU32(t, 2)),
    args: ["d", "s", "o"],
  },
  mknod: {
    handler: (t) => mknodAt(t, AT_FDCWD, p(t, 0), argU32(t, 1), argU32(t, 2)),
    support: "partial",
    note: "device nodes open only the Sentry's own devices",
    args: ["s", "o", "x"],
  },
  mknodat: {
    handler: (t) => mknodAt(t, argInt(t, 0), p(t, 1), argU32(t, 2), argU32(t, 3)),
    support: "partial",
    note: "device nodes open only the Sentry's own devices",
    args: ["d", "s", "o", "x"],
  },
  rmdir: { handler: (t) => unlinkAt(t, AT_FDCWD, p(t, 0), true), args: ["s"] },
  unlink: { handler: (t) => unlinkAt(t, AT_FDCWD, p(t, 0), false), args: ["s"] },
  unlinkat: {
    handler: (t) => {
      const flags = argInt(t, 2);
      if (flags & ~AT_REMOVEDIR) throw new SysError(Errno.EINVAL);
      return unlinkAt(t, argInt(t, 0), p(t, 1), (flags & AT_REMOVEDIR) !== 0);
    },
    args: ["d", "s", "x"],
  },
  link: { handler: (t) => linkAt(t, AT_FDCWD, p(t, 0), AT_FDCWD, p(t, 1), 0), args: ["s", "s"] },
  linkat: {
    handler: (t) => linkAt(t, argInt(t, 0), p(t, 1), argInt(t, 2), p(t, 3), argInt(t, 4)),
    args: ["d", "s", "d", "s", "x"],
  },
  symlink: { handler: (t) => symlinkAt(t, p(t, 0), AT_FDCWD, p(t, 1)), args: ["s", "s"] },
  symlinkat: {
    handler: (t) => symlinkAt(t, p(t, 0), argInt(t, 1), p(t, 2)),
    args: ["s", "d", "s"],
  },
  rename: {
    handler: (t) => renameAt(t, AT_FDCWD, p(t, 0), AT_FDCWD, p(t, 1), 0),
    args: ["s", "s"],
  },
  renameat: {
    handler: (t) => renameAt(t, argInt(t, 0), p(t, 1), argInt(t, 2), p(t, 3), 0),
    args: ["d", "s", "d", "s"],
  },
  renameat2: {
    handler: (t) => renameAt(t, argInt(t, 0), p(t, 1), argInt(t, 2), p(t, 3), argU32(t, 4)),
    support: "partial",
    note: "RENAME_WHITEOUT is refused",
    args: ["d", "s", "d", "s", "x"],
  },
  name_to_handle_at: { ...NO_FILE_HANDLES, args: ["d", "s", "x", "x", "x"] },
  open_by_handle_at: { ...NO_FILE_HANDLES, args: ["d", "x", "O"] },
  readlink: {
    handler: (t) => readlinkAt(t, AT_FDCWD, p(t, 0), argPtr(t, 1), argInt(t, 2)),
    args: ["s", "x", "d"],
  },
  readlinkat: {
    handler: (t) => readlinkAt(t, argInt(t, 0), p(t, 1), argPtr(t, 2), argInt(t, 3)),
    args: ["d", "s", "x", "d"],
  },
};
