/**
 * File-system calls on host descriptors, for the Gofer: openat, fstat, fstatfs, readlinkat,
 * getdents64, lseek. Each throws HostError (with the errno) on failure and retries EINTR.
 *
 * Struct layouts are x86-64 Linux (glibc): `struct stat` is 144 bytes, `struct statfs` 120.
 *
 * @module
 */

import { check, cstr, errno, HostError, libc } from "./libc.ts";

const EINTR = 4;

// SAFETY: each symbol is declared with glibc's exact C signature on x86-64 (getdents64 exists
// in glibc since 2.30; this host has 2.36). Pointers are passed as buffers that the caller owns
// for the duration of the call.
const fsLib = Deno.dlopen("libc.so.6", {
  fstatfs: { parameters: ["i32", "buffer"], result: "i32" },
  readlinkat: { parameters: ["i32", "buffer", "buffer", "usize"], result: "isize" },
  getdents64: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
});

export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_ACCMODE = 3;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DIRECT = 0o40000;
export const O_LARGEFILE = 0o100000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_NOATIME = 0o1000000;
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

/** struct stat, decoded. Times are nanoseconds since the epoch. */
export interface HostStat {
  dev: bigint;
  ino: bigint;
  nlink: number;
  mode: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  blksize: number;
  blocks: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** struct statfs, decoded. */
export interface HostStatFS {
  type: bigint;
  blockSize: bigint;
  blocks: bigint;
  blocksFree: bigint;
  blocksAvailable: bigint;
  files: bigint;
  filesFree: bigint;
  nameLength: bigint;
}

function retry(op: string, call: () => number): number {
  for (;;) {
    const r = call();
    if (r !== -1) return r;
    const e = errno();
    if (e !== EINTR) throw new HostError(op, e);
  }
}

/** openat(2); returns the new descriptor. */
export function openAt(dirFd: number, path: string, flags: number, mode = 0): number {
  const p = cstr(path);
  return retry(`openat ${JSON.stringify(path)}`, () => libc.symbols.openat(dirFd, p, flags, mode));
}

function ts(v: DataView, off: number): bigint {
  return v.getBigInt64(off, true) * 1_000_000_000n + v.getBigInt64(off + 8, true);
}

/** fstat(2); works on O_PATH descriptors. */
export function fstat(fd: number): HostStat {
  const buf = new Uint8Array(144);
  check(`fstat fd ${fd}`, libc.symbols.fstat(fd, buf));
  const v = new DataView(buf.buffer);
  return {
    dev: v.getBigUint64(0, true),
    ino: v.getBigUint64(8, true),
    nlink: Number(v.getBigUint64(16, true)),
    mode: v.getUint32(24, true),
    uid: v.getUint32(28, true),
    gid: v.getUint32(32, true),
    rdev: Number(v.getBigUint64(40, true)),
    size: Number(v.getBigInt64(48, true)),
    blksize: Number(v.getBigInt64(56, true)),
    blocks: Number(v.getBigInt64(64, true)),
    atimeNs: ts(v, 72),
    mtimeNs: ts(v, 88),
    ctimeNs: ts(v, 104),
  };
}

/** fstatfs(2); works on O_PATH descriptors. */
export function fstatfs(fd: number): HostStatFS {
  const buf = new Uint8Array(120);
  retry(`fstatfs fd ${fd}`, () => fsLib.symbols.fstatfs(fd, buf));
  const v = new DataView(buf.buffer);
  const u = (off: number) => v.getBigUint64(off, true);
  return {
    type: u(0),
    blockSize: u(8),
    blocks: u(16),
    blocksFree: u(24),
    blocksAvailable: u(32),
    files: u(40),
    filesFree: u(48),
    nameLength: u(64),
  };
}

/**
 * readlinkat(fd, "", ...): the target of the symlink that O_PATH descriptor `fd` refers to.
 * Returns raw bytes (a target need not be UTF-8).
 */
export function readLinkFd(fd: number): Uint8Array<ArrayBuffer> {
  const empty = cstr("");
  // PATH_MAX (4096) bounds a symlink target on Linux.
  const buf = new Uint8Array(4096);
  const n = retry(
    `readlinkat fd ${fd}`,
    () => Number(fsLib.symbols.readlinkat(fd, empty, buf, BigInt(buf.length))),
  );
  return buf.slice(0, n);
}

/** getdents64(2) into `buf`; returns the bytes filled (0 at the end of the directory). */
export function getdents64(fd: number, buf: Uint8Array<ArrayBuffer>): number {
  return retry(
    `getdents64 fd ${fd}`,
    () => Number(fsLib.symbols.getdents64(fd, buf, BigInt(buf.length))),
  );
}

/** lseek(2); returns the new offset. */
export function lseek(fd: number, offset: bigint, whence: number): bigint {
  for (;;) {
    const r = fsLib.symbols.lseek(fd, offset, whence) as bigint;
    if (r !== -1n) return r;
    const e = errno();
    if (e !== EINTR) throw new HostError(`lseek fd ${fd}`, e);
  }
}
