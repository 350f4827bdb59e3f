/**
 * Character devices the Sentry implements, found by device number when a device node is opened
 * (devfs's nodes, or nodes made with mknod on tmpfs): null, zero, full, random, urandom.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "../../abi/linux/error.ts";
import { type FileDescription, FileDescriptionBase } from "../vfs/file.ts";
import type { Attr, Inode } from "../vfs/inode.ts";
import type { VirtualDentry } from "../vfs/vfs.ts";
import { devptsFor, openControllingTty } from "./tty.ts";

import { major, makedev, minor } from "../../abi/linux/stat.ts";
export { major, makedev, minor };

type Kind = "null" | "zero" | "full" | "random";

/** The memory devices (major 1). */
export const MEM_DEVICES: Record<string, { minor: number; kind: Kind }> = {
  null: { minor: 3, kind: "null" },
  zero: { minor: 5, kind: "zero" },
  full: { minor: 7, kind: "full" },
  random: { minor: 8, kind: "random" },
  urandom: { minor: 9, kind: "random" },
};

class MemDeviceFile extends FileDescriptionBase {
  constructor(readonly kind: Kind, readonly inode: Inode, vd: VirtualDentry, flags: number) {
    super(flags, vd);
  }

  override read(_t: Task, dst: Uint8Array<ArrayBuffer>): number {
    switch (this.kind) {
      case "null":
        return 0;
      case "zero":
      case "full":
        dst.fill(0);
        return dst.length;
      case "random":
        for (let o = 0; o < dst.length; o += 65536) {
          crypto.getRandomValues(dst.subarray(o, o + 65536));
        }
        return dst.length;
    }
  }

  override write(_t: Task, src: Uint8Array<ArrayBuffer>): number {
    if (this.kind === "full") throw new SysError(Errno.ENOSPC);
    return src.length;
  }

  override seek(): bigint {
    return 0n;
  }

  stat(_t: Task): Attr {
    return this.inode.stat();
  }
}

/** Opens the device that inode's rdev names. Throws ENXIO for devices that do not exist. */
export function openDevice(
  t: Task,
  inode: Inode,
  vd: VirtualDentry,
  flags: number,
): FileDescription {
  if (major(inode.rdev) === 5) {
    // tty, console (the container has no console of its own), ptmx.
    if (minor(inode.rdev) === 0) return openControllingTty(t, flags);
    if (minor(inode.rdev) === 2) {
      const pts = devptsFor(t.kernel);
      if (!pts) throw new SysError(Errno.ENODEV);
      return pts.ptmx.open(t, vd, flags);
    }
  }
  if (major(inode.rdev) === 136) {
    const pts = devptsFor(t.kernel);
    const p = pts?.ptys.get(minor(inode.rdev));
    if (!pts || !p) throw new SysError(Errno.ENXIO);
    return pts.inodeFor(p).open(t, vd, flags);
  }
  if (major(inode.rdev) === 1) {
    for (const d of Object.values(MEM_DEVICES)) {
      if (d.minor === minor(inode.rdev)) return new MemDeviceFile(d.kind, inode, vd, flags);
    }
  }
  throw new SysError(Errno.ENXIO);
}
