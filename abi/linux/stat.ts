/**
 * File attributes on x86-64: struct stat (stat(2)), struct statx (statx(2)) and struct statfs
 * (statfs(2)). The Sentry encodes them for the application; host/ decodes the host's.
 *
 * @module
 */

import { array, i32, i64, struct, u16, u32, u64 } from "./layout.ts";
import { Timespec } from "./time.ts";

/** struct stat (x86-64's, which differs from the generic one). */
export const Stat = struct("stat", 144, {
  dev: [0, u64],
  ino: [8, u64],
  nlink: [16, u64],
  mode: [24, u32],
  uid: [28, u32],
  gid: [32, u32],
  rdev: [40, u64],
  size: [48, i64],
  blksize: [56, i64],
  blocks: [64, i64],
  atime: [72, Timespec],
  mtime: [88, Timespec],
  ctime: [104, Timespec],
});

/** struct statx_timestamp: unlike a timespec, tv_nsec is a u32 followed by padding. */
export const StatxTimestamp = struct("statx_timestamp", 16, { sec: [0, i64], nsec: [8, u32] });

/** struct statx. */
export const Statx = struct("statx", 256, {
  mask: [0, u32],
  blksize: [4, u32],
  attributes: [8, u64],
  nlink: [16, u32],
  uid: [20, u32],
  gid: [24, u32],
  mode: [28, u16],
  ino: [32, u64],
  size: [40, u64],
  blocks: [48, u64],
  attributesMask: [56, u64],
  atime: [64, StatxTimestamp],
  btime: [80, StatxTimestamp],
  ctime: [96, StatxTimestamp],
  mtime: [112, StatxTimestamp],
  rdevMajor: [128, u32],
  rdevMinor: [132, u32],
  devMajor: [136, u32],
  devMinor: [140, u32],
  mntId: [144, u64],
});

export const STATX_TYPE = 0x1;
export const STATX_MODE = 0x2;
export const STATX_NLINK = 0x4;
export const STATX_UID = 0x8;
export const STATX_GID = 0x10;
export const STATX_ATIME = 0x20;
export const STATX_MTIME = 0x40;
export const STATX_CTIME = 0x80;
export const STATX_INO = 0x100;
export const STATX_SIZE = 0x200;
export const STATX_BLOCKS = 0x400;
/** Every field of struct stat. */
export const STATX_BASIC_STATS = 0x7ff;
export const STATX_BTIME = 0x800;
export const STATX_MNT_ID = 0x1000;
/** A mask bit statx(2) refuses (reserved for a larger struct). */
export const STATX__RESERVED = 0x80000000;

export const AT_STATX_SYNC_TYPE = 0x6000;
export const AT_STATX_DONT_SYNC = 0x4000;

/** struct statfs. */
export const Statfs = struct("statfs", 120, {
  type: [0, u64],
  bsize: [8, u64],
  blocks: [16, u64],
  bfree: [24, u64],
  bavail: [32, u64],
  files: [40, u64],
  ffree: [48, u64],
  fsid: [56, array(i32, 2)],
  namelen: [64, u64],
  frsize: [72, u64],
  flags: [80, u64],
});

/** statfs f_flags (ST_* of statvfs(3)). */
export const ST_RDONLY = 0x1;
export const ST_NOSUID = 0x2;
export const ST_NODEV = 0x4;
export const ST_NOEXEC = 0x8;
export const ST_VALID = 0x20;

/** A device number from its major and minor numbers (the kernel's 32-bit new_encode_dev). */
export function makedev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

/** The major number of a device number (its low 32 bits, as new_decode_dev). */
export function major(dev: number): number {
  return (dev >>> 8) & 0xfff;
}

/** The minor number of a device number. */
export function minor(dev: number): number {
  return (dev & 0xff) | ((dev >>> 12) & 0xfff00);
}
