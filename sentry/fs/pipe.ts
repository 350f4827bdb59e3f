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

/** The buffer and the ends' counts of one pipe. */
export class Pipe {
  #chunks: Uint8Array[] = [];
  /** Bytes buffered. */
  size = 0;
  capacity = DEFAULT_PIPE_SIZE;
  readers = 0;
  writers = 0;
  /** Whether a writer ever opened it (a FIFO read before any writer does not see EOF yet). */
  hadWriter = false;
  readonly queue = new WaitQueue();
  /** Bumped each time a reader or writer opens, for FIFO opens waiting for a peer. */
  opens = 0;

  take(dst: Uint8Array): number {
    let n = 0;
    while (n < dst.length && this.#chunks.length > 0) {
      const c = this.#chunks[0];
      const m = Math.min(c.length, dst.length - n);
      dst.set(c.subarray(0, m), n);
      n += m;
      if (m === c.length) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(m);
    }
    this.size -= n;
    return n;
  }

  put(src: Uint8Array): void {
    this.#chunks.push(src.slice());
    this.size += src.length;
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
    pipe.opens++;
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
    const atomic = src.length <= PIPE_BUF;
    for (;;) {
      if (p.readers === 0) {
        if (done > 0) return done;
        t.tg.sendSignal(SIGPIPE);
        throw new SysError(Errno.EPIPE);
      }
      const room = p.capacity - p.size;
      const left = src.length - done;
      if (left === 0) return done;
      if (room > 0 && (!atomic || room >= left)) {
        const n = Math.min(room, left);
        p.put(src.subarray(done, done + n));
        done += n;
        p.queue.notify();
        if (done === src.length) return done;
        continue;
      }
      if (this.flags & O_NONBLOCK) {
        if (done > 0) return done;
        throw new SysError(Errno.EAGAIN);
      }
      await waitOn(t, [p.queue]);
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
      if (p.capacity - p.size >= PIPE_BUF || p.capacity - p.size === p.capacity) {
        r |= POLLOUT | POLLWRNORM;
      }
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

  override release(): void {
    if (this.#reads) this.pipe.readers--;
    if (this.#writes) this.pipe.writers--;
    this.pipe.queue.notify();
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
