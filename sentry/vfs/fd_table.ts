/**
 * A file descriptor table (Linux's files_struct): descriptor numbers to file descriptions,
 * with the close-on-exec flag per descriptor.
 *
 * @module
 */

import { Errno } from "../../host/errno.ts";
import { SysError } from "../syscalls/errors.ts";
import type { FileDescription } from "./file.ts";

interface Entry {
  file: FileDescription;
  cloexec: boolean;
}

/** Counts how many descriptors (in any table) refer to each description. */
const refs = new WeakMap<FileDescription, number>();

export class FdTable {
  #fds: (Entry | undefined)[] = [];
  /** RLIMIT_NOFILE: descriptors must be below this. */
  limit = 1024 * 1024;

  /** The description behind fd; throws EBADF. */
  get(fd: number): FileDescription {
    const e = fd >= 0 ? this.#fds[fd] : undefined;
    if (!e) throw new SysError(Errno.EBADF);
    return e.file;
  }

  /** Installs file at the lowest free descriptor >= min; returns it. Throws EMFILE. */
  install(file: FileDescription, cloexec = false, min = 0): number {
    let fd = min;
    while (this.#fds[fd]) fd++;
    if (fd >= this.limit) throw new SysError(Errno.EMFILE);
    this.set(fd, file, cloexec);
    return fd;
  }

  /** Puts file at fd, closing what was there. */
  set(fd: number, file: FileDescription, cloexec = false): void {
    refs.set(file, (refs.get(file) ?? 0) + 1);
    const old = this.#fds[fd];
    this.#fds[fd] = { file, cloexec };
    if (old) this.#unref(old.file);
  }

  /** Closes fd; throws EBADF. */
  close(fd: number): void {
    const e = fd >= 0 ? this.#fds[fd] : undefined;
    if (!e) throw new SysError(Errno.EBADF);
    this.#fds[fd] = undefined;
    this.#unref(e.file);
  }

  #unref(file: FileDescription): void {
    const n = (refs.get(file) ?? 1) - 1;
    refs.set(file, n);
    if (n === 0) file.release();
  }

  /** A copy for fork: the same descriptions (shared offsets and flags) at the same numbers. */
  fork(): FdTable {
    const t = new FdTable();
    t.limit = this.limit;
    this.#fds.forEach((e, fd) => {
      if (e) t.set(fd, e.file, e.cloexec);
    });
    return t;
  }

  /** Closes the descriptors marked close-on-exec (execve). */
  closeOnExec(): void {
    this.#fds.forEach((e, fd) => {
      if (e?.cloexec) this.close(fd);
    });
  }

  /** Closes every descriptor. */
  closeAll(): void {
    for (let fd = 0; fd < this.#fds.length; fd++) if (this.#fds[fd]) this.close(fd);
  }
}
