/**
 * The Linux file ABI (open flags, file types, *at() flags) on x86_64. The host calls that the
 * Gofer makes and the system calls that the Sentry serves speak the same ABI, so both take these
 * values from here.
 *
 * @module
 */

import { i16, i32, i64, struct, u16, u64, u8 } from "./layout.ts";

export const O_ACCMODE = 3;
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DSYNC = 0o10000;
export const O_ASYNC = 0o20000;
export const O_DIRECT = 0o40000;
export const O_LARGEFILE = 0o100000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_NOATIME = 0o1000000;
export const O_CLOEXEC = 0o2000000;
export const O_SYNC = 0o4010000;
export const O_PATH = 0o10000000;
export const O_TMPFILE = 0o20000000 | O_DIRECTORY;

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;
export const S_ISUID = 0o4000;
export const S_ISGID = 0o2000;
export const S_ISVTX = 0o1000;

export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const AT_EACCESS = 0x200;
export const AT_SYMLINK_FOLLOW = 0x400;
export const AT_NO_AUTOMOUNT = 0x800;
export const AT_EMPTY_PATH = 0x1000;
export const AT_RECURSIVE = 0x8000;

export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;
export const RENAME_WHITEOUT = 4;

export const UTIME_NOW = (1 << 30) - 1;
export const UTIME_OMIT = (1 << 30) - 2;

/** struct flock (fcntl(2) record locks). */
export const Flock = struct("flock", 32, {
  type: [0, i16],
  whence: [2, i16],
  start: [8, i64],
  len: [16, i64],
  pid: [24, i32],
});

/** struct f_owner_ex (fcntl F_SETOWN_EX, F_GETOWN_EX). */
export const FOwnerEx = struct("f_owner_ex", 8, {
  type: [0, i32],
  pid: [4, i32],
});

/** open_how.resolve (openat2(2)): absolute symlinks and ".." stay within the starting point. */
export const RESOLVE_IN_ROOT = 0x10;
/** open_how.resolve: no /proc/<pid>/fd-style link is followed. */
export const RESOLVE_NO_MAGICLINKS = 0x02;

/** flock(2) operations. */
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

/** struct open_how (openat2(2)): its first version; larger ones must be zero beyond. */
export const OpenHow = struct("open_how", 24, {
  flags: [0, u64],
  mode: [8, u64],
  resolve: [16, u64],
});

/** struct linux_dirent64 without its name, which follows at its end, NUL-terminated. */
export const Dirent64 = struct("linux_dirent64", 19, {
  ino: [0, u64],
  off: [8, i64],
  reclen: [16, u16],
  type: [18, u8],
});

/**
 * struct linux_dirent (getdents(2)) without its name, which follows at its end; d_type is the
 * record's last byte.
 */
export const LinuxDirent = struct("linux_dirent", 18, {
  ino: [0, u64],
  off: [8, u64],
  reclen: [16, u16],
});
