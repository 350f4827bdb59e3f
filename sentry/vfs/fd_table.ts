/**
 * A file descriptor table (Linux's files_struct): descriptor numbers to file descriptions,
 * with the close-on-exec flag per descriptor. Descriptions are shared, not copied, by dup and
 * fork, so offsets and status flags are shared as on Linux.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { FileDescription } from "./file.ts";
import { IN_CLOSE_NOWRITE, IN_CLOSE_WRITE, notifyVd } from "./inotify.ts";
import { releaseLocks } from "./lock.ts";
import { releaseAsync } from "./fasync.ts";
import { chargeKernel, unchargeKernel } from "../mm/memory_file.ts";

interface Entry {
  file: FileDescription;
  cloexec: boolean;
}

/** Counts how many descriptors (in any table) refer to each description. */
const refs = new WeakMap<FileDescription, number>();

/** Takes a reference on file (for holders other than FD tables: SCM_RIGHTS in flight, epoll). */
export function incRef(file: FileDescription): void {
  refs.set(file, (refs.get(file) ?? 0) + 1);
}

/** How many references (descriptors and holders) file has. */
export function refCount(file: FileDescription): number {
  return refs.get(file) ?? 0;
}

/** Drops a reference taken with incRef; the last one releases the description. */
export function decRef(file: FileDescription): void {
  const n = (refs.get(file) ?? 1) - 1;
  refs.set(file, n);
  if (n === 0) {
    if (charged.delete(file)) unchargeKernel(FILE_COST);
    // OFD and flock locks belong to the description.
    releaseLocks(file);
    releaseAsync(file);
    if (file.vd) {
      const acc = file.flags & 3;
      notifyVd(file.vd, acc === 1 || acc === 2 ? IN_CLOSE_WRITE : IN_CLOSE_NOWRITE);
    }
    file.release();
  }
}

/** What one descriptor slot costs the Sentry, about (its entry), charged per table. */
const FD_COST = 64;
/** What one open file description costs, about, charged once however many refer to it. */
const FILE_COST = 256;
/** Descriptions whose FILE_COST is charged (given back when the last reference goes). */
const charged = new WeakSet<FileDescription>();

export class FdTable {
  #fds: (Entry | undefined)[] = [];
  /** RLIMIT_NOFILE: descriptors must be below this. */
  limit = 1024 * 1024;
  /** No descriptor below this is free (Linux's next_fd): install does not rescan them. */
  #nextFree = 0;
  /** Called after a descriptor goes away (epoll drops its watches, locks are released). */
  onClose?: (fd: number, file: FileDescription) => void;

  /** The description behind fd; throws EBADF. */
  get(fd: number): FileDescription {
    const e = fd >= 0 ? this.#fds[fd] : undefined;
    if (!e) throw new SysError(Errno.EBADF);
    return e.file;
  }

  /** The description behind fd, or undefined. */
  peek(fd: number): FileDescription | undefined {
    return fd >= 0 ? this.#fds[fd]?.file : undefined;
  }

  /** The close-on-exec flag of fd; throws EBADF. */
  getCloexec(fd: number): boolean {
    const e = fd >= 0 ? this.#fds[fd] : undefined;
    if (!e) throw new SysError(Errno.EBADF);
    return e.cloexec;
  }

  /** Sets the close-on-exec flag of fd; throws EBADF. */
  setCloexec(fd: number, cloexec: boolean): void {
    const e = fd >= 0 ? this.#fds[fd] : undefined;
    if (!e) throw new SysError(Errno.EBADF);
    e.cloexec = cloexec;
  }

  /** Installs file at the lowest free descriptor >= min; returns it. Throws EMFILE. */
  install(file: FileDescription, cloexec = false, min = 0): number {
    // Scanning from 0 each time made filling a large table quadratic (an FD bomb under a
    // raised RLIMIT_NOFILE held the Sentry for minutes).
    let fd = Math.max(min, this.#nextFree);
    while (this.#fds[fd]) fd++;
    if (min <= this.#nextFree) this.#nextFree = fd;
    if (fd >= this.limit) throw new SysError(Errno.EMFILE);
    this.set(fd, file, cloexec);
    return fd;
  }

  /**
   * Throws EMFILE when install(_, _, min) would: for calls that, as Linux, make sure of a
   * descriptor before they take what it is for (accept4 leaves the connection queued).
   */
  checkFree(min = 0): void {
    let fd = Math.max(min, this.#nextFree);
    while (this.#fds[fd]) fd++;
    if (min <= this.#nextFree) this.#nextFree = fd;
    if (fd >= this.limit) throw new SysError(Errno.EMFILE);
  }

  /** Puts file at fd, closing what was there. Throws EBADF beyond the limit. */
  set(fd: number, file: FileDescription, cloexec = false): void {
    if (fd < 0 || fd >= this.limit) throw new SysError(Errno.EBADF);
    this.#put(fd, file, cloexec);
  }

  /** Puts file at fd whatever the limit (a copy keeps descriptors the limit was lowered under). */
  #put(fd: number, file: FileDescription, cloexec: boolean): void {
    const old = this.#fds[fd];
    // Descriptors and descriptions hold Sentry memory the application chose to grow:
    // charged to the container, as Linux charges its fd arrays and struct file.
    const first = !charged.has(file) && refCount(file) === 0;
    const cost = (old ? 0 : FD_COST) + (first ? FILE_COST : 0);
    if (cost > 0 && !chargeKernel(cost)) throw new SysError(Errno.ENOMEM);
    if (first) charged.add(file);
    incRef(file);
    this.#fds[fd] = { file, cloexec };
    if (old) this.#closed(fd, old.file);
  }

  /** Closes fd; throws EBADF. */
  close(fd: number): void {
    const e = fd >= 0 ? this.#fds[fd] : undefined;
    if (!e) throw new SysError(Errno.EBADF);
    this.#fds[fd] = undefined;
    unchargeKernel(FD_COST);
    if (fd < this.#nextFree) this.#nextFree = fd;
    this.#closed(fd, e.file);
  }

  #closed(fd: number, file: FileDescription): void {
    // Closing any descriptor of a file drops the process's record locks on it (POSIX).
    if (file.vd) releaseLocks(this, file.vd.inode);
    this.onClose?.(fd, file);
    decRef(file);
  }

  /** Every open descriptor, ascending. */
  fds(): number[] {
    const out: number[] = [];
    this.#fds.forEach((e, fd) => e && out.push(fd));
    return out;
  }

  /**
   * A copy for fork(2) (clone without CLONE_FILES): the same descriptions at the same
   * numbers with the same close-on-exec flags.
   */
  fork(): FdTable {
    const t = new FdTable();
    t.limit = this.limit;
    // Descriptors above a lowered RLIMIT_NOFILE are copied too, as Linux does. A copy that
    // fails (out of kernel memory) is undone: a half-copied table must not keep pipe ends open.
    try {
      this.#fds.forEach((e, fd) => e && t.#put(fd, e.file, e.cloexec));
    } catch (err) {
      t.closeAll();
      throw err;
    }
    return t;
  }

  /** Closes every close-on-exec descriptor (execve). */
  closeOnExec(): void {
    this.#fds.forEach((e, fd) => e?.cloexec && this.close(fd));
  }

  /** Closes every descriptor. */
  closeAll(): void {
    for (let fd = 0; fd < this.#fds.length; fd++) if (this.#fds[fd]) this.close(fd);
  }
}
