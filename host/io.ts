/**
 * Reads, writes, polls and device requests on host descriptors, for the Sentry's host-backed
 * files (the container's stdio and terminal, donated gofer files) and the CLI's terminals.
 *
 * These follow the kernel's convention rather than throwing: a result, or -errno. Their callers
 * turn an errno into the application's error (a SysError) on hot paths (every read and write of
 * a donated file), where an exception and a message built per call would cost more than the call.
 *
 * @module
 */

import { errno, libc } from "./libc.ts";
import { SYS } from "../abi/linux/syscalls.ts";

const sym = libc.symbols;
const EINTR = 4;

const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;

/** read(2) into `buf`: the bytes read, or -errno. */
export function readFd(fd: number, buf: Uint8Array<ArrayBuffer>, length = buf.length): number {
  const n = Number(sym.read(fd, buf, BigInt(length)));
  return n < 0 ? -errno() : n;
}

/**
 * read(2) made on a runtime thread, so that the event loop goes on while it waits: the bytes
 * read, or -1 (that thread's errno is not ours to read: the caller asks again with readFd).
 */
export function readFdAsync(fd: number, buf: Uint8Array<ArrayBuffer>): Promise<number> {
  // SAFETY: Deno keeps `buf` alive and unmoved until the promise settles.
  return sym.read_async(fd, buf, BigInt(buf.length)).then(Number);
}

/** write(2) of `buf`: the bytes written (maybe fewer), or -errno. */
export function writeFd(fd: number, buf: Uint8Array<ArrayBuffer>): number {
  const n = Number(sym.write(fd, buf, BigInt(buf.length)));
  return n < 0 ? -errno() : n;
}

/** pwrite(2) of `buf` at `offset`, retrying EINTR: the bytes written, or -errno. */
export function pwriteFd(fd: number, buf: Uint8Array<ArrayBuffer>, offset: bigint): number {
  for (;;) {
    const n = Number(sym.pwrite(fd, buf, BigInt(buf.length), offset));
    if (n >= 0) return n;
    const e = errno();
    if (e !== EINTR) return -e;
  }
}

/** fstat(2) into `buf` (a 144-byte struct stat, x86-64): 0, or -errno. */
export function fstatInto(fd: number, buf: Uint8Array<ArrayBuffer>): number {
  return sym.fstat(fd, buf) === 0 ? 0 : -errno();
}

/** The st_blocks field (512-byte units) of a struct stat filled by fstatInto. */
export const STAT_BLOCKS_OFFSET = 64;
/** The st_size field of a struct stat filled by fstatInto. */
export const STAT_SIZE_OFFSET = 48;
/** Bytes of an x86-64 struct stat. */
export const STAT_SIZE = 144;

/** ioctl(2) whose argument is `buf` (the struct the request reads or fills): 0+, or -errno. */
export function ioctlBuf(
  fd: number,
  request: number | bigint,
  buf: Uint8Array<ArrayBuffer>,
): number {
  const r = sym.ioctl(fd, BigInt(request), buf);
  return r < 0 ? -errno() : r;
}

const pollFd = new Uint8Array(8);
const pollView = new DataView(pollFd.buffer);

/** The host's poll(2) of one descriptor with a zero timeout: the ready events (0 on error). */
export function pollNow(fd: number, events: number): number {
  pollView.setInt32(0, fd, true);
  pollView.setInt16(4, events, true);
  pollView.setInt16(6, 0, true);
  // SAFETY: pollFd, one struct pollfd, is module-level (alive for the process's life) and the
  // call is synchronous, so the address is valid for as long as the kernel uses it.
  const addr = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(pollFd)));
  const r = sym.syscall(BigInt(SYS.poll), addr, 1n, 0n, 0n, 0n, 0n) as bigint;
  if (r < 0n) return 0;
  return pollView.getUint16(6, true);
}

/** Sets or clears O_NONBLOCK on `fd`; false when fcntl failed. */
export function setNonblocking(fd: number, on: boolean): boolean {
  const fl = sym.fcntl(fd, F_GETFL, 0n);
  if (fl < 0) return false;
  const want = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
  return want === fl || sym.fcntl(fd, F_SETFL, BigInt(want)) >= 0;
}
