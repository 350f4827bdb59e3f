/**
 * signalfd: reading takes pending signals of the reading thread (then of its process) that
 * are in the descriptor's mask, as struct signalfd_siginfo. Signals arrive without telling
 * the descriptor, so a waiting reader (and a poller) looks again every few milliseconds.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { SigInfo } from "../kernel/signal.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "../../abi/linux/error.ts";
import { FileDescriptionBase, O_NONBLOCK, POLLIN, POLLRDNORM } from "../vfs/file.ts";
import { type Attr, nowNs } from "../vfs/inode.ts";
import { waitOn } from "../vfs/waiter.ts";
import { anonAttr } from "./anon.ts";
import { SI, SignalfdSiginfo } from "../../abi/linux/signal.ts";

const SIGINFO_SIZE = SignalfdSiginfo.size;

/** A queued signal as signalfd_siginfo: the fields its siginfo_t's union member has. */
function signalfdInfo(info: SigInfo): Uint8Array<ArrayBuffer> {
  const head = { signo: info.signo, errno: info.errno, code: info.code };
  if (info.addr !== undefined) return SignalfdSiginfo.encode({ ...head, addr: info.addr });
  const value = info.value === undefined ? {} : {
    ptr: BigInt.asUintN(64, info.value),
    int: Number(BigInt.asIntN(32, info.value)),
  };
  // A POSIX timer's siginfo carries its id and overrun count where others carry pid and uid.
  if (info.code === SI.TIMER) {
    return SignalfdSiginfo.encode({ ...head, tid: info.pid, overrun: info.uid, ...value });
  }
  return SignalfdSiginfo.encode({
    ...head,
    pid: info.pid,
    uid: info.uid,
    status: info.status,
    ...value,
  });
}

const RECHECK_MS = 10;

export class SignalFd extends FileDescriptionBase {
  readonly anonName = "[signalfd]";
  readonly #attr: Attr = anonAttr(nowNs());
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(public mask: bigint, readonly owner: Task, flags: number) {
    super(flags);
  }

  #take(t: Task): SigInfo | null {
    const blocked = ~this.mask;
    return t.pending.dequeue(blocked) ?? t.tg.pending.dequeue(blocked);
  }

  override async read(t: Task, dst: Uint8Array<ArrayBuffer>, offset?: bigint): Promise<number> {
    if (offset !== undefined) throw new SysError(Errno.ESPIPE);
    if (dst.length < SIGINFO_SIZE) throw new SysError(Errno.EINVAL);
    let n = 0;
    while (n + SIGINFO_SIZE <= dst.length) {
      const info = this.#take(t);
      if (!info) {
        if (n > 0) return n;
        if (this.flags & O_NONBLOCK) throw new SysError(Errno.EAGAIN);
        await waitOn(t, [this.queue], RECHECK_MS);
        continue;
      }
      dst.set(signalfdInfo(info), n);
      n += SIGINFO_SIZE;
    }
    return n;
  }

  override write(): number {
    throw new SysError(Errno.EINVAL);
  }

  override readiness(mask: number): number {
    const t = this.owner;
    const pending = (t.pending.mask | t.tg.pending.mask) & this.mask;
    if (pending) return mask & (POLLIN | POLLRDNORM);
    // Look again soon for pollers: nothing tells the descriptor when a signal comes.
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        if (this.queue.size > 0) this.queue.notify();
      }, RECHECK_MS);
    }
    return 0;
  }

  stat(_t: Task): Attr {
    return this.#attr;
  }

  override release(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }
}
