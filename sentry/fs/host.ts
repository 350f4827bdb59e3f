/**
 * Host-backed file descriptions: host descriptors handed to the Sentry (the container's stdio)
 * that the application reads and writes through the Sentry.
 *
 * @module
 */

import { Errno } from "../../host/errno.ts";
import { closeFd, errno, libc } from "../../host/libc.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "../syscalls/errors.ts";
import type { FileDescription } from "../vfs/file.ts";

const TCGETS = 0x5401;
const TIOCGWINSZ = 0x5413;
/** Sizes of what the terminal ioctls we pass through copy out. */
const IOCTL_OUT_SIZE: Record<number, number> = { [TCGETS]: 36, [TIOCGWINSZ]: 8 };

/** Implements FileDescription over a host descriptor. */
export class HostFile implements FileDescription {
  flags: number;

  constructor(readonly hostFd: number, flags: number, readonly owned = false) {
    this.flags = flags;
  }

  async read(_t: Task, dst: Uint8Array<ArrayBuffer>): Promise<number> {
    for (;;) {
      const n = Number(await libc.symbols.read_async(this.hostFd, dst, BigInt(dst.length)));
      if (n >= 0) return n;
      // errno of the runtime thread is not ours to read; a retry tells EINTR from the rest.
      const m = Number(libc.symbols.read(this.hostFd, dst, 0n));
      if (m < 0) throw new SysError(errno() || Errno.EIO);
    }
  }

  write(_t: Task, src: Uint8Array<ArrayBuffer>): number {
    for (;;) {
      const n = Number(libc.symbols.write(this.hostFd, src, BigInt(src.length)));
      if (n >= 0) return n;
      const e = errno();
      if (e !== Errno.EINTR) throw new SysError(e);
    }
  }

  stat(_t: Task, out: Uint8Array<ArrayBuffer>): void {
    if (libc.symbols.fstat(this.hostFd, out) !== 0) throw new SysError(errno());
  }

  ioctl(t: Task, request: number, arg: bigint): number {
    const size = IOCTL_OUT_SIZE[request];
    if (size === undefined) throw new SysError(Errno.ENOTTY);
    const buf = new Uint8Array(64);
    if (libc.symbols.ioctl(this.hostFd, BigInt(request), buf) !== 0) {
      throw new SysError(errno());
    }
    t.mm.copyOut(arg, buf.subarray(0, size));
    return 0;
  }

  release(): void {
    if (this.owned) closeFd(this.hostFd);
  }
}
