/**
 * close(2), getcwd(2), readlink(2), readlinkat(2).
 *
 * @module
 */

import { Errno } from "../../host/errno.ts";
import type { Task } from "../kernel/task.ts";
import { argInt, argPtr, argSize } from "./args.ts";
import { SysError } from "./errors.ts";
import { AT_FDCWD, resolveAt } from "./paths.ts";
import type { SyscallDef } from "./table.ts";
import { S_IFLNK, S_IFMT } from "../fs/gofer.ts";

/** Implements Linux syscall close(2). */
function close(t: Task): number {
  t.fdTable.close(argInt(t, 0));
  return 0;
}

/** /proc/self/exe and /proc/<pid>/exe: the only procfs links before procfs exists. */
function procExe(t: Task, path: string): string | null {
  const m = /^\/proc\/(self|\d+)\/exe$/.exec(path);
  if (!m) return null;
  const tg = m[1] === "self" ? t.tg : t.kernel.threadGroups.get(Number(m[1]));
  if (!tg) throw new SysError(Errno.ENOENT);
  return tg.exe;
}

function readlinkCommon(t: Task, dirfd: number, pathAddr: bigint, buf: bigint, size: number) {
  if (size <= 0) throw new SysError(Errno.EINVAL);
  const path = t.mm.copyInString(pathAddr);
  let target = procExe(t, path);
  if (target === null) {
    const r = resolveAt(t, dirfd, path, false);
    try {
      if ((r.stat.mode & S_IFMT) !== S_IFLNK) throw new SysError(Errno.EINVAL);
      target = t.kernel.fs.client.readLinkAt(r.fd);
    } finally {
      t.kernel.fs.release(r.fd);
    }
  }
  const bytes = new TextEncoder().encode(target).subarray(0, size);
  t.mm.copyOut(buf, bytes);
  return bytes.length;
}

/** Implements Linux syscall getcwd(2): returns the length including the NUL. */
function getcwd(t: Task): number {
  const path = new TextEncoder().encode(t.tg.cwd + "\0");
  if (argSize(t, 1) < path.length) throw new SysError(Errno.ERANGE);
  t.mm.copyOut(argPtr(t, 0), path);
  return path.length;
}

/** Implements Linux syscall readlinkat(2). */
function readlinkat(t: Task): number {
  return readlinkCommon(t, argInt(t, 0), argPtr(t, 1), argPtr(t, 2), argInt(t, 3));
}

/** Implements Linux syscall readlink(2). */
function readlink(t: Task): number {
  return readlinkCommon(t, AT_FDCWD, argPtr(t, 0), argPtr(t, 1), argInt(t, 2));
}

export const syscalls: Record<string, SyscallDef> = {
  close: { handler: close, args: ["d"] },
  getcwd: { handler: getcwd, args: ["x", "d"] },
  readlinkat: {
    handler: readlinkat,
    support: "partial",
    note: "/proc/<pid>/exe and links on the root filesystem",
    args: ["d", "s", "x", "d"],
  },
  readlink: {
    handler: readlink,
    support: "partial",
    note: "/proc/<pid>/exe and links on the root filesystem",
    args: ["s", "x", "d"],
  },
};
