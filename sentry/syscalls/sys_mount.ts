/**
 * mount(2) and umount2(2) inside the sandbox: new tmpfs, proc, sysfs, devpts and mqueue
 * mounts, bind mounts of paths in the sandbox, remounts that change per-mount flags, and
 * propagation changes (accepted; there is one mount namespace).
 *
 * @module
 */

import { CAP, capable } from "../kernel/task_creds.ts";
import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { mountOptions, newFilesystem } from "../fs/mount_tree.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import { AT_FDCWD, contextAt, copyInPath } from "./paths.ts";
import type { SyscallDef } from "./table.ts";

const MS_RDONLY = 1, MS_NOSUID = 2, MS_NODEV = 4, MS_NOEXEC = 8;
const MS_REMOUNT = 32, MS_BIND = 4096, MS_MOVE = 8192, MS_REC = 16384;
const MS_UNBINDABLE = 1 << 17, MS_PRIVATE = 1 << 18, MS_SLAVE = 1 << 19, MS_SHARED = 1 << 20;
const PROPAGATION = MS_UNBINDABLE | MS_PRIVATE | MS_SLAVE | MS_SHARED;

/** Implements Linux syscall mount(2). */
function mount(t: Task): number {
  if (!capable(t, CAP.SYS_ADMIN)) throw new SysError(Errno.EPERM);
  const source = argPtr(t, 0) !== 0n ? t.mm.copyInString(argPtr(t, 0), 4096) : "";
  const target = copyInPath(t, argPtr(t, 1));
  const type = argPtr(t, 2) !== 0n ? t.mm.copyInString(argPtr(t, 2), 256) : "";
  const flags = Number(t.regs.arg(3) & 0xffffffffn);
  const data = argPtr(t, 4) !== 0n ? t.mm.copyInString(argPtr(t, 4), 4096) : "";
  const vfs = t.kernel.vfs;
  const at = vfs.resolve(contextAt(t, AT_FDCWD, target), target, { follow: true });
  const flagOpts = {
    readonly: (flags & MS_RDONLY) !== 0,
    nosuid: (flags & MS_NOSUID) !== 0,
    nodev: (flags & MS_NODEV) !== 0,
    noexec: (flags & MS_NOEXEC) !== 0,
  };
  if (flags & PROPAGATION) return 0;
  if (flags & MS_REMOUNT) {
    if (at.dentry !== at.mount.root) throw new SysError(Errno.EINVAL);
    Object.assign(at.mount.opts, flagOpts);
    return 0;
  }
  if (flags & MS_MOVE) throw new SysError(Errno.EINVAL);
  if (flags & MS_BIND) {
    const src = vfs.resolve(contextAt(t, AT_FDCWD, source), source, { follow: true });
    vfs.mountAt(src.mount.fs, at, { ...src.mount.opts, ...flagOpts, source }, src.dentry);
    void MS_REC;
    return 0;
  }
  const options = data.split(",").filter((x) => x !== "");
  const { opts, mode, size, uid, gid } = mountOptions({ destination: target, type, options });
  const fs = newFilesystem(t.kernel, vfs, t.kernel.mf, type, target, { mode, size, uid, gid });
  if (!fs) throw new SysError(Errno.ENODEV);
  if (!at.inode.isDir) throw new SysError(Errno.ENOTDIR);
  vfs.mountAt(fs, at, { ...opts, ...flagOpts, source: source || type });
  return 0;
}

const MNT_FORCE = 1, MNT_DETACH = 2, MNT_EXPIRE = 4, UMOUNT_NOFOLLOW = 8;

/** Implements Linux syscall umount2(2). */
function umount2(t: Task): number {
  if (!capable(t, CAP.SYS_ADMIN)) throw new SysError(Errno.EPERM);
  const flags = argInt(t, 1);
  if (flags & ~(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW)) {
    throw new SysError(Errno.EINVAL);
  }
  const path = copyInPath(t, argPtr(t, 0));
  const vd = t.kernel.vfs.resolve(contextAt(t, AT_FDCWD, path), path, {
    follow: !(flags & UMOUNT_NOFOLLOW),
  });
  t.kernel.vfs.umount(vd);
  return 0;
}

export const syscalls: Record<string, SyscallDef> = {
  mount: {
    handler: mount,
    support: "partial",
    note: "tmpfs, proc, sysfs, devpts, mqueue, bind mounts of sandbox paths, remount flags; " +
      "MS_MOVE is refused",
    args: ["s", "s", "s", "x", "x"],
  },
  umount2: {
    handler: umount2,
    support: "partial",
    note: "MNT_DETACH unmounts at once; a mount with mounts below it is busy",
    args: ["s", "x"],
  },
};
