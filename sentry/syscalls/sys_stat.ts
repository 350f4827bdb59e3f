/**
 * fstat(2), newfstatat(2), stat(2), lstat(2).
 *
 * @module
 */

import { Errno } from "../../host/errno.ts";
import type { Task } from "../kernel/task.ts";
import { encodeStat, STAT_SIZE } from "../vfs/stat.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "./errors.ts";
import { AT_FDCWD, resolveAt } from "./paths.ts";
import type { SyscallDef } from "./table.ts";

const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_NO_AUTOMOUNT = 0x800;
const AT_EMPTY_PATH = 0x1000;

function fstatFd(t: Task, fd: number, addr: bigint): number {
  const out = new Uint8Array(STAT_SIZE);
  t.fdTable.get(fd).stat(t, out);
  t.mm.copyOut(addr, out);
  return 0;
}

function statPath(t: Task, dirfd: number, path: string, addr: bigint, follow: boolean): number {
  const r = resolveAt(t, dirfd, path, follow);
  t.kernel.fs.release(r.fd);
  t.mm.copyOut(addr, encodeStat(r.stat));
  return 0;
}

/** Implements Linux syscall fstat(2). */
function fstat(t: Task): number {
  return fstatFd(t, argInt(t, 0), argPtr(t, 1));
}

/** Implements Linux syscall newfstatat(2). */
function newfstatat(t: Task): number {
  const dirfd = argInt(t, 0);
  const flags = argInt(t, 3);
  if ((flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH)) !== 0) {
    throw new SysError(Errno.EINVAL);
  }
  const path = t.mm.copyInString(argPtr(t, 1));
  if (path === "") {
    if (!(flags & AT_EMPTY_PATH)) throw new SysError(Errno.ENOENT);
    if (dirfd === AT_FDCWD) return statPath(t, dirfd, ".", argPtr(t, 2), true);
    return fstatFd(t, dirfd, argPtr(t, 2));
  }
  return statPath(t, dirfd, path, argPtr(t, 2), !(flags & AT_SYMLINK_NOFOLLOW));
}

/** Implements Linux syscall stat(2). */
function stat(t: Task): number {
  return statPath(t, AT_FDCWD, t.mm.copyInString(argPtr(t, 0)), argPtr(t, 1), true);
}

/** Implements Linux syscall lstat(2). */
function lstat(t: Task): number {
  return statPath(t, AT_FDCWD, t.mm.copyInString(argPtr(t, 0)), argPtr(t, 1), false);
}

const pathNote =
  "paths resolve on the container's root filesystem only (no procfs, devfs, tmpfs yet)";

export const syscalls: Record<string, SyscallDef> = {
  fstat: { handler: fstat, args: ["d", "x"] },
  newfstatat: {
    handler: newfstatat,
    support: "partial",
    note: pathNote,
    args: ["d", "s", "x", "x"],
  },
  stat: { handler: stat, support: "partial", note: pathNote, args: ["s", "x"] },
  lstat: { handler: lstat, support: "partial", note: pathNote, args: ["s", "x"] },
};
