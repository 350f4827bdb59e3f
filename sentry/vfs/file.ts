/**
 * File descriptions (Linux's struct file): what an FD refers to. Each filesystem implements
 * FileDescription; the FD table shares one description among dup'd descriptors.
 *
 * @module
 */

import type { Task } from "../kernel/task.ts";

/** Result of an operation that may have to wait (for input, for a peer). */
export type MaybeAsync<T> = T | Promise<T>;

/**
 * What mmap can map of a file: a host descriptor (gofer files; mapped as a private copy) or
 * pages of the memory file (tmpfs, memfd; shared mappings map them in place).
 */
export type Mappable =
  | { kind: "host"; fd: number; offset: bigint }
  | {
    kind: "memory";
    /** Memory-file offset of page `index` of the file; null for a hole when !allocate. */
    page(index: number, allocate: boolean): bigint | null;
  };

export interface FileDescription {
  /** What mmap can map, or null (ENODEV). */
  mappable?(): Mappable | null;
  /** Reads into dst; returns bytes read (0 at end of file). Throws SysError. */
  read(t: Task, dst: Uint8Array<ArrayBuffer>): MaybeAsync<number>;
  /** Writes src; returns bytes written. Throws SysError. */
  write(t: Task, src: Uint8Array<ArrayBuffer>): MaybeAsync<number>;
  /** Fills a Linux struct stat (144 bytes, x86-64 layout). Throws SysError. */
  stat(t: Task, out: Uint8Array<ArrayBuffer>): void;
  /** ioctl(2); returns the result. Throws SysError (ENOTTY by default). */
  ioctl(t: Task, request: number, arg: bigint): MaybeAsync<number>;
  /** Called when the last descriptor referring to it is closed. */
  release(): void;
  /** File status flags (O_APPEND, O_NONBLOCK...). */
  flags: number;
}

/** Size of struct stat on x86-64. */
export const STAT_SIZE = 144;
