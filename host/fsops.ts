/**
 * File-system calls on host descriptors, for the Gofer: openat, fstat, fstatfs, readlinkat,
 * getdents64, lseek, and the *at calls that create, link, rename and remove names, change
 * attributes, and read and write extended attributes. Each throws HostError (with the errno)
 * on failure and retries EINTR. None of them follows a symlink in the last component unless the
 * caller passes a flag that says so.
 *
 * Struct layouts are x86-64 Linux (glibc): `struct stat` is 144 bytes, `struct statfs` 120.
 *
 * @module
 */

import { Errno } from "../abi/linux/errno.ts";
import { check, cstr, dlopenLazy, errno, HostError, libc, rawSyscall } from "./libc.ts";
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_SYMLINK_FOLLOW,
  AT_SYMLINK_NOFOLLOW,
  LOCK_NB,
  OpenHow,
} from "../abi/linux/file.ts";
import { SYS } from "../abi/linux/syscalls.ts";
import { decodeBytes } from "./utf8b.ts";
export {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_REMOVEDIR,
  AT_SYMLINK_FOLLOW,
  AT_SYMLINK_NOFOLLOW,
  O_ACCMODE,
  O_APPEND,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECT,
  O_DIRECTORY,
  O_EXCL,
  O_LARGEFILE,
  O_NOATIME,
  O_NOCTTY,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_PATH,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  RENAME_WHITEOUT,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  UTIME_NOW,
  UTIME_OMIT,
} from "../abi/linux/file.ts";
import { Stat, Statfs } from "../abi/linux/stat.ts";
import { nsFromTimespec } from "../abi/linux/time.ts";

// SAFETY: each symbol is declared with glibc's exact C signature on x86-64 (getdents64 exists
// in glibc since 2.30; this host has 2.36). Pointers are passed as buffers that the caller owns
// for the duration of the call.
const fsLib = dlopenLazy("libc.so.6", {
  fstatfs: { parameters: ["i32", "buffer"], result: "i32" },
  readlinkat: { parameters: ["i32", "buffer", "buffer", "usize"], result: "isize" },
  getdents64: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  mkdirat: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  mknodat: { parameters: ["i32", "buffer", "u32", "u64"], result: "i32" },
  symlinkat: { parameters: ["buffer", "i32", "buffer"], result: "i32" },
  linkat: { parameters: ["i32", "buffer", "i32", "buffer", "i32"], result: "i32" },
  unlinkat: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  renameat2: { parameters: ["i32", "buffer", "i32", "buffer", "u32"], result: "i32" },
  fchownat: { parameters: ["i32", "buffer", "u32", "u32", "i32"], result: "i32" },
  fchmod: { parameters: ["i32", "u32"], result: "i32" },
  fchmodat: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  umask: { parameters: ["u32"], result: "u32" },
  utimensat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  fallocate: { parameters: ["i32", "i32", "i64", "i64"], result: "i32" },
  fsync: { parameters: ["i32"], result: "i32" },
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  fgetxattr: { parameters: ["i32", "buffer", "buffer", "usize"], result: "isize" },
  fsetxattr: { parameters: ["i32", "buffer", "buffer", "usize", "i32"], result: "i32" },
  flistxattr: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  fremovexattr: { parameters: ["i32", "buffer"], result: "i32" },
  getxattr: { parameters: ["buffer", "buffer", "buffer", "usize"], result: "isize" },
  setxattr: { parameters: ["buffer", "buffer", "buffer", "usize", "i32"], result: "i32" },
  listxattr: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
  removexattr: { parameters: ["buffer", "buffer"], result: "i32" },
});

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
    if (e !== Errno.EINTR) throw new HostError(op, e);
  }
}

/** openat(2); returns the new descriptor. */
export function openAt(dirFd: number, path: string, flags: number, mode = 0): number {
  const p = cstr(path);
  return retry(`openat ${JSON.stringify(path)}`, () => libc.symbols.openat(dirFd, p, flags, mode));
}

/**
 * openat2(2) with `resolve` (RESOLVE_* flags): with RESOLVE_IN_ROOT, `path` resolves as if
 * `dirFd` were the root, absolute symbolic links included; returns the new descriptor.
 */
export function openAt2(dirFd: number, path: string, flags: number, resolve: number): number {
  const p = cstr(path);
  const how = OpenHow.encode({ flags: BigInt(flags), resolve: BigInt(resolve) });
  const ptr = (b: Uint8Array<ArrayBuffer>) =>
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));
  for (;;) {
    const r = rawSyscall(SYS.openat2, BigInt(dirFd), ptr(p), ptr(how), BigInt(OpenHow.size));
    if (r >= 0n) return Number(r);
    if (Number(-r) !== Errno.EINTR) {
      throw new HostError(`openat2 ${JSON.stringify(path)}`, Number(-r));
    }
  }
}

/**
 * flock(2) of `fd` with `op` (LOCK_EX, LOCK_UN...) without waiting: false when another open
 * file holds a conflicting lock.
 */
export function tryFlock(fd: number, op: number): boolean {
  for (;;) {
    const r = rawSyscall(SYS.flock, BigInt(fd), BigInt(op | LOCK_NB));
    if (r === 0n) return true;
    if (Number(-r) === Errno.EAGAIN) return false; // EWOULDBLOCK
    if (Number(-r) !== Errno.EINTR) throw new HostError(`flock fd ${fd}`, Number(-r));
  }
}

/**
 * fstat's buffer and the offsets of struct stat's fields, made once: the Gofer stats a file
 * or two for every message, and a fresh buffer decoded field by field through the generic
 * Struct cost ten times the system call (5 us against 0.3 us).
 */
const statBuf = new Uint8Array(new ArrayBuffer(Stat.size));
const statView = new DataView(statBuf.buffer);
/** statBuf's address (an ArrayBuffer's store lives outside V8's heap and never moves). */
let statAddr = 0n;
const ST = {
  dev: Stat.offsetOf("dev"),
  ino: Stat.offsetOf("ino"),
  nlink: Stat.offsetOf("nlink"),
  mode: Stat.offsetOf("mode"),
  uid: Stat.offsetOf("uid"),
  gid: Stat.offsetOf("gid"),
  rdev: Stat.offsetOf("rdev"),
  size: Stat.offsetOf("size"),
  blksize: Stat.offsetOf("blksize"),
  blocks: Stat.offsetOf("blocks"),
  atime: Stat.offsetOf("atime"),
  mtime: Stat.offsetOf("mtime"),
  ctime: Stat.offsetOf("ctime"),
};

/** A struct timespec at `off` of the stat buffer, in nanoseconds. */
function statNs(off: number): bigint {
  return nsFromTimespec({
    sec: statView.getBigInt64(off, true),
    nsec: statView.getBigInt64(off + 8, true),
  });
}

/** fstat(2); works on O_PATH descriptors. */
export function fstat(fd: number): HostStat {
  check(`fstat fd ${fd}`, libc.symbols.fstat(fd, statBuf));
  return decodeStat();
}

/**
 * fstatat(2) of `name` in directory `dirFd` with `flags` (AT_SYMLINK_NOFOLLOW to stat a
 * symbolic link itself): the attributes of one name without opening it.
 */
export function fstatAt(dirFd: number, name: string, flags: number): HostStat {
  const p = cstr(name);
  statAddr ||= BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(statBuf)));
  // SAFETY: `p` is held until the synchronous call returns; statBuf lives as long as the module.
  const pathAddr = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(p)));
  for (;;) {
    const r = rawSyscall(SYS.newfstatat, BigInt(dirFd), pathAddr, statAddr, BigInt(flags));
    if (r >= 0n) {
      void p;
      return decodeStat();
    }
    if (Number(-r) !== Errno.EINTR) {
      throw new HostError(`fstatat ${JSON.stringify(name)}`, Number(-r));
    }
  }
}

/** The struct stat the last fstat or fstatAt left in statBuf. */
function decodeStat(): HostStat {
  const v = statView;
  return {
    dev: v.getBigUint64(ST.dev, true),
    ino: v.getBigUint64(ST.ino, true),
    nlink: Number(v.getBigUint64(ST.nlink, true)),
    mode: v.getUint32(ST.mode, true),
    uid: v.getUint32(ST.uid, true),
    gid: v.getUint32(ST.gid, true),
    rdev: Number(v.getBigUint64(ST.rdev, true)),
    size: Number(v.getBigInt64(ST.size, true)),
    blksize: Number(v.getBigInt64(ST.blksize, true)),
    blocks: Number(v.getBigInt64(ST.blocks, true)),
    atimeNs: statNs(ST.atime),
    mtimeNs: statNs(ST.mtime),
    ctimeNs: statNs(ST.ctime),
  };
}

/** fstatfs(2); works on O_PATH descriptors. */
export function fstatfs(fd: number): HostStatFS {
  const buf = new Uint8Array(Statfs.size);
  retry(`fstatfs fd ${fd}`, () => fsLib.symbols.fstatfs(fd, buf));
  const s = Statfs.decode(buf);
  return {
    type: s.type,
    blockSize: s.bsize,
    blocks: s.blocks,
    blocksFree: s.bfree,
    blocksAvailable: s.bavail,
    files: s.files,
    filesFree: s.ffree,
    nameLength: s.namelen,
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
    if (e !== Errno.EINTR) throw new HostError(`lseek fd ${fd}`, e);
  }
}

/**
 * lseek(2) that reports failure as -errno instead of throwing, for SEEK_DATA and SEEK_HOLE
 * walks where ENXIO (no data past the offset) is the usual way such a walk ends.
 */
export function seek(fd: number, offset: bigint, whence: number): bigint {
  const r = fsLib.symbols.lseek(fd, offset, whence) as bigint;
  return r === -1n ? -BigInt(errno()) : r;
}

const fs = fsLib.symbols;
const big = (n: number | bigint) => BigInt(n);

/** mkdirat(2). */
export function mkdirAt(dirFd: number, name: string, mode: number): void {
  const p = cstr(name);
  retry(`mkdirat ${JSON.stringify(name)}`, () => fs.mkdirat(dirFd, p, mode));
}

/** mknodat(2); `dev` is the kernel's encoded device number. */
export function mknodAt(dirFd: number, name: string, mode: number, dev: bigint): void {
  const p = cstr(name);
  retry(`mknodat ${JSON.stringify(name)}`, () => fs.mknodat(dirFd, p, mode, dev));
}

/** The kernel's device number of (major, minor), as makedev(3) builds it. */
export function makedev(major: number, minor: number): bigint {
  const ma = big(major >>> 0), mi = big(minor >>> 0);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) |
    (mi & 0xffn);
}

/** symlinkat(2): creates `name` in `dirFd` pointing at `target` (never resolved here). */
export function symlinkAt(target: string, dirFd: number, name: string): void {
  const t = cstr(target), p = cstr(name);
  retry(`symlinkat ${JSON.stringify(name)}`, () => fs.symlinkat(t, dirFd, p));
}

/**
 * linkat(2) of the inode O_PATH descriptor `fd` holds as `name` in `dirFd`. AT_EMPTY_PATH needs
 * CAP_DAC_READ_SEARCH (ENOENT without it); then the inode is named through `/proc/self/fd/N`,
 * whose magic link leads to that inode and nowhere else.
 */
export function linkFdAt(fd: number, dirFd: number, name: string): void {
  const empty = cstr(""), p = cstr(name);
  const op = `linkat ${JSON.stringify(name)}`;
  try {
    retry(op, () => fs.linkat(fd, empty, dirFd, p, AT_EMPTY_PATH));
  } catch (e) {
    if (!(e instanceof HostError) || e.errno !== 2 /* ENOENT */) throw e;
    const proc = cstr(`/proc/self/fd/${fd}`);
    retry(op, () => fs.linkat(AT_FDCWD, proc, dirFd, p, AT_SYMLINK_FOLLOW));
  }
}

/** unlinkat(2); `flags` may hold AT_REMOVEDIR. */
export function unlinkAt(dirFd: number, name: string, flags: number): void {
  const p = cstr(name);
  retry(`unlinkat ${JSON.stringify(name)}`, () => fs.unlinkat(dirFd, p, flags));
}

/** renameat2(2); `flags` may hold RENAME_NOREPLACE, RENAME_EXCHANGE or RENAME_WHITEOUT. */
export function renameAt2(
  oldDir: number,
  oldName: string,
  newDir: number,
  newName: string,
  flags: number,
): void {
  const o = cstr(oldName), n = cstr(newName);
  retry(
    `renameat2 ${JSON.stringify(oldName)} -> ${JSON.stringify(newName)}`,
    () => fs.renameat2(oldDir, o, newDir, n, flags),
  );
}

/**
 * fchownat(fd, "", uid, gid, AT_EMPTY_PATH): changes the owner of the inode descriptor `fd`
 * holds (O_PATH descriptors included, symlinks themselves). -1 leaves an id unchanged.
 */
export function fchownFd(fd: number, uid: number, gid: number): void {
  const empty = cstr("");
  retry(
    `fchownat fd ${fd}`,
    () => fs.fchownat(fd, empty, uid >>> 0, gid >>> 0, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW),
  );
}

/** fchmod(2) on an opened (not O_PATH) descriptor. */
export function fchmod(fd: number, mode: number): void {
  retry(`fchmod fd ${fd}`, () => fs.fchmod(fd, mode));
}

/**
 * chmod of the inode O_PATH descriptor `fd` holds, through `/proc/self/fd/N` (fchmod refuses
 * O_PATH descriptors). The caller must not pass a symlink's descriptor.
 */
export function chmodFd(fd: number, mode: number): void {
  const p = cstr(`/proc/self/fd/${fd}`);
  retry(`fchmodat fd ${fd}`, () => fs.fchmodat(AT_FDCWD, p, mode, 0));
}

/** umask(2); returns the previous mask. */
export function umask(mask: number): number {
  return fs.umask(mask);
}

/** A utimensat time: nanoseconds since the epoch, or UTIME_NOW / UTIME_OMIT. */
export type TimeSpec = { sec: bigint; nsec: bigint };

/**
 * utimensat(fd, "", times, AT_EMPTY_PATH): sets the access and modification times of the
 * inode `fd` holds (O_PATH descriptors included).
 */
export function utimensFd(fd: number, atime: TimeSpec, mtime: TimeSpec): void {
  const t = new BigInt64Array([atime.sec, atime.nsec, mtime.sec, mtime.nsec]);
  const empty = cstr("");
  retry(
    `utimensat fd ${fd}`,
    () => fs.utimensat(fd, empty, new Uint8Array(t.buffer), AT_EMPTY_PATH),
  );
}

/** ftruncate(2). */
export function ftruncate(fd: number, size: bigint): void {
  retry(`ftruncate fd ${fd}`, () => fs.ftruncate(fd, size));
}

/** fallocate(2). */
export function fallocate(fd: number, mode: number, offset: bigint, length: bigint): void {
  // The mode is the kernel's int: a u32 with the top bit set is passed as the same bits.
  retry(`fallocate fd ${fd}`, () => fs.fallocate(fd, mode | 0, offset, length));
}

/** fsync(2). */
export function fsync(fd: number): void {
  retry(`fsync fd ${fd}`, () => fs.fsync(fd));
}

/**
 * pread(2) into `buf` at `offset` (a bigint: file offsets go past what a number holds exactly);
 * returns the bytes read (possibly fewer, 0 at the end of the file).
 */
export function pread(fd: number, buf: Uint8Array<ArrayBuffer>, offset: bigint): number {
  return retry(`pread fd ${fd}`, () => Number(fs.pread(fd, buf, big(buf.length), offset)));
}

/** pwrite(2) of `data` at `offset`; returns the bytes written (possibly fewer). */
export function pwrite(fd: number, data: Uint8Array<ArrayBuffer>, offset: bigint): number {
  return retry(
    `pwrite fd ${fd}`,
    () => Number(fs.pwrite(fd, data, big(data.length), offset)),
  );
}

/**
 * Extended attributes of the inode held by descriptor `fd`. An O_PATH descriptor cannot be
 * used with f*xattr, so those go through `/proc/self/fd/N`: following that magic link lands on
 * exactly the inode the descriptor holds (a symlink's own inode included: the kernel does not
 * follow the place a magic link jumps to).
 */
export class Xattr {
  #fd: number;
  #path: Uint8Array<ArrayBuffer> | null;
  /** @param opath whether `fd` is an O_PATH descriptor. */
  constructor(fd: number, opath: boolean) {
    this.#fd = fd;
    this.#path = opath ? cstr(`/proc/self/fd/${fd}`) : null;
  }

  /** getxattr: the value of `name`, at most `size` bytes (0: ask for the size only). */
  get(name: string, size: number): Uint8Array<ArrayBuffer> {
    const n = cstr(name);
    const buf = new Uint8Array(size);
    const len = retry(`getxattr ${JSON.stringify(name)}`, () =>
      Number(
        this.#path
          ? fs.getxattr(this.#path, n, buf, big(size))
          : fs.fgetxattr(this.#fd, n, buf, big(size)),
      ));
    return size === 0 ? new Uint8Array(len) : buf.slice(0, len);
  }

  /** setxattr with `flags` XATTR_CREATE (1) or XATTR_REPLACE (2). */
  set(name: string, value: Uint8Array<ArrayBuffer>, flags: number): void {
    const n = cstr(name);
    retry(
      `setxattr ${JSON.stringify(name)}`,
      () =>
        this.#path
          ? fs.setxattr(this.#path, n, value, big(value.length), flags)
          : fs.fsetxattr(this.#fd, n, value, big(value.length), flags),
    );
  }

  /** listxattr: the names, or ERANGE when they take more than `size` bytes. */
  list(size: number): string[] {
    const buf = new Uint8Array(size);
    const len = retry(`listxattr fd ${this.#fd}`, () =>
      Number(
        this.#path
          ? fs.listxattr(this.#path, buf, big(size))
          : fs.flistxattr(this.#fd, buf, big(size)),
      ));
    const text = decodeBytes(buf.subarray(0, len));
    return text.split("\0").filter((s) => s !== "");
  }

  /** removexattr. */
  remove(name: string): void {
    const n = cstr(name);
    retry(
      `removexattr ${JSON.stringify(name)}`,
      () => this.#path ? fs.removexattr(this.#path, n) : fs.fremovexattr(this.#fd, n),
    );
  }
}
