/**
 * Pipes and FIFOs: a bounded byte buffer between readers and writers. Writes of at most
 * PIPE_BUF bytes are atomic; a write with no reader left fails with EPIPE and raises SIGPIPE;
 * a read with no writer left sees end of file.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "../../abi/linux/error.ts";
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
import { type Attr, Filesystem, Inode, nowNs, pseudoAttr, S_IFIFO } from "../vfs/inode.ts";
import type { VirtualDentry } from "../vfs/vfs.ts";
import { waitOn, WaitQueue } from "../vfs/waiter.ts";
import { BufferIo, doneOrFault, type IoSequence } from "../mm/io.ts";
import { chargeKernel, unchargeKernel } from "../mm/memory_file.ts";
import { PAGE_SIZE as PAGE } from "../../abi/linux/mm.ts";
import { SIG } from "../../abi/linux/signal.ts";
import { FIONREAD } from "../../abi/linux/ioctl.ts";

export const PIPE_BUF = 4096;
export const DEFAULT_PIPE_SIZE = 65536;
export const MAX_PIPE_SIZE = 1048576;

/**
 * The buffer and the ends' counts of one pipe. Data sits in page-sized slots, a fixed number
 * of them (capacity / 4096), kept as a ring as on Linux: a write fills the last slot only with
 * what fits of its sub-page tail, and otherwise needs free slots, which is what makes writes
 * of at most PIPE_BUF bytes atomic and decides when a nonblocking write fails with EAGAIN.
 * A slot's page is allocated when first used and kept for reuse, so that steady traffic
 * allocates nothing.
 */
export class Pipe {
  #pages: Uint8Array[] = [];
  /** Unread bytes of slot i are pages[i][start[i], end[i]). */
  #start = new Int32Array(DEFAULT_PIPE_SIZE / PAGE);
  #end = new Int32Array(DEFAULT_PIPE_SIZE / PAGE);
  /** The oldest slot in use, and how many are in use after it (wrapping). */
  #head = 0;
  #used = 0;
  /** Bytes buffered. */
  size = 0;
  readers = 0;
  writers = 0;
  /** Whether a writer ever opened it (a FIFO read before any writer does not see EOF yet). */
  hadWriter = false;
  /**
   * Set while a splice or sendfile writes out bytes it peeked from this pipe (the write may
   * wait): readers, tees and other splices wait for it, as Linux's pipe lock makes them, or
   * they would get bytes the splice consumes afterwards, and the splice would consume bytes
   * nobody got.
   */
  #spliceBusy = false;
  /** Notified on every change, for poll and epoll. */
  readonly queue = new WaitQueue();
  /** Readers blocked on an empty pipe: woken when data arrives or the last writer goes. */
  readonly readWait = new WaitQueue();
  /** Writers blocked on a full pipe: woken when a slot frees or the last reader goes. */
  readonly writeWait = new WaitQueue();
  /**
   * O_ASYNC read ends, told of each write call (and splice or tee into the pipe), and of an end
   * closing, whatever it changed: Linux signals them then (POLL_IN).
   */
  readonly readerEvents = new WaitQueue();
  /**
   * O_ASYNC write ends, told of each read call, even one that found nothing, of a splice that
   * freed a slot, and of an end closing (POLL_OUT).
   */
  readonly writerEvents = new WaitQueue();

  /** Bytes the pipe holds at most (F_GETPIPE_SZ). */
  get capacity(): number {
    return this.#start.length * PAGE;
  }
  /** Slots in use. */
  get used(): number {
    return this.#used;
  }
  get full(): boolean {
    return this.#used >= this.#start.length;
  }

  /**
   * Sets the capacity (F_SETPIPE_SZ), a power-of-two multiple of the page size. Throws EBUSY
   * when the data buffered needs more slots than that.
   */
  setCapacity(bytes: number): void {
    const slots = bytes / PAGE;
    if (slots < this.#used) throw new SysError(Errno.EBUSY);
    const pages: Uint8Array[] = [];
    const start = new Int32Array(slots);
    const end = new Int32Array(slots);
    const n = this.#start.length;
    for (let i = 0; i < this.#used; i++) {
      const j = (this.#head + i) % n;
      pages.push(this.#pages[j]);
      start[i] = this.#start[j];
      end[i] = this.#end[j];
    }
    // Spare pages (those of the free slots) move along, up to the new size, for reuse.
    for (let i = 0; i < n - this.#used && pages.length < slots; i++) {
      const j = (this.#head + this.#used + i) % n;
      if (this.#pages[j]) pages.push(this.#pages[j]);
    }
    unchargeKernel(PAGE * (this.#pages.filter((p) => p).length - pages.length));
    this.#pages = pages;
    this.#start = start;
    this.#end = end;
    this.#head = 0;
    this.notifyAll();
  }

  /**
   * Moves buffered bytes into dst until it is full or the pipe is empty; returns the bytes
   * moved. A piece that faults part way stays buffered whole, as on Linux (whatever part of
   * it reached dst does not count as read).
   */
  take(dst: IoSequence): number {
    const n = this.#start.length;
    let done = 0;
    let freed = false;
    while (this.#used > 0 && dst.remaining > 0) {
      const h = this.#head;
      const s = this.#start[h];
      const e = this.#end[h];
      const want = Math.min(e - s, dst.remaining);
      if (dst.copyOut(this.#pages[h].subarray(s, s + want)) < want) break;
      done += want;
      if (s + want === e) {
        this.#head = (h + 1) % n;
        this.#used--;
        freed = true;
      } else {
        this.#start[h] = s + want;
      }
    }
    this.size -= done;
    if (done > 0) this.queue.notify();
    if (freed) this.writeWait.notify();
    return done;
  }

  get spliceBusy(): boolean {
    return this.#spliceBusy;
  }

  /** Begins a splice from this pipe (see PipeFile.peekInto). */
  lockSplice(): void {
    this.#spliceBusy = true;
  }

  /**
   * Ends what PipeFile.peekInto began: consumes `taken`, the first bytes peeked (those the
   * output took), and lets readers in again.
   */
  endSplice(taken: Uint8Array): void {
    this.#spliceBusy = false;
    const used = this.#used;
    if (taken.length > 0) this.take(new BufferIo(taken));
    if (this.#used < used) this.writerEvents.notify();
    this.queue.notify();
    this.readWait.notify();
  }

  /** Copies up to dst.length buffered bytes into dst, leaving them buffered (tee). */
  peek(dst: Uint8Array): number {
    const n = this.#start.length;
    let o = 0;
    for (let i = 0; i < this.#used && o < dst.length; i++) {
      const j = (this.#head + i) % n;
      const m = Math.min(this.#end[j] - this.#start[j], dst.length - o);
      dst.set(this.#pages[j].subarray(this.#start[j], this.#start[j] + m), o);
      o += m;
    }
    return o;
  }

  /**
   * Adds what it can of src: all of it or nothing when it is a whole write of at most PIPE_BUF
   * bytes. `first` says whether this is the write's first piece (only that one may merge into
   * the last slot, and only its sub-page tail, as on Linux). Returns the bytes taken; fewer
   * than src.remaining when the pipe filled or src faulted (a page that faults part way is
   * dropped whole, as on Linux).
   */
  put(src: IoSequence, first: boolean): number {
    const n = this.#start.length;
    let done = 0;
    const tail = src.remaining % PAGE;
    if (first && tail && this.#used > 0) {
      const last = (this.#head + this.#used - 1) % n;
      const e = this.#end[last];
      if (e + tail <= PAGE) {
        // Committed only once copied, so that a fault leaves no stray bytes behind.
        if (src.copyIn(this.#pages[last].subarray(e, e + tail)) < tail) return 0;
        this.#end[last] = e + tail;
        done = tail;
      }
    }
    while (src.remaining > 0 && this.#used < n) {
      const j = (this.#head + this.#used) % n;
      let page = this.#pages[j];
      if (!page) {
        // Charged to the container: a pipe storm under a memory limit fails with ENOMEM
        // (when nothing was written yet) instead of growing the Sentry.
        if (!chargeKernel(PAGE)) {
          if (done === 0) throw new SysError(Errno.ENOMEM);
          break;
        }
        page = this.#pages[j] = new Uint8Array(PAGE);
      }
      const want = Math.min(PAGE, src.remaining);
      if (src.copyIn(page.subarray(0, want)) < want) break;
      this.#start[j] = 0;
      this.#end[j] = want;
      this.#used++;
      done += want;
    }
    return this.#added(done);
  }

  #added(n: number): number {
    this.size += n;
    if (n > 0) {
      this.queue.notify();
      this.readWait.notify();
    }
    return n;
  }

  /**
   * Drops the buffer once no end is open (Linux frees a FIFO's buffer then too): buffered
   * bytes are discarded and the pages' charge given back.
   */
  releaseBuffer(): void {
    unchargeKernel(PAGE * this.#pages.filter((p) => p).length);
    this.#pages = [];
    this.#head = 0;
    this.#used = 0;
    this.size = 0;
  }

  /** Wakes everyone: an end opened or closed, or the capacity changed. */
  notifyAll(): void {
    this.queue.notify();
    this.readWait.notify();
    this.writeWait.notify();
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
    pipe.notifyAll();
  }

  override get queue(): WaitQueue {
    return this.pipe.queue;
  }

  override read(t: Task, dst: Uint8Array<ArrayBuffer>, offset?: bigint): MaybeAsync<number> {
    return this.readTo(t, new BufferIo(dst), offset);
  }

  override write(t: Task, src: Uint8Array<ArrayBuffer>, offset?: bigint): MaybeAsync<number> {
    return this.writeFrom(t, new BufferIo(src), offset);
  }

  /** Implements FileDescription.readTo: from the pipe's pages straight into dst. */
  readTo(t: Task, dst: IoSequence, offset?: bigint): MaybeAsync<number> {
    if (offset !== undefined) throw new SysError(Errno.ESPIPE);
    if (!this.#reads) throw new SysError(Errno.EBADF);
    if (dst.remaining === 0) return 0;
    const attempt = (): number | undefined => {
      const p = this.pipe;
      // Waited for even when non-blocking: Linux's readers sleep on the pipe lock too.
      if (p.spliceBusy) return undefined;
      // Each try, whatever it finds (before the reader sleeps, too), as Linux.
      p.writerEvents.notify();
      if (p.size > 0) return doneOrFault(dst, p.take(dst));
      if (p.writers === 0 && p.hadWriter) return 0;
      if (this.flags & O_NONBLOCK) {
        if (p.writers === 0) return 0;
        throw new SysError(Errno.EAGAIN);
      }
      return undefined;
    };
    return attempt() ?? this.#block(t, this.pipe.readWait, attempt, () => 0);
  }

  /**
   * Reads as readTo does, blocking the same way, but leaves the bytes buffered: splice and
   * sendfile consume only what their output took, so that a full output loses nothing of the
   * pipe. When it returns bytes, the pipe stays locked against other readers until the caller
   * calls Pipe.endSplice, which it must do whatever happens to its write.
   */
  peekInto(t: Task, dst: Uint8Array): MaybeAsync<number> {
    if (!this.#reads) throw new SysError(Errno.EBADF);
    if (dst.length === 0) return 0;
    const attempt = (): number | undefined => {
      const p = this.pipe;
      if (p.spliceBusy) return undefined;
      if (p.size > 0) {
        // Locked in the same step as the peek: nothing may read in between.
        p.lockSplice();
        return p.peek(dst);
      }
      if (p.writers === 0 && p.hadWriter) return 0;
      if (this.flags & O_NONBLOCK) {
        if (p.writers === 0) return 0;
        throw new SysError(Errno.EAGAIN);
      }
      return undefined;
    };
    return attempt() ?? this.#block(t, this.pipe.readWait, attempt, () => 0);
  }

  /** Implements FileDescription.writeFrom: from src straight into the pipe's pages. */
  writeFrom(t: Task, src: IoSequence, offset?: bigint): MaybeAsync<number> {
    if (offset !== undefined) throw new SysError(Errno.ESPIPE);
    if (!this.#writes) throw new SysError(Errno.EBADF);
    // A null write succeeds even with no reader left, as on Linux.
    if (src.remaining === 0) return 0;
    let done = 0;
    let first = true;
    const attempt = (): number | undefined => {
      const p = this.pipe;
      if (p.readers === 0) {
        // Linux raises SIGPIPE even when part of the write went through.
        t.sendSignal({ signo: SIG.PIPE, errno: 0, code: 0, pid: t.tg.pid, uid: t.tg.uid });
        if (done > 0) return done;
        throw new SysError(Errno.EPIPE);
      }
      try {
        done += p.put(src, first);
      } catch (e) {
        // Out of memory after part of a blocking write went through: report that part.
        if (done > 0 && e instanceof SysError) return done;
        throw e;
      } finally {
        // Each try, whatever it added (before the writer sleeps, too), as Linux.
        p.readerEvents.notify();
      }
      first = false;
      if (src.remaining === 0 || src.faulted) return doneOrFault(src, done);
      if (this.flags & O_NONBLOCK) {
        if (done > 0) return done;
        throw new SysError(Errno.EAGAIN);
      }
      return undefined;
    };
    return attempt() ?? this.#block(t, this.pipe.writeWait, attempt, () => done);
  }

  /**
   * Waits on q and tries again until attempt has an answer. Interrupted by a signal after a
   * partial transfer, the call reports what it moved rather than failing.
   */
  async #block(
    t: Task,
    q: WaitQueue,
    attempt: () => number | undefined,
    partial: () => number,
  ): Promise<number> {
    for (;;) {
      try {
        await waitOn(t, [q]);
      } catch (e) {
        if (partial() > 0) return partial();
        throw e;
      }
      const r = attempt();
      if (r !== undefined) return r;
    }
  }

  /** Implements FileDescription.subscribeAsync: each end hears its side's events. */
  subscribeAsync(signal: (band: number) => void): () => void {
    const stops: (() => void)[] = [];
    if (this.#reads) stops.push(this.pipe.readerEvents.subscribe(() => signal(POLLIN)));
    if (this.#writes) stops.push(this.pipe.writerEvents.subscribe(() => signal(POLLOUT)));
    return () => stops.forEach((stop) => stop());
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
    if (this.pipe.readers === 0 && this.pipe.writers === 0) this.pipe.releaseBuffer();
    else {
      this.pipe.readerEvents.notify();
      this.pipe.writerEvents.notify();
    }
    this.pipe.notifyAll();
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
  const attr = (): Attr => pseudoAttr(pipefs, ino, S_IFIFO | 0o600, t);
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
