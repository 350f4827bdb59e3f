/**
 * File attributes and access checks: stat(2), lstat(2), fstat(2), newfstatat(2), statx(2),
 * access(2), faccessat(2), faccessat2(2), statfs(2), fstatfs(2).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import type { Attr, FsStat } from "../vfs/inode.ts";
import type { Mount } from "../vfs/vfs.ts";
import { checkPermission, credsOf, MAY_EXEC, MAY_READ, MAY_WRITE } from "../vfs/inode.ts";
import { encodeStat, encodeStatx } from "../vfs/stat.ts";
import { argInt, argPtr, argU32 } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import {
  AT_EACCESS,
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_NO_AUTOMOUNT,
  AT_SYMLINK_NOFOLLOW,
  contextAt,
  copyInPath,
} from "./paths.ts";
import type { SyscallDef } from "./table.ts";
import {
  AT_STATX_SYNC_TYPE,
  ST_NODEV,
  ST_NOEXEC,
  ST_NOSUID,
  ST_RDONLY,
  ST_VALID,
  Statfs,
  STATX__RESERVED,
} from "../../abi/linux/stat.ts";

/** Attributes of what (dirfd, path, flags) names; "" with AT_EMPTY_PATH is dirfd itself. */
function attrAt(t: Task, dirfd: number, path: string, flags: number): { a: Attr; mnt: number } {
  if (path === "") {
    if (!(flags & AT_EMPTY_PATH)) throw new SysError(Errno.ENOENT);
    if (dirfd !== AT_FDCWD) {
      const f = t.fdTable.get(dirfd);
      return { a: f.stat(t), mnt: f.vd?.mount.id ?? 0 };
    }
    path = ".";
  }
  const vd = t.kernel.vfs.resolve(contextAt(t, dirfd, path), path, {
    follow: !(flags & AT_SYMLINK_NOFOLLOW),
  });
  return { a: vd.inode.stat(), mnt: vd.mount.id };
}

function statAt(t: Task, dirfd: number, path: string, addr: bigint, flags: number): number {
  t.mm.copyOut(addr, encodeStat(attrAt(t, dirfd, path, flags).a));
  return 0;
}

/** Implements Linux syscall fstat(2). */
function fstat(t: Task): number {
  t.mm.copyOut(argPtr(t, 1), encodeStat(t.fdTable.get(argInt(t, 0)).stat(t)));
  return 0;
}

/** Implements Linux syscall newfstatat(2). */
function newfstatat(t: Task): number {
  const flags = argInt(t, 3);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH)) {
    throw new SysError(Errno.EINVAL);
  }
  return statAt(t, argInt(t, 0), copyInPath(t, argPtr(t, 1)), argPtr(t, 2), flags);
}

/** Implements Linux syscall statx(2). */
function statx(t: Task): number {
  const flags = argInt(t, 2);
  const mask = argU32(t, 3);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE)) {
    throw new SysError(Errno.EINVAL);
  }
  if ((flags & AT_STATX_SYNC_TYPE) === AT_STATX_SYNC_TYPE) throw new SysError(Errno.EINVAL);
  if (mask & STATX__RESERVED) throw new SysError(Errno.EINVAL);
  const path = copyInPath(t, argPtr(t, 1));
  const { a, mnt } = attrAt(t, argInt(t, 0), path, flags);
  t.mm.copyOut(argPtr(t, 4), encodeStatx(a, mnt));
  return 0;
}

const F_OK = 0, X_OK = 1, W_OK = 2, R_OK = 4;

function accessAt(t: Task, dirfd: number, path: string, mode: number, flags: number): number {
  if (mode & ~(F_OK | X_OK | W_OK | R_OK)) throw new SysError(Errno.EINVAL);
  if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) {
    throw new SysError(Errno.EINVAL);
  }
  let vd;
  if (path === "" && (flags & AT_EMPTY_PATH)) {
    const f = dirfd === AT_FDCWD ? undefined : t.fdTable.get(dirfd);
    vd = f ? f.vd : t.kernel.vfs.resolve(contextAt(t, dirfd, "."), ".", { follow: true });
    if (!vd) return 0;
  } else {
    vd = t.kernel.vfs.resolve(contextAt(t, dirfd, path), path, {
      follow: !(flags & AT_SYMLINK_NOFOLLOW),
    });
  }
  let may = 0;
  if (mode & R_OK) may |= MAY_READ;
  if (mode & W_OK) may |= MAY_WRITE;
  if (mode & X_OK) may |= MAY_EXEC;
  if (may === 0) return 0;
  const type = vd.inode.mode & 0o170000;
  if ((may & MAY_WRITE) && vd.mount.readonly && (type === 0o100000 || type === 0o040000)) {
    throw new SysError(Errno.EROFS);
  }
  checkPermission(credsOf(t), vd.inode, may);
  return 0;
}

/** statfs f_flags for a mount: ST_VALID and the mount's options. */
function mountFlags(m: Mount | undefined): bigint {
  let f = ST_VALID;
  if (m?.readonly) f |= ST_RDONLY;
  if (m?.opts.nosuid) f |= ST_NOSUID;
  if (m?.opts.nodev) f |= ST_NODEV;
  if (m?.opts.noexec) f |= ST_NOEXEC;
  return BigInt(f);
}

function encodeStatfs(s: FsStat, flags: bigint): Uint8Array<ArrayBuffer> {
  // f_fsid stays zero.
  return Statfs.encode({
    type: s.type,
    bsize: s.blockSize,
    blocks: s.blocks,
    bfree: s.blocksFree,
    bavail: s.blocksAvailable,
    files: s.files,
    ffree: s.filesFree,
    namelen: s.nameLength,
    frsize: s.blockSize,
    flags,
  });
}

/** Implements Linux syscall statfs(2). */
function statfs(t: Task): number {
  const path = copyInPath(t, argPtr(t, 0));
  const vd = t.kernel.vfs.resolve(contextAt(t, AT_FDCWD, path), path, { follow: true });
  t.mm.copyOut(argPtr(t, 1), encodeStatfs(vd.mount.fs.statfs(), mountFlags(vd.mount)));
  return 0;
}

/** Implements Linux syscall fstatfs(2). */
function fstatfs(t: Task): number {
  const f = t.fdTable.get(argInt(t, 0));
  const fs = f.vd?.mount.fs.statfs() ?? {
    type: 0x50495045n, // PIPEFS_MAGIC
    blockSize: 4096n,
    blocks: 0n,
    blocksFree: 0n,
    blocksAvailable: 0n,
    files: 0n,
    filesFree: 0n,
    nameLength: 255n,
  };
  t.mm.copyOut(argPtr(t, 1), encodeStatfs(fs, mountFlags(f.vd?.mount)));
  return 0;
}

const p = (t: Task, i: number) => copyInPath(t, argPtr(t, i));

export const syscalls: Record<string, SyscallDef> = {
  fstat: { handler: fstat, args: ["d", "x"] },
  newfstatat: { handler: newfstatat, args: ["d", "s", "x", "x"] },
  stat: { handler: (t) => statAt(t, AT_FDCWD, p(t, 0), argPtr(t, 1), 0), args: ["s", "x"] },
  lstat: {
    handler: (t) => statAt(t, AT_FDCWD, p(t, 0), argPtr(t, 1), AT_SYMLINK_NOFOLLOW),
    args: ["s", "x"],
  },
  statx: {
    handler: statx,
    support: "partial",
    note: "no birth time (ctime is reported); attributes are empty",
    args: ["d", "s", "x", "x", "x"],
  },
  access: { handler: (t) => accessAt(t, AT_FDCWD, p(t, 0), argInt(t, 1), 0), args: ["s", "o"] },
  faccessat: {
    handler: (t) => accessAt(t, argInt(t, 0), p(t, 1), argInt(t, 2), 0),
    args: ["d", "s", "o"],
  },
  faccessat2: {
    handler: (t) => accessAt(t, argInt(t, 0), p(t, 1), argInt(t, 2), argInt(t, 3)),
    args: ["d", "s", "o", "x"],
  },
  statfs: { handler: statfs, args: ["s", "x"] },
  fstatfs: { handler: fstatfs, args: ["d", "x"] },
};
