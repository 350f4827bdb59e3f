/**
 * Host-backed file descriptions: host descriptors handed to the Sentry (the container's stdio)
 * that the application reads and writes through the Sentry. Reads that may wait run on a
 * runtime thread, so other tasks go on meanwhile.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { closeFd, dupCloexec, HostError } from "../../host/libc.ts";
import {
  fstatInto,
  ioctlBuf,
  pollNow,
  readFd,
  readFdAsync,
  STAT_SIZE,
  writeFd,
} from "../../host/io.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "../../abi/linux/error.ts";
import { FileDescriptionBase, O_NONBLOCK, POLLERR, POLLHUP, POLLIN } from "../vfs/file.ts";
import { type Attr, Inode } from "../vfs/inode.ts";
import type { VirtualDentry } from "../vfs/vfs.ts";
import { pipefs } from "./pipe.ts";
import { HostFdWatch } from "../net/host_readiness.ts";
import { Stat } from "../../abi/linux/stat.ts";
import { nsFromTimespec } from "../../abi/linux/time.ts";
import { TCGETS, Termios, TIOCGWINSZ, Winsize } from "../../abi/linux/ioctl.ts";

/** Sizes of what the terminal ioctls we pass through copy out. */
const IOCTL_OUT_SIZE: Record<number, number> = {
  [TCGETS]: Termios.size,
  [TIOCGWINSZ]: Winsize.size,
};

/** Decodes a host struct stat (x86-64 layout). */
export function decodeHostStat(b: Uint8Array<ArrayBuffer>): Attr {
  const s = Stat.decode(b);
  return {
    dev: s.dev,
    ino: s.ino,
    nlink: Number(s.nlink),
    mode: s.mode,
    uid: s.uid,
    gid: s.gid,
    rdev: Number(s.rdev),
    size: s.size,
    blksize: Number(s.blksize),
    blocks: s.blocks,
    atimeNs: nsFromTimespec(s.atime),
    mtimeNs: nsFromTimespec(s.mtime),
    ctimeNs: nsFromTimespec(s.ctime),
  };
}

/** Implements FileDescription over a host descriptor. */
export class HostFile extends FileDescriptionBase {
  /** Wakes poll and epoll when the host says the descriptor changed (a regular file never waits). */
  readonly #watch: HostFdWatch;

  constructor(readonly hostFd: number, flags: number, readonly owned = false) {
    super(flags);
    this.#watch = new HostFdWatch(hostFd, this.queue);
  }

  override async read(_t: Task, dst: Uint8Array<ArrayBuffer>, offset?: bigint): Promise<number> {
    if (offset !== undefined) throw new SysError(Errno.ESPIPE);
    if ((this.flags & O_NONBLOCK) && !(pollNow(this.hostFd, POLLIN) & (POLLIN | POLLHUP))) {
      throw new SysError(Errno.EAGAIN);
    }
    for (;;) {
      const n = await readFdAsync(this.hostFd, dst);
      if (n >= 0) return n;
      // errno of the runtime thread is not ours to read; a retry tells EINTR from the rest.
      const m = readFd(this.hostFd, dst, 0);
      if (m < 0) throw new SysError(-m);
    }
  }

  override write(_t: Task, src: Uint8Array<ArrayBuffer>, offset?: bigint): number {
    if (offset !== undefined) throw new SysError(Errno.ESPIPE);
    for (;;) {
      const n = writeFd(this.hostFd, src);
      if (n >= 0) return n;
      if (n !== -Errno.EINTR) throw new SysError(-n);
    }
  }

  stat(_t: Task): Attr {
    const b = new Uint8Array(STAT_SIZE);
    const r = fstatInto(this.hostFd, b);
    if (r < 0) throw new SysError(-r);
    const a = decodeHostStat(b);
    // The host's device numbers mean nothing inside; keep the type, owner and mode.
    a.dev = pipefs.dev;
    return a;
  }

  override readiness(mask: number): number {
    const r = pollNow(this.hostFd, mask & 0xffff);
    if ((r & mask) === 0) this.#watch.notReady();
    return r & (mask | POLLERR | POLLHUP);
  }

  override release(): void {
    this.#watch.close();
    if (this.owned) closeFd(this.hostFd);
  }

  override ioctl(t: Task, request: number, arg: bigint): number {
    const size = IOCTL_OUT_SIZE[request];
    if (size === undefined) throw new SysError(Errno.ENOTTY);
    const buf = new Uint8Array(64);
    const r = ioctlBuf(this.hostFd, request, buf);
    if (r < 0) throw new SysError(-r);
    t.mm.copyOut(arg, buf.subarray(0, size));
    return 0;
  }

  reopenInode(): Inode {
    return new HostInode(this);
  }
}

/** A host descriptor seen as an inode: opening it again duplicates the host descriptor. */
class HostInode extends Inode {
  constructor(readonly file: HostFile) {
    const a = file.stat(undefined as never);
    super(pipefs, a.mode, a.uid, a.gid, a.ino);
  }
  override stat(): Attr {
    return this.file.stat(undefined as never);
  }
  open(_t: Task, _vd: VirtualDentry, flags: number): HostFile {
    try {
      return new HostFile(dupCloexec(this.file.hostFd), flags, true);
    } catch (e) {
      if (e instanceof HostError) throw new SysError(e.errno);
      throw e;
    }
  }
}
