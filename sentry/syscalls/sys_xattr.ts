/**
 * Extended attributes: getxattr(2), setxattr(2), listxattr(2), removexattr(2) and their l*
 * (no symlink following) and f* (descriptor) forms.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { O_PATH } from "../vfs/file.ts";
import { checkPermission, credsOf, isOwner, MAY_READ, MAY_WRITE } from "../vfs/inode.ts";
import type { VirtualDentry } from "../vfs/vfs.ts";
import { argInt, argPtr, argU32 } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import { AT_FDCWD, contextAt, copyInPath } from "./paths.ts";
import type { SyscallDef } from "./table.ts";
import { byteLength, encodeBytes } from "../../host/utf8b.ts";

const XATTR_NAME_MAX = 255;
const XATTR_SIZE_MAX = 65536;
const XATTR_LIST_MAX = 65536;

type Target = "path" | "lpath" | "fd";

function target(t: Task, kind: Target): VirtualDentry {
  if (kind === "fd") {
    const f = t.fdTable.get(argInt(t, 0));
    if (f.flags & O_PATH) throw new SysError(Errno.EBADF);
    if (!f.vd) throw new SysError(Errno.EOPNOTSUPP);
    return f.vd;
  }
  const path = copyInPath(t, argPtr(t, 0));
  return t.kernel.vfs.resolve(contextAt(t, AT_FDCWD, path), path, { follow: kind === "path" });
}

function readName(t: Task, addr: bigint): string {
  const name = t.mm.copyInString(addr, XATTR_NAME_MAX + 1);
  if (name.length === 0 || byteLength(name) > XATTR_NAME_MAX) {
    throw new SysError(Errno.ERANGE);
  }
  return name;
}

/** Copies a value or list out as the *xattr calls do: size 0 asks only for the length. */
function copyOutSized(t: Task, addr: bigint, size: number, data: Uint8Array): number {
  if (size === 0) return data.length;
  if (data.length > size) throw new SysError(Errno.ERANGE);
  t.mm.copyOut(addr, data);
  return data.length;
}

function getxattr(t: Task, kind: Target): number {
  const vd = target(t, kind);
  const name = readName(t, argPtr(t, 1));
  checkPermission(credsOf(t), vd.inode, MAY_READ);
  const v = vd.inode.getxattr(name);
  return copyOutSized(t, argPtr(t, 2), Math.min(argU32(t, 3), XATTR_SIZE_MAX), v);
}

function setxattr(t: Task, kind: Target): number {
  const vd = target(t, kind);
  const name = readName(t, argPtr(t, 1));
  const size = Number(t.regs.arg(3));
  const flags = argInt(t, 4);
  if (flags & ~3) throw new SysError(Errno.EINVAL);
  if (size > XATTR_SIZE_MAX) throw new SysError(Errno.E2BIG);
  const value = size > 0 ? t.mm.copyIn(argPtr(t, 2), size) : new Uint8Array(0);
  if (vd.mount.readonly) throw new SysError(Errno.EROFS);
  const c = credsOf(t);
  if (!isOwner(c, vd.inode)) checkPermission(c, vd.inode, MAY_WRITE);
  vd.inode.setxattr(name, value, flags);
  return 0;
}

function listxattr(t: Task, kind: Target): number {
  const vd = target(t, kind);
  const names = vd.inode.listxattr();
  const parts = names.map((n) => encodeBytes(n + "\0"));
  const total = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return copyOutSized(t, argPtr(t, 1), Math.min(Number(t.regs.arg(2)), XATTR_LIST_MAX), out);
}

function removexattr(t: Task, kind: Target): number {
  const vd = target(t, kind);
  const name = readName(t, argPtr(t, 1));
  if (vd.mount.readonly) throw new SysError(Errno.EROFS);
  const c = credsOf(t);
  if (!isOwner(c, vd.inode)) checkPermission(c, vd.inode, MAY_WRITE);
  vd.inode.removexattr(name);
  return 0;
}

const note = "tmpfs keeps user.*, trusted.* and security.*; gofer files ask the Gofer";

export const syscalls: Record<string, SyscallDef> = {
  getxattr: { handler: (t) => getxattr(t, "path"), note, args: ["s", "s", "x", "d"] },
  lgetxattr: { handler: (t) => getxattr(t, "lpath"), note, args: ["s", "s", "x", "d"] },
  fgetxattr: { handler: (t) => getxattr(t, "fd"), note, args: ["d", "s", "x", "d"] },
  setxattr: { handler: (t) => setxattr(t, "path"), note, args: ["s", "s", "x", "d", "x"] },
  lsetxattr: { handler: (t) => setxattr(t, "lpath"), note, args: ["s", "s", "x", "d", "x"] },
  fsetxattr: { handler: (t) => setxattr(t, "fd"), note, args: ["d", "s", "x", "d", "x"] },
  listxattr: { handler: (t) => listxattr(t, "path"), note, args: ["s", "x", "d"] },
  llistxattr: { handler: (t) => listxattr(t, "lpath"), note, args: ["s", "x", "d"] },
  flistxattr: { handler: (t) => listxattr(t, "fd"), note, args: ["d", "x", "d"] },
  removexattr: { handler: (t) => removexattr(t, "path"), note, args: ["s", "s"] },
  lremovexattr: { handler: (t) => removexattr(t, "lpath"), note, args: ["s", "s"] },
  fremovexattr: { handler: (t) => removexattr(t, "fd"), note, args: ["d", "s"] },
};
