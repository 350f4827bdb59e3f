/**
 * struct stat and struct statx (abi/linux/stat.ts) from file attributes.
 *
 * @module
 */

import {
  major,
  minor,
  Stat,
  Statx,
  STATX_BASIC_STATS,
  STATX_MNT_ID,
} from "../../abi/linux/stat.ts";
import { timespecFromNs } from "../../abi/linux/time.ts";
import type { Attr } from "./inode.ts";

/** Encodes attributes as the struct stat that fstat(2) copies out. */
export function encodeStat(s: Attr): Uint8Array<ArrayBuffer> {
  return Stat.encode({
    dev: s.dev,
    ino: s.ino,
    nlink: BigInt(s.nlink),
    mode: s.mode,
    uid: s.uid,
    gid: s.gid,
    rdev: BigInt(s.rdev),
    size: s.size,
    blksize: BigInt(s.blksize),
    blocks: s.blocks,
    atime: timespecFromNs(s.atimeNs),
    mtime: timespecFromNs(s.mtimeNs),
    ctime: timespecFromNs(s.ctimeNs),
  });
}

/** Encodes attributes as struct statx. */
export function encodeStatx(s: Attr, mntId = 0): Uint8Array<ArrayBuffer> {
  const ts = (ns: bigint) => {
    const { sec, nsec } = timespecFromNs(ns);
    return { sec, nsec: Number(nsec) };
  };
  // Device numbers are the kernel's 32-bit encoding: only the low word carries them.
  const dev32 = (d: bigint) => Number(d & 0xffffffffn);
  return Statx.encode({
    mask: STATX_BASIC_STATS | STATX_MNT_ID,
    blksize: s.blksize,
    nlink: s.nlink,
    uid: s.uid,
    gid: s.gid,
    mode: s.mode,
    ino: s.ino,
    size: s.size,
    blocks: s.blocks,
    atime: ts(s.atimeNs),
    btime: ts(s.ctimeNs), // not kept: report ctime
    ctime: ts(s.ctimeNs),
    mtime: ts(s.mtimeNs),
    rdevMajor: major(dev32(BigInt(s.rdev))),
    rdevMinor: minor(dev32(BigInt(s.rdev))),
    devMajor: major(dev32(s.dev)),
    devMinor: minor(dev32(s.dev)),
    mntId: BigInt(mntId),
  });
}
