/**
 * File descriptions (Linux's struct file): what an FD refers to. Each kind of file implements
 * FileDescription; the FD table shares one description among dup'd and inherited descriptors,
 * so the offset and status flags are shared as on Linux.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import type { IoSequence } from "../mm/io.ts";
import type { MemoryFile } from "../mm/memory_file.ts";
import type { Mappable, MMapOpts } from "../mm/mmap_opts.ts";
import { PROT_WRITE } from "../../platform/platform.ts";
import { SysError } from "../../abi/linux/error.ts";
import { type Attr, type DirEntry, direntType, type Inode, nowNs, S_IFDIR } from "./inode.ts";
import { parentOf, type VirtualDentry } from "./vfs.ts";
import { IN_ACCESS, IN_MODIFY, notifyVd } from "./inotify.ts";
import { WaitQueue } from "./waiter.ts";
import {
  O_ACCMODE,
  O_APPEND,
  O_ASYNC,
  O_DIRECT,
  O_NOATIME,
  O_NONBLOCK,
  O_PATH,
  O_RDWR,
  O_WRONLY,
} from "../../abi/linux/file.ts";
export {
  O_ACCMODE,
  O_APPEND,
  O_ASYNC,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECT,
  O_DIRECTORY,
  O_DSYNC,
  O_EXCL,
  O_LARGEFILE,
  O_NOATIME,
  O_NOCTTY,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_PATH,
  O_RDONLY,
  O_RDWR,
  O_SYNC,
  O_TMPFILE,
  O_TRUNC,
  O_WRONLY,
} from "../../abi/linux/file.ts";

/** Result of an operation that may have to wait (for input, for a peer). */
export type MaybeAsync<T> = T | Promise<T>;

/** Status flags that F_SETFL may change. */
export const SETFL_MASK = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;

export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;
export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;

export const POLLIN = 0x1;
export const POLLPRI = 0x2;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;
export const POLLRDNORM = 0x40;
export const POLLRDBAND = 0x80;
export const POLLWRNORM = 0x100;
export const POLLWRBAND = 0x200;
export const POLLRDHUP = 0x2000;

/**
 * Takes entries of a directory listing, from index `from` of `list` on, until one does not fit,
 * and returns the index after the last one taken. Entry i's offset (the d_off that seekdir and
 * lseek accept, naming the entry after it) is base + i + 1. The list is never changed once
 * handed out, so a sink may keep what it derives from it (the records it packed).
 */
export type DirentSink = (list: readonly DirEntry[], from: number, base: number) => number;

export type { Mappable };

export interface FileDescription {
  /** File status flags and the access mode (O_RDWR, O_APPEND, O_NONBLOCK...). */
  flags: number;
  /** How the file was reached, for files opened by path (fchdir, /proc/self/fd, *at calls). */
  readonly vd?: VirtualDentry;
  /** Reads into dst at the file offset, or at `offset` (pread); returns bytes read. */
  read(t: Task, dst: Uint8Array<ArrayBuffer>, offset?: bigint): MaybeAsync<number>;
  /** Writes src at the file offset, or at `offset` (pwrite); returns bytes written. */
  write(t: Task, src: Uint8Array<ArrayBuffer>, offset?: bigint): MaybeAsync<number>;
  /**
   * Like read, into application memory (or any IoSequence) without a Sentry buffer between:
   * read(2) and readv(2) use it where a file has it. Returns fewer bytes than dst holds when
   * a fault stopped the copy, or throws EFAULT when the fault came first; bytes not delivered
   * are not consumed.
   */
  readTo?(t: Task, dst: IoSequence, offset?: bigint): MaybeAsync<number>;
  /** Like write, from application memory (or any IoSequence); faults as for readTo. */
  writeFrom?(t: Task, src: IoSequence, offset?: bigint): MaybeAsync<number>;
  /** lseek(2); returns the new offset. */
  seek(t: Task, offset: bigint, whence: number): bigint;
  /** Attributes for fstat. */
  stat(t: Task): Attr;
  /** ioctl(2); returns the result. Throws SysError (ENOTTY by default). */
  ioctl(t: Task, request: number, arg: bigint): MaybeAsync<number>;
  /**
   * Hands sink the entries from the directory position on and moves the position past those
   * it took. ENOTDIR for other files.
   */
  iterDirents(t: Task, sink: DirentSink): void;
  /** Which of mask's poll events are ready now. */
  readiness(mask: number): number;
  /** Notified when readiness may have changed. */
  readonly queue: WaitQueue;
  /**
   * For files whose O_ASYNC signals follow their operations rather than changes of readiness
   * (pipes: Linux signals on every read and write call): subscribes `signal` to those events,
   * each given as the poll band it reports (POLLIN or POLLOUT); returns what unsubscribes.
   */
  subscribeAsync?(signal: (band: number) => void): () => void;
  /**
   * Prepares a mapping of the file (mmap(2)): checks the access opts ask for against the
   * description, bounds opts.maxPerms, and sets opts.mappable. Throws SysError: EACCES for an
   * access the description does not allow, ENODEV for a file that cannot be mapped (also when
   * absent).
   */
  configureMMap?(t: Task, opts: MMapOpts): void;
  /**
   * For files without a path (pipes, host descriptors): an inode whose open makes a new
   * description of the same object, for opening /proc/self/fd/N.
   */
  reopenInode?(): Inode | null;
  /** Called when the last descriptor referring to it is closed. */
  release(): void;
}

/** Defaults for every kind of file: what Linux answers for unsupported operations. */
export abstract class FileDescriptionBase implements FileDescription {
  flags: number;
  #queue?: WaitQueue;

  constructor(flags: number, readonly vd?: VirtualDentry) {
    this.flags = flags;
  }

  get queue(): WaitQueue {
    return this.#queue ??= new WaitQueue();
  }

  /** Whether the access mode allows reading. */
  get readable(): boolean {
    return (this.flags & O_ACCMODE) !== O_WRONLY && !(this.flags & O_PATH);
  }
  get writable(): boolean {
    const m = this.flags & O_ACCMODE;
    return (m === O_WRONLY || m === O_RDWR) && !(this.flags & O_PATH);
  }

  read(_t: Task, _dst: Uint8Array<ArrayBuffer>, _offset?: bigint): MaybeAsync<number> {
    throw new SysError(Errno.EINVAL);
  }
  write(_t: Task, _src: Uint8Array<ArrayBuffer>, _offset?: bigint): MaybeAsync<number> {
    throw new SysError(Errno.EINVAL);
  }
  seek(_t: Task, _offset: bigint, _whence: number): bigint {
    throw new SysError(Errno.ESPIPE);
  }
  abstract stat(t: Task): Attr;
  ioctl(_t: Task, _request: number, _arg: bigint): MaybeAsync<number> {
    throw new SysError(Errno.ENOTTY);
  }
  iterDirents(_t: Task, _sink: DirentSink): void {
    throw new SysError(Errno.ENOTDIR);
  }
  readiness(mask: number): number {
    return mask & (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM);
  }
  release(): void {}
}

/** Applies lseek's rules to a seekable file of `size` bytes at `cur`. */
export function seekOffset(cur: bigint, size: bigint, offset: bigint, whence: number): bigint {
  let n: bigint;
  switch (whence) {
    case SEEK_SET:
      n = offset;
      break;
    case SEEK_CUR:
      n = cur + offset;
      break;
    case SEEK_END:
      n = size + offset;
      break;
    case SEEK_DATA:
      if (offset < 0n || offset >= size) throw new SysError(Errno.ENXIO);
      n = offset;
      break;
    case SEEK_HOLE:
      if (offset < 0n || offset >= size) throw new SysError(Errno.ENXIO);
      n = size;
      break;
    default:
      throw new SysError(Errno.EINVAL);
  }
  if (n < 0n) throw new SysError(Errno.EINVAL);
  return n;
}

/** The data operations a regular file's inode offers RegularFile. */
export interface RegularData {
  readAt(off: bigint, dst: Uint8Array<ArrayBuffer>): number;
  writeAt(off: bigint, src: Uint8Array<ArrayBuffer>): number;
  size(): bigint;
  /** The file's pages for mmap (mappings of pages of `mf`), or null when it has none. */
  mappable?(mf: MemoryFile): Mappable | null;
}

/** The largest file offset (Linux's MAX_LFS_FILESIZE). */
const MAX_FILE_OFFSET = 0x7fff_ffff_ffff_ffffn;

/**
 * The checks every mappable file makes (gVisor's GenericConfigureMMap): the mapping must lie
 * within the largest file there can be (EOVERFLOW); the file must be open
 * for reading; a shared mapping may be writable, now or after mprotect, only when the file is
 * open for writing too. Then opts maps m.
 */
export function genericConfigureMMap(flags: number, opts: MMapOpts, m: Mappable): void {
  // No byte of the mapping may lie past the largest offset a file can have.
  if (opts.length > MAX_FILE_OFFSET || opts.offset > MAX_FILE_OFFSET - opts.length) {
    throw new SysError(Errno.EOVERFLOW);
  }
  const acc = flags & O_ACCMODE;
  if (acc === O_WRONLY || (flags & O_PATH)) throw new SysError(Errno.EACCES);
  if (!opts.private && acc !== O_RDWR) {
    if (opts.perms & PROT_WRITE) throw new SysError(Errno.EACCES);
    opts.maxPerms &= ~PROT_WRITE;
  }
  opts.mappable = m;
}

/** An open regular file (or any inode with positional data): offset, O_APPEND, pread. */
export class RegularFile extends FileDescriptionBase {
  offset = 0n;

  constructor(
    readonly inode: Inode,
    readonly data: RegularData,
    vd: VirtualDentry,
    flags: number,
  ) {
    super(flags, vd);
  }

  override read(_t: Task, dst: Uint8Array<ArrayBuffer>, offset?: bigint): number {
    if (!this.readable) throw new SysError(Errno.EBADF);
    const at = offset ?? this.offset;
    // A read whose end would lie past the largest file offset is refused, as Linux does.
    if (at + BigInt(dst.length) > MAX_FILE_OFFSET) throw new SysError(Errno.EINVAL);
    const n = this.data.readAt(at, dst);
    if (offset === undefined) this.offset += BigInt(n);
    if (n > 0) notifyVd(this.vd, IN_ACCESS);
    return n;
  }

  override write(_t: Task, src: Uint8Array<ArrayBuffer>, offset?: bigint): number {
    if (!this.writable) throw new SysError(Errno.EBADF);
    if (this.inode.fs.readonly) throw new SysError(Errno.EROFS);
    // O_APPEND writes go to the end even for pwrite, as on Linux.
    const append = (this.flags & O_APPEND) !== 0;
    const at = append ? this.data.size() : offset ?? this.offset;
    if (at + BigInt(src.length) > MAX_FILE_OFFSET) throw new SysError(Errno.EFBIG);
    const n = this.data.writeAt(at, src);
    if (offset === undefined || append) {
      if (offset === undefined) this.offset = at + BigInt(n);
    }
    if (n > 0) {
      this.inode.mtimeNs = this.inode.ctimeNs = nowNs();
      notifyVd(this.vd, IN_MODIFY);
    }
    return n;
  }

  override seek(_t: Task, offset: bigint, whence: number): bigint {
    this.offset = seekOffset(this.offset, this.data.size(), offset, whence);
    return this.offset;
  }

  stat(_t: Task): Attr {
    return this.inode.stat();
  }

  /** Implements FileDescription.configureMMap for files whose data offers pages. */
  configureMMap(t: Task, opts: MMapOpts): void {
    const m = this.data.mappable?.(t.mm.mf) ?? null;
    if (!m) throw new SysError(Errno.ENODEV);
    genericConfigureMMap(this.flags, opts, m);
  }
}

/**
 * An open directory: getdents over a snapshot of the entries taken at offset 0. Entry i of the
 * snapshot (. and .. first) has offset i, so d_off is i + 1 and a seek is an index.
 */
export class DirectoryFile extends FileDescriptionBase {
  /** . and .. of the snapshot. */
  #dots: DirEntry[] = [];
  /**
   * The inode's entries when the snapshot was taken: the inode may share this array with other
   * listings (a cached one), so it is only read.
   */
  #entries: readonly DirEntry[] | null = null;
  #pos = 0n;

  constructor(readonly inode: Inode, vd: VirtualDentry, flags: number) {
    super(flags, vd);
  }

  override read(): number {
    throw new SysError(Errno.EISDIR);
  }
  override write(): number {
    throw new SysError(Errno.EBADF);
  }

  override iterDirents(_t: Task, sink: DirentSink): void {
    if (this.flags & O_PATH) throw new SysError(Errno.EBADF);
    if (this.#entries === null || this.#pos === 0n) {
      const parent = parentOf(this.vd!);
      this.#dots = [
        { name: ".", ino: this.inode.ino, type: direntType(S_IFDIR) },
        { name: "..", ino: parent.dentry.inode.ino, type: direntType(S_IFDIR) },
      ];
      this.#entries = this.inode.entries();
    }
    this.inode.atimeNs = nowNs();
    // Positions past the end (a seek may go anywhere) list nothing and stay where they are.
    if (this.#pos >= BigInt(this.#entries.length + 2)) return;
    let i = Number(this.#pos);
    if (i < 2) i = sink(this.#dots, i, 0);
    if (i >= 2) i = 2 + sink(this.#entries, i - 2, 2);
    this.#pos = BigInt(i);
  }

  override seek(_t: Task, offset: bigint, whence: number): bigint {
    if (whence === SEEK_SET && offset >= 0n) this.#pos = offset;
    else if (whence === SEEK_CUR && this.#pos + offset >= 0n) this.#pos += offset;
    else throw new SysError(Errno.EINVAL);
    if (this.#pos === 0n) this.#entries = null;
    return this.#pos;
  }

  stat(_t: Task): Attr {
    return this.inode.stat();
  }
}

/** An O_PATH descriptor: only names a file. */
export class PathFile extends FileDescriptionBase {
  constructor(readonly inode: Inode, vd: VirtualDentry, flags: number) {
    super(flags, vd);
  }
  override read(): number {
    throw new SysError(Errno.EBADF);
  }
  override write(): number {
    throw new SysError(Errno.EBADF);
  }
  override seek(): bigint {
    throw new SysError(Errno.EBADF);
  }
  override ioctl(): number {
    throw new SysError(Errno.EBADF);
  }
  override iterDirents(): void {
    throw new SysError(Errno.EBADF);
  }
  stat(_t: Task): Attr {
    return this.inode.stat();
  }
}
