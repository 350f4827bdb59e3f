/**
 * Opening and closing files and managing descriptors: open(2), openat(2), openat2(2),
 * creat(2), close(2), close_range(2), dup(2), dup2(2), dup3(2), fcntl(2), flock(2).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { PipeFile } from "../fs/pipe.ts";
import { fcntlNotify } from "../fs/dnotify.ts";
import {
  F_OWNER_PGRP,
  F_OWNER_PID,
  getOwn,
  getOwnEx,
  setAsync,
  setOwn,
  setSigioSignal,
  sigioSignal,
} from "../vfs/fasync.ts";
import {
  type FileDescription,
  type MaybeAsync,
  O_ACCMODE,
  O_ASYNC,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_LARGEFILE,
  O_NOFOLLOW,
  O_PATH,
  O_TMPFILE,
  O_TRUNC,
  O_WRONLY,
  SETFL_MASK,
} from "../vfs/file.ts";
import { FsContext } from "../vfs/fs_context.ts";
import type { ResolveContext } from "../vfs/vfs.ts";
import {
  conflict,
  F_RDLCK,
  F_UNLCK,
  F_WRLCK,
  flock as flockInode,
  lockEnd,
  lockRange,
  setRangeLock,
} from "../vfs/lock.ts";
import { argInt, argPtr, argU32 } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import { AT_FDCWD, contextAt, copyInPath } from "./paths.ts";
import type { SyscallDef } from "./table.ts";
import { Flock, FOwnerEx, OpenHow } from "../../abi/linux/file.ts";
import { CAP, capable } from "../kernel/task_creds.ts";

const F_DUPFD = 0;
const F_GETFD = 1;
const F_SETFD = 2;
const F_GETFL = 3;
const F_SETFL = 4;
const F_GETLK = 5;
const F_SETLK = 6;
const F_SETLKW = 7;
const F_SETOWN = 8;
const F_GETOWN = 9;
const F_SETSIG = 10;
const F_GETSIG = 11;
const F_SETOWN_EX = 15;
const F_GETOWN_EX = 16;
const F_NOTIFY = 1026;
const F_OFD_GETLK = 36;
const F_OFD_SETLK = 37;
const F_OFD_SETLKW = 38;
const F_DUPFD_CLOEXEC = 1030;
const F_SETPIPE_SZ = 1031;
const F_GETPIPE_SZ = 1032;
const F_ADD_SEALS = 1033;
const F_GET_SEALS = 1034;
const FD_CLOEXEC = 1;

/** Open flags Linux accepts; others are ignored by open and refused by openat2. */
const VALID_OPEN = 0o37777777;

async function doOpen(
  t: Task,
  dirfd: number,
  path: string,
  flags: number,
  mode: number,
  resolve = 0n,
): Promise<number> {
  if ((flags & O_TMPFILE) === O_TMPFILE && ((flags & O_ACCMODE) === 0 || (flags & O_CREAT))) {
    throw new SysError(Errno.EINVAL);
  }
  if (flags & O_PATH) flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  let ctx = contextAt(t, dirfd, path);
  if (resolve !== 0n) ctx = restricted(t, dirfd, path, ctx, resolve);
  const fsc = FsContext.of(t.tg);
  let f: MaybeAsync<FileDescription> = t.kernel.vfs.open(ctx, path, flags, mode, fsc.umask);
  if (f instanceof Promise) f = await f;
  f.flags = (f.flags & ~(O_CLOEXEC | O_CREAT | O_TRUNC)) | O_LARGEFILE;
  try {
    return t.fdTable.install(f, (flags & O_CLOEXEC) !== 0);
  } catch (e) {
    f.release();
    throw e;
  }
}

/** Implements Linux syscall open(2). */
function open(t: Task): Promise<number> {
  return doOpen(t, AT_FDCWD, copyInPath(t, argPtr(t, 0)), argInt(t, 1), argU32(t, 2));
}

/** Implements Linux syscall openat(2). */
function openat(t: Task): Promise<number> {
  return doOpen(t, argInt(t, 0), copyInPath(t, argPtr(t, 1)), argInt(t, 2), argU32(t, 3));
}

/** Implements Linux syscall creat(2). */
function creat(t: Task): Promise<number> {
  const flags = O_CREAT | O_WRONLY | O_TRUNC;
  return doOpen(t, AT_FDCWD, copyInPath(t, argPtr(t, 0)), flags, argU32(t, 1));
}

const RESOLVE_NO_XDEV = 1;
const RESOLVE_NO_MAGICLINKS = 2;
const RESOLVE_NO_SYMLINKS = 4;
const RESOLVE_BENEATH = 8;
const RESOLVE_IN_ROOT = 0x10;
const RESOLVE_CACHED = 0x20;

/** Implements Linux syscall openat2(2). */
function openat2(t: Task): Promise<number> {
  const size = Number(t.regs.arg(3));
  if (size < OpenHow.size) throw new SysError(Errno.EINVAL);
  if (size > 4096) throw new SysError(Errno.E2BIG);
  const raw = t.mm.copyIn(argPtr(t, 2), size);
  if (raw.subarray(OpenHow.size).some((b) => b !== 0)) throw new SysError(Errno.E2BIG);
  const { flags, mode, resolve } = OpenHow.decode(raw);
  if (flags > BigInt(VALID_OPEN) || (Number(flags) & ~VALID_OPEN)) {
    throw new SysError(Errno.EINVAL);
  }
  const f = Number(flags);
  if (mode > 0o7777n || (mode !== 0n && !(f & O_CREAT) && (f & O_TMPFILE) !== O_TMPFILE)) {
    throw new SysError(Errno.EINVAL);
  }
  const all = RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH |
    RESOLVE_IN_ROOT | RESOLVE_CACHED;
  if (resolve & ~BigInt(all)) throw new SysError(Errno.EINVAL);
  if ((resolve & BigInt(RESOLVE_BENEATH)) && (resolve & BigInt(RESOLVE_IN_ROOT))) {
    throw new SysError(Errno.EINVAL);
  }
  if (resolve & BigInt(RESOLVE_CACHED)) throw new SysError(Errno.EAGAIN);
  const path = copyInPath(t, argPtr(t, 1));
  return doOpen(t, argInt(t, 0), path, f, Number(mode), resolve);
}

/**
 * The resolution context of openat2's RESOLVE_* flags: RESOLVE_IN_ROOT makes the directory
 * the root (absolute paths and ".." stay inside it); the others restrict the walk.
 */
function restricted(
  t: Task,
  dirfd: number,
  path: string,
  ctx: ResolveContext,
  resolve: bigint,
): ResolveContext {
  const has = (f: number) => (resolve & BigInt(f)) !== 0n;
  if (has(RESOLVE_IN_ROOT)) {
    // Resolved against dirfd even for an absolute path.
    const dir = path.startsWith("/") ? contextAt(t, dirfd, "x").start : ctx.start;
    ctx = { ...ctx, root: dir, start: dir };
  }
  return {
    ...ctx,
    restrict: {
      beneath: has(RESOLVE_BENEATH),
      noXdev: has(RESOLVE_NO_XDEV),
      inRoot: has(RESOLVE_IN_ROOT),
      noMagicLinks: has(RESOLVE_NO_MAGICLINKS),
      noSymlinks: has(RESOLVE_NO_SYMLINKS),
    },
  };
}

/** Implements Linux syscall close(2). */
function close(t: Task): number {
  t.fdTable.close(argInt(t, 0));
  return 0;
}

const CLOSE_RANGE_UNSHARE = 2;
const CLOSE_RANGE_CLOEXEC = 4;

/** Implements Linux syscall close_range(2). */
function closeRange(t: Task): number {
  const first = argU32(t, 0), last = argU32(t, 1), flags = argU32(t, 2);
  if (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) throw new SysError(Errno.EINVAL);
  if (first > last) throw new SysError(Errno.EINVAL);
  for (const fd of t.fdTable.fds()) {
    if (fd < first || fd > last) continue;
    if (flags & CLOSE_RANGE_CLOEXEC) t.fdTable.setCloexec(fd, true);
    else t.fdTable.close(fd);
  }
  return 0;
}

/** Implements Linux syscall dup(2). */
function dup(t: Task): number {
  return t.fdTable.install(t.fdTable.get(argInt(t, 0)));
}

/** Implements Linux syscall dup2(2). */
function dup2(t: Task): number {
  const oldfd = argInt(t, 0), newfd = argInt(t, 1);
  const f = t.fdTable.get(oldfd);
  if (oldfd === newfd) return newfd;
  if (newfd < 0 || newfd >= t.fdTable.limit) throw new SysError(Errno.EBADF);
  t.fdTable.set(newfd, f);
  return newfd;
}

/** Implements Linux syscall dup3(2). */
function dup3(t: Task): number {
  const oldfd = argInt(t, 0), newfd = argInt(t, 1), flags = argInt(t, 2);
  if (flags & ~O_CLOEXEC) throw new SysError(Errno.EINVAL);
  if (oldfd === newfd) throw new SysError(Errno.EINVAL);
  const f = t.fdTable.get(oldfd);
  if (newfd < 0 || newfd >= t.fdTable.limit) throw new SysError(Errno.EBADF);
  t.fdTable.set(newfd, f, (flags & O_CLOEXEC) !== 0);
  return newfd;
}

/** Reads a struct flock and turns it into an owned range of f's file. */
function readFlock(t: Task, f: FileDescription, ofd: boolean) {
  if (!f.vd) throw new SysError(Errno.EINVAL);
  const addr = argPtr(t, 2);
  const { type, whence, start, len, pid } = Flock.decode(t.mm.copyIn(addr, Flock.size));
  if (ofd && pid !== 0) throw new SysError(Errno.EINVAL);
  const offset = (f as { offset?: bigint }).offset ?? 0n;
  const [s, e] = lockRange(whence, start, len, offset, f.vd.inode.size());
  return { addr, type, s, e, ino: f.vd.inode, owner: ofd ? f : t.fdTable };
}

/** F_GETLK and F_OFD_GETLK: the first lock that would conflict, or F_UNLCK. */
function getLock(t: Task, f: FileDescription, ofd: boolean): number {
  const r = readFlock(t, f, ofd);
  if (r.type !== F_RDLCK && r.type !== F_WRLCK) throw new SysError(Errno.EINVAL);
  const c = conflict(r.ino, r.owner, r.type, r.s, r.e);
  // l_whence is SEEK_SET (0): the range is reported from the start of the file.
  const out = c
    ? {
      type: c.type,
      start: c.start,
      len: lockEnd(c.end) === 0n ? 0n : c.end - c.start,
      pid: c.pid,
    }
    : { type: F_UNLCK, start: r.s, len: lockEnd(r.e) === 0n ? 0n : r.e - r.s, pid: 0 };
  t.mm.copyOut(r.addr, Flock.encode(out));
  return 0;
}

/** F_SETLK(W) and F_OFD_SETLK(W). */
async function setLock(t: Task, f: FileDescription, ofd: boolean, wait: boolean): Promise<number> {
  const r = readFlock(t, f, ofd);
  const acc = f.flags & O_ACCMODE;
  if (r.type === F_RDLCK && acc === O_WRONLY) throw new SysError(Errno.EBADF);
  if (r.type === F_WRLCK && acc === 0) throw new SysError(Errno.EBADF);
  if (r.type !== F_RDLCK && r.type !== F_WRLCK && r.type !== F_UNLCK) {
    throw new SysError(Errno.EINVAL);
  }
  const lock = { owner: r.owner, pid: ofd ? -1 : t.tg.pid, type: r.type, start: r.s, end: r.e };
  await setRangeLock(t, r.ino, lock, wait);
  return 0;
}

/** Implements Linux syscall fcntl(2). */
function fcntl(t: Task): number | Promise<number> {
  const fd = argInt(t, 0), cmd = argInt(t, 1);
  const f = t.fdTable.get(fd);
  const arg = t.regs.arg(2);
  const path = (f.flags & O_PATH) !== 0;
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      const min = Number(BigInt.asIntN(32, arg));
      if (min < 0 || min >= t.fdTable.limit) throw new SysError(Errno.EINVAL);
      return t.fdTable.install(f, cmd === F_DUPFD_CLOEXEC, min);
    }
    case F_GETFD:
      return t.fdTable.getCloexec(fd) ? FD_CLOEXEC : 0;
    case F_SETFD:
      t.fdTable.setCloexec(fd, (Number(arg & 0xffffffffn) & FD_CLOEXEC) !== 0);
      return 0;
    case F_GETFL:
      return f.flags;
    case F_SETFL: {
      if (path) throw new SysError(Errno.EBADF);
      const v = Number(arg & 0xffffffffn);
      const was = f.flags;
      f.flags = (f.flags & ~SETFL_MASK) | (v & SETFL_MASK);
      if ((was ^ f.flags) & O_ASYNC) setAsync(f, fd, (f.flags & O_ASYNC) !== 0);
      return 0;
    }
    case F_GETLK:
    case F_OFD_GETLK:
      if (path) throw new SysError(Errno.EBADF);
      return getLock(t, f, cmd === F_OFD_GETLK);
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_SETLK:
    case F_OFD_SETLKW:
      if (path) throw new SysError(Errno.EBADF);
      return setLock(
        t,
        f,
        cmd === F_OFD_SETLK || cmd === F_OFD_SETLKW,
        cmd === F_SETLKW || cmd === F_OFD_SETLKW,
      );
    case F_GETOWN:
      if (path) throw new SysError(Errno.EBADF);
      return getOwn(f);
    case F_GETOWN_EX: {
      if (path) throw new SysError(Errno.EBADF);
      const { type, pid } = getOwnEx(f);
      t.mm.copyOut(argPtr(t, 2), FOwnerEx.encode({ type, pid }));
      return 0;
    }
    case F_GETSIG:
      if (path) throw new SysError(Errno.EBADF);
      return sigioSignal(f);
    case F_SETOWN: {
      if (path) throw new SysError(Errno.EBADF);
      const who = Number(BigInt.asIntN(32, arg));
      if (who === -0x80000000) throw new SysError(Errno.EINVAL);
      setOwn(t, f, who < 0 ? F_OWNER_PGRP : F_OWNER_PID, Math.abs(who), capable(t, CAP.KILL));
      return 0;
    }
    case F_SETOWN_EX: {
      if (path) throw new SysError(Errno.EBADF);
      const { type, pid } = FOwnerEx.decode(t.mm.copyIn(argPtr(t, 2), FOwnerEx.size));
      setOwn(t, f, type, pid, capable(t, CAP.KILL));
      return 0;
    }
    case F_SETSIG:
      if (path) throw new SysError(Errno.EBADF);
      setSigioSignal(f, Number(BigInt.asIntN(32, arg)));
      return 0;
    case F_SETPIPE_SZ:
    case F_GETPIPE_SZ: {
      if (!(f instanceof PipeFile)) throw new SysError(Errno.EBADF);
      if (cmd === F_GETPIPE_SZ) return f.pipe.capacity;
      const want = Number(arg & 0xffffffffn);
      if (want > 1048576) throw new SysError(Errno.EPERM);
      let size = 4096;
      while (size < want) size *= 2;
      f.pipe.setCapacity(size);
      return size;
    }
    case F_ADD_SEALS:
    case F_GET_SEALS:
      throw new SysError(Errno.EINVAL);
    case F_NOTIFY:
      if (path) throw new SysError(Errno.EBADF);
      return fcntlNotify(t, fd, f, Number(arg & 0xffffffffn));
    default:
      throw new SysError(Errno.EINVAL);
  }
}

/** Implements Linux syscall flock(2). */
async function flock(t: Task): Promise<number> {
  const f = t.fdTable.get(argInt(t, 0));
  if (f.flags & O_PATH) throw new SysError(Errno.EBADF);
  const op = argInt(t, 1);
  const kind = op & ~4;
  if (kind !== 1 && kind !== 2 && kind !== 8) throw new SysError(Errno.EINVAL);
  if (!f.vd) throw new SysError(Errno.EINVAL);
  await flockInode(t, f.vd.inode, f, op);
  return 0;
}

export const syscalls: Record<string, SyscallDef> = {
  open: { handler: open, args: ["s", "O", "o"] },
  openat: { handler: openat, args: ["d", "s", "O", "o"] },
  openat2: {
    handler: openat2,
    args: ["d", "s", "x", "d"],
  },
  creat: { handler: creat, args: ["s", "o"] },
  close: { handler: close, args: ["d"] },
  close_range: { handler: closeRange, args: ["d", "d", "x"] },
  dup: { handler: dup, args: ["d"] },
  dup2: { handler: dup2, args: ["d", "d"] },
  dup3: { handler: dup3, args: ["d", "d", "x"] },
  fcntl: {
    handler: fcntl,
    support: "partial",
    note: "no memfd seals (F_ADD_SEALS, F_GET_SEALS), no F_GETOWNER_UIDS",
    args: ["d", "d", "x"],
  },
  flock: { handler: flock, args: ["d", "x"] },
};
