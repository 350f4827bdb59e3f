/**
 * Changing attributes: chmod(2), fchmod(2), fchmodat(2), chown(2), fchown(2), lchown(2),
 * fchownat(2), utimensat(2), utime(2), utimes(2), futimesat(2), truncate(2), ftruncate(2),
 * fallocate(2).
 *
 * @module
 */

import { CAP } from "../kernel/task_creds.ts";
import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { TmpfsRegular } from "../fs/tmpfs.ts";
import { O_ACCMODE, O_PATH, O_RDONLY } from "../vfs/file.ts";
import {
  checkPermission,
  credsOf,
  hasCap,
  type Inode,
  isOwner,
  MAY_WRITE,
  nowNs,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
  S_ISGID,
  S_ISUID,
} from "../vfs/inode.ts";
import type { VirtualDentry } from "../vfs/vfs.ts";
import { IN_ATTRIB, IN_MODIFY, notifyVd } from "../vfs/inotify.ts";
import { argI64, argInt, argPtr, argU32 } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  contextAt,
  copyInPath,
  resolveAt,
} from "./paths.ts";
import type { SyscallDef } from "./table.ts";
import {
  NSEC_PER_SEC,
  nsFromTimespec,
  Timespec,
  Timeval,
  USEC_PER_SEC,
  Utimbuf,
} from "../../abi/linux/time.ts";

/** The file fd refers to, for the f* calls; O_PATH descriptors are refused with EBADF. */
function fdTarget(t: Task, fd: number, allowPath = false): VirtualDentry {
  const f = t.fdTable.get(fd);
  if ((f.flags & O_PATH) && !allowPath) throw new SysError(Errno.EBADF);
  if (!f.vd) throw new SysError(Errno.EINVAL);
  return f.vd;
}

function writable(vd: VirtualDentry): void {
  if (vd.mount.readonly) throw new SysError(Errno.EROFS);
}

function chmodVd(t: Task, vd: VirtualDentry, mode: number): number {
  const c = credsOf(t);
  if (!isOwner(c, vd.inode)) throw new SysError(Errno.EPERM);
  writable(vd);
  let m = mode & 0o7777;
  if (!hasCap(c, CAP.FSETID) && c.gid !== vd.inode.gid && !c.groups.includes(vd.inode.gid)) {
    m &= ~S_ISGID;
  }
  vd.inode.setAttr({ mode: m });
  notifyVd(vd, IN_ATTRIB);
  return 0;
}

function chownVd(t: Task, vd: VirtualDentry, uid: number, gid: number): number {
  const c = credsOf(t);
  const ino = vd.inode;
  const newUid = uid === 0xffffffff ? undefined : uid;
  const newGid = gid === 0xffffffff ? undefined : gid;
  if (!hasCap(c, CAP.CHOWN)) {
    if (newUid !== undefined && newUid !== ino.uid) throw new SysError(Errno.EPERM);
    if (newGid !== undefined && newGid !== ino.gid) {
      if (c.uid !== ino.uid || (newGid !== c.gid && !c.groups.includes(newGid))) {
        throw new SysError(Errno.EPERM);
      }
    }
    if (newUid === undefined && newGid === undefined && c.uid !== ino.uid) return 0;
  }
  writable(vd);
  const change: { uid?: number; gid?: number; mode?: number } = { uid: newUid, gid: newGid };
  if ((newUid !== undefined || newGid !== undefined) && (ino.mode & S_IFMT) !== S_IFDIR) {
    let m = ino.mode & ~S_ISUID;
    if (ino.mode & 0o010) m &= ~S_ISGID;
    if (m !== ino.mode) change.mode = m & 0o7777;
  }
  ino.setAttr(change);
  notifyVd(vd, IN_ATTRIB);
  return 0;
}

function fchownat(t: Task): number {
  const flags = argInt(t, 4);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) throw new SysError(Errno.EINVAL);
  const vd = resolveAt(t, argInt(t, 0), copyInPath(t, argPtr(t, 1)), {
    follow: !(flags & AT_SYMLINK_NOFOLLOW),
    emptyPath: (flags & AT_EMPTY_PATH) !== 0,
  });
  return chownVd(t, vd, argU32(t, 2), argU32(t, 3));
}

const UTIME_NOW = (1 << 30) - 1;
const UTIME_OMIT = (1 << 30) - 2;

/**
 * Sets access and modification times; times null means now. Setting them to now needs write
 * permission or ownership; any other value needs ownership.
 */
function setTimes(t: Task, vd: VirtualDentry, times: [bigint | null, bigint | null] | null) {
  const c = credsOf(t);
  const ino: Inode = vd.inode;
  const now = nowNs();
  const explicit = times !== null && (times[0] !== null && times[0] >= 0n ||
    times[1] !== null && times[1] >= 0n);
  if (times !== null && times[0] === null && times[1] === null) return 0;
  if (!isOwner(c, ino)) {
    if (explicit) throw new SysError(Errno.EPERM);
    try {
      checkPermission(c, ino, MAY_WRITE);
    } catch {
      throw new SysError(Errno.EACCES);
    }
  }
  writable(vd);
  const pick = (v: bigint | null | undefined) => v === null ? undefined : v === -1n ? now : v;
  ino.setAttr({
    atimeNs: times === null ? now : pick(times[0]),
    mtimeNs: times === null ? now : pick(times[1]),
  });
  notifyVd(vd, IN_ATTRIB);
  return 0;
}

/** Reads two struct timespec; UTIME_NOW becomes -1n, UTIME_OMIT null. */
function readTimespecs(t: Task, addr: bigint): [bigint | null, bigint | null] | null {
  if (addr === 0n) return null;
  const b = t.mm.copyIn(addr, 2 * Timespec.size);
  const one = (i: number): bigint | null => {
    const ts = Timespec.decode(b, i * Timespec.size);
    if (ts.nsec === BigInt(UTIME_OMIT)) return null;
    if (ts.nsec === BigInt(UTIME_NOW)) return -1n;
    if (ts.nsec < 0n || ts.nsec >= NSEC_PER_SEC) throw new SysError(Errno.EINVAL);
    return nsFromTimespec(ts);
  };
  return [one(0), one(1)];
}

/** Reads two struct timeval (utimes, futimesat). */
function readTimevals(t: Task, addr: bigint): [bigint, bigint] | null {
  if (addr === 0n) return null;
  const b = t.mm.copyIn(addr, 2 * Timeval.size);
  const one = (i: number) => {
    const tv = Timeval.decode(b, i * Timeval.size);
    if (tv.usec < 0n || tv.usec >= USEC_PER_SEC) throw new SysError(Errno.EINVAL);
    return tv.sec * NSEC_PER_SEC + tv.usec * 1000n;
  };
  return [one(0), one(1)];
}

/** Implements Linux syscall utimensat(2). */
function utimensat(t: Task): number {
  const dirfd = argInt(t, 0), pathAddr = argPtr(t, 1), flags = argInt(t, 3);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) throw new SysError(Errno.EINVAL);
  const times = readTimespecs(t, argPtr(t, 2));
  let vd: VirtualDentry;
  if (pathAddr === 0n) {
    if (dirfd === AT_FDCWD) throw new SysError(Errno.EFAULT);
    vd = fdTarget(t, dirfd, true);
  } else {
    vd = resolveAt(t, dirfd, copyInPath(t, pathAddr), {
      follow: !(flags & AT_SYMLINK_NOFOLLOW),
      emptyPath: (flags & AT_EMPTY_PATH) !== 0,
    });
  }
  return setTimes(t, vd, times);
}

function utimesAt(t: Task, dirfd: number, path: string, tv: [bigint, bigint] | null): number {
  const vd = t.kernel.vfs.resolve(contextAt(t, dirfd, path), path, { follow: true });
  return setTimes(t, vd, tv);
}

/** Implements Linux syscall utime(2). */
function utime(t: Task): number {
  const addr = argPtr(t, 1);
  let tv: [bigint, bigint] | null = null;
  if (addr !== 0n) {
    const u = Utimbuf.decode(t.mm.copyIn(addr, Utimbuf.size));
    tv = [u.actime * NSEC_PER_SEC, u.modtime * NSEC_PER_SEC];
  }
  return utimesAt(t, AT_FDCWD, copyInPath(t, argPtr(t, 0)), tv);
}

function truncateVd(vd: VirtualDentry, len: bigint): number {
  if (len < 0n) throw new SysError(Errno.EINVAL);
  const ino = vd.inode;
  if (ino.isDir) throw new SysError(Errno.EISDIR);
  if ((ino.mode & S_IFMT) !== S_IFREG) throw new SysError(Errno.EINVAL);
  writable(vd);
  ino.setAttr({ size: len });
  notifyVd(vd, IN_MODIFY);
  return 0;
}

/** Implements Linux syscall truncate(2). */
function truncate(t: Task): number {
  const path = copyInPath(t, argPtr(t, 0));
  const len = argI64(t, 1);
  const vd = t.kernel.vfs.resolve(contextAt(t, AT_FDCWD, path), path, { follow: true });
  if (vd.inode.isDir) throw new SysError(Errno.EISDIR);
  checkPermission(credsOf(t), vd.inode, MAY_WRITE);
  return truncateVd(vd, len);
}

/** Implements Linux syscall ftruncate(2). */
function ftruncate(t: Task): number {
  const f = t.fdTable.get(argInt(t, 0));
  if (f.flags & O_PATH) throw new SysError(Errno.EBADF);
  const len = argI64(t, 1);
  if (len < 0n) throw new SysError(Errno.EINVAL);
  if (!f.vd || (f.flags & O_ACCMODE) === O_RDONLY) throw new SysError(Errno.EINVAL);
  return truncateVd(f.vd, len);
}

const FALLOC_FL_KEEP_SIZE = 1;

/** Implements Linux syscall fallocate(2): mode 0 and KEEP_SIZE on tmpfs. */
function fallocate(t: Task): number {
  const f = t.fdTable.get(argInt(t, 0));
  const mode = argInt(t, 1), off = argI64(t, 2), len = argI64(t, 3);
  if (off < 0n || len <= 0n) throw new SysError(Errno.EINVAL);
  if ((f.flags & O_PATH) || (f.flags & O_ACCMODE) === O_RDONLY) throw new SysError(Errno.EBADF);
  if (!f.vd) throw new SysError(Errno.ESPIPE);
  const ino = f.vd.inode;
  if (ino.isDir) throw new SysError(Errno.EISDIR);
  if ((ino.mode & S_IFMT) !== S_IFREG) throw new SysError(Errno.ENODEV);
  if (mode & ~FALLOC_FL_KEEP_SIZE) throw new SysError(Errno.EOPNOTSUPP);
  writable(f.vd);
  if (off + len > 0x7fffffffffffffffn) throw new SysError(Errno.EFBIG);
  if (!(ino instanceof TmpfsRegular)) throw new SysError(Errno.EOPNOTSUPP);
  ino.allocate(off, len, (mode & FALLOC_FL_KEEP_SIZE) !== 0);
  return 0;
}

const p = (t: Task, i: number) => copyInPath(t, argPtr(t, i));
const at = (t: Task, dirfd: number, path: string, follow: boolean) =>
  t.kernel.vfs.resolve(contextAt(t, dirfd, path), path, { follow });

export const syscalls: Record<string, SyscallDef> = {
  chmod: {
    handler: (t) => chmodVd(t, at(t, AT_FDCWD, p(t, 0), true), argU32(t, 1)),
    args: ["s", "o"],
  },
  fchmod: { handler: (t) => chmodVd(t, fdTarget(t, argInt(t, 0)), argU32(t, 1)), args: ["d", "o"] },
  fchmodat: {
    handler: (t) => chmodVd(t, at(t, argInt(t, 0), p(t, 1), true), argU32(t, 2)),
    args: ["d", "s", "o"],
  },
  chown: {
    handler: (t) => chownVd(t, at(t, AT_FDCWD, p(t, 0), true), argU32(t, 1), argU32(t, 2)),
    args: ["s", "d", "d"],
  },
  lchown: {
    handler: (t) => chownVd(t, at(t, AT_FDCWD, p(t, 0), false), argU32(t, 1), argU32(t, 2)),
    args: ["s", "d", "d"],
  },
  fchown: {
    handler: (t) => chownVd(t, fdTarget(t, argInt(t, 0)), argU32(t, 1), argU32(t, 2)),
    args: ["d", "d", "d"],
  },
  fchownat: { handler: fchownat, args: ["d", "s", "d", "d", "x"] },
  utimensat: { handler: utimensat, args: ["d", "s", "x", "x"] },
  utime: { handler: utime, args: ["s", "x"] },
  utimes: {
    handler: (t) => utimesAt(t, AT_FDCWD, p(t, 0), readTimevals(t, argPtr(t, 1))),
    args: ["s", "x"],
  },
  futimesat: {
    handler: (t) => utimesAt(t, argInt(t, 0), p(t, 1), readTimevals(t, argPtr(t, 2))),
    args: ["d", "s", "x"],
  },
  truncate: { handler: truncate, args: ["s", "d"] },
  ftruncate: { handler: ftruncate, args: ["d", "d"] },
  fallocate: {
    handler: fallocate,
    support: "partial",
    note: "modes 0 and FALLOC_FL_KEEP_SIZE on tmpfs",
    args: ["d", "x", "d", "d"],
  },
};
