/**
 * Pipes and FIFOs: a bounded byte buffer between readers and writers. Writes of at most
 * PIPE_BUF bytes are atomic; a write with no reader left fails with EPIPE and raises SIGPIPE;
 * a read with no writer left sees end of file.
 *
 * @module
 */

import { Errno } from "../../host/errno.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "../syscalls/errors.ts";
import {
  FileDescriptionBase,
  type MaybeAsync,
  O_ACCMODE,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLOUT,
  POLLRDNORM,
  POLLWRNORM,
} from "../vfs/file.ts";
import { type Attr, Filesystem, Inode, nowNs, S_IFIFO } from "../vfs/inode.ts";
import type { VirtualDentry } from "../vfs/vfs.ts";
import { waitOn, WaitQueue } from "../vfs/waiter.ts";

export const PIPE_BUF = 4096;
export const DEFAULT_PIPE_SIZE = 65536;
export const MAX_PIPE_SIZE = 1048576;
const SIGPIPE = 13;
const FIONREAD = 0x541b;

const PAGE = 4096;

/** One page of pipe data: bytes [start, end) are unread. */
interface PipeBuffer {
  data: Uint8Array;
  start: number;
  end: number;
}

/**
 * The buffer and the ends' counts of one pipe. Data sits in page-sized buffers, a fixed number
 * of them (capacity / 4096), as on Linux: a write fills the last page only with what fits of
 * its sub-page tail, and otherwise needs free pages, which is what makes writes of at most
 * PIPE_BUF bytes atomic and decides when a nonblocking write fails with EAGAIN.
 */
export class Pipe {
  #bufs: PipeBuffer[] = [];
  /** Bytes buffered. */
  size = 0;
  capacity = DEFAULT_PIPE_SIZE;
  readers = 0;
  writers = 0;
  /** Whether a writer ever opened it (a FIFO read before any writer does not see EOF yet). */
  hadWriter = false;
  readonly queue = new WaitQueue();

  /** Pages in use. */
  get used(): number {
    return this.#bufs.length;
  }
  get full(): boolean {
    return this.#bufs.length >= this.capacity / PAGE;
  }

  take(dst: Uint8Array): number {
    let n = 0;
    while (n < dst.length && this.#bufs.length > 0) {
      const b = this.#bufs[0];
      const m = Math.min(b.end - b.start, dst.length - n);
      dst.set(b.data.subarray(b.start, b.start + m), n);
      n += m;
      b.start += m;
      if (b.start === b.end) this.#bufs.shift();
    }
    this.size -= n;
    return n;
  }

  /** A copy of up to n buffered bytes, leaving them buffered (tee). */
  peek(n: number): Uint8Array {
    const out = new Uint8Array(Math.min(n, this.size));
    let o = 0;
    for (const b of this.#bufs) {
      if (o >= out.length) break;
      const m = Math.min(b.end - b.start, out.length - o);
      out.set(b.data.subarray(b.start, b.start + m), o);
      o += m;
    }
    return out;
  }

  /**
   * Adds what it can of src (all of it or nothing when atomic); returns the bytes taken.
   * `first` says whether this is the write's first piece (only that one may merge).
   */
  put(src: Uint8Array, first: boolean): number {
    let done = 0;
    const tail = src.length % PAGE;
    const last = this.#bufs[this.#bufs.length - 1];
    if (first && tail && last && last.end + tail <= PAGE) {
      last.data.set(src.subarray(0, tail), last.end);
      last.end += tail;
      done = tail;
    }
    while (done < src.length && !this.full) {
      const m = Math.min(PAGE, src.length - done);
      const data = new Uint8Array(PAGE);
      data.set(src.subarray(done, done + m));
      this.#bufs.push({ data, start: 0, end: m });
      done += m;
    }
    this.size += done;
    return done;
  }
}

let pipeIno = 1n;

/** The pseudo filesystem anonymous pipes live on (for st_dev and st_ino). */
class PipeFs extends Filesystem {
  readonly name = "pipefs";
  root(): Inode {
    throw new Error("pipefs has no root");
  }
}
export const pipefs: Filesystem = new PipeFs();

/** One end (or both, for O_RDWR FIFOs) of a pipe. */
export class PipeFile extends FileDescriptionBase {
  readonly #reads: boolean;
  readonly #writes: boolean;

  constructor(
    readonly pipe: Pipe,
    flags: number,
    readonly attr: () => Attr,
    vd?: VirtualDentry,
  ) {
    super(flags, vd);
    const acc = flags & O_ACCMODE;
    this.#reads = acc === O_RDONLY || acc === O_RDWR;
    this.#writes = acc === O_WRONLY || acc === O_RDWR;
    if (this.#reads) pipe.readers++;
    if (this.#writes) {
      pipe.writers++;
      pipe.hadWriter = true;
    }
    pipe.queue.notify();
  }

  override get queue(): WaitQueue {
    return this.pipe.queue;
  }

  override async read(t: Task, dst: Uint8Array<ArrayBuffer>, offset?: bigint): Promise<number> {
    if (offset !== undefined) throw new SysError(Errno.ESPIPE);
    if (!this.#reads) throw new SysError(Errno.EBADF);
    if (dst.length === 0) return 0;
    const p = this.pipe;
    for (;;) {
      if (p.size > 0) {
        const n = p.take(dst);
        p.queue.notify();
        return n;
      }
      if (p.writers === 0 && p.hadWriter) return 0;
      if (this.flags & O_NONBLOCK) {
        if (p.writers === 0) return 0;
        throw new SysError(Errno.EAGAIN);
      }
      await waitOn(t, [p.queue]);
    }
  }

  override async write(t: Task, src: Uint8Array<ArrayBuffer>, offset?: bigint): Promise<number> {
    if (offset !== undefined) throw new SysError(Errno.ESPIPE);
    if (!this.#writes) throw new SysError(Errno.EBADF);
    const p = this.pipe;
    let done = 0;
    for (;;) {
      if (p.readers === 0) {
        if (done > 0) return done;
        t.sendSignal({ signo: SIGPIPE, errno: 0, code: 0, pid: t.tg.pid, uid: t.tg.uid });
        throw new SysError(Errno.EPIPE);
      }
      const n = p.put(src.subarray(done), done === 0);
      if (n > 0) p.queue.notify();
      done += n;
      if (done === src.length) return done;
      if (this.flags & O_NONBLOCK) {
        if (done > 0) return done;
        throw new SysError(Errno.EAGAIN);
      }
      try {
        await waitOn(t, [p.queue]);
      } catch (e) {
        // Interrupted after a partial write: report what was written.
        if (done > 0) return done;
        throw e;
      }
    }
  }

  override readiness(mask: number): number {
    const p = this.pipe;
    let r = 0;
    if (this.#reads) {
      if (p.size > 0) r |= POLLIN | POLLRDNORM;
      if (p.writers === 0 && p.hadWriter) r |= POLLHUP;
    }
    if (this.#writes) {
      if (!p.full) r |= POLLOUT | POLLWRNORM;
      if (p.readers === 0) r |= POLLERR;
    }
    return r & (mask | POLLERR | POLLHUP);
  }

  override ioctl(t: Task, request: number, arg: bigint): MaybeAsync<number> {
    if (request === FIONREAD) {
      t.mm.writeU32(arg, this.#reads ? this.pipe.size : 0);
      return 0;
    }
    throw new SysError(Errno.ENOTTY);
  }

  stat(_t: Task): Attr {
    return this.attr();
  }

  reopenInode(): Inode {
    return new PipeInode(this.pipe, this.attr);
  }

  override release(): void {
    if (this.#reads) this.pipe.readers--;
    if (this.#writes) this.pipe.writers--;
    this.pipe.queue.notify();
  }
}

/** An anonymous pipe seen as a FIFO, for opening it again through /proc/self/fd. */
class PipeInode extends Inode {
  constructor(readonly pipe: Pipe, readonly attr: () => Attr) {
    super(pipefs, S_IFIFO | 0o600, 0, 0, attr().ino);
  }
  override stat(): Attr {
    return this.attr();
  }
  open(t: Task, vd: VirtualDentry, flags: number): Promise<PipeFile> {
    return openFifo(t, this.pipe, this, vd, flags);
  }
}

/** Creates an anonymous pipe: [read end, write end] (pipe2(2)). */
export function newPipe(flags: number): [PipeFile, PipeFile] {
  const p = new Pipe();
  const ino = pipeIno++;
  const t = nowNs();
  const attr = (): Attr => ({
    dev: pipefs.dev,
    ino,
    nlink: 1,
    mode: S_IFIFO | 0o600,
    uid: 0,
    gid: 0,
    rdev: 0,
    size: 0n,
    blksize: 4096,
    blocks: 0n,
    atimeNs: t,
    mtimeNs: t,
    ctimeNs: t,
  });
  return [new PipeFile(p, O_RDONLY | flags, attr), new PipeFile(p, O_WRONLY | flags, attr)];
}

/**
 * Opens a FIFO's pipe with open(2)'s rules: a reader waits for a writer and a writer for a
 * reader unless O_NONBLOCK (then a writer without reader fails with ENXIO); O_RDWR never waits.
 */
export async function openFifo(
  t: Task,
  pipe: Pipe,
  inode: Inode,
  vd: VirtualDentry,
  flags: number,
): Promise<PipeFile> {
  const acc = flags & O_ACCMODE;
  if (acc === O_WRONLY && (flags & O_NONBLOCK) && pipe.readers === 0) {
    throw new SysError(Errno.ENXIO);
  }
  const f = new PipeFile(pipe, flags, () => inode.stat(), vd);
  if (acc === O_RDWR || (flags & O_NONBLOCK)) return f;
  try {
    while (acc === O_RDONLY ? pipe.writers === 0 : pipe.readers === 0) {
      await waitOn(t, [pipe.queue]);
    }
  } catch (e) {
    f.release();
    throw e;
  }
  return f;
}
