/**
 * eventfd: a 64-bit counter that write adds to and read takes (all of it, or one in semaphore
 * mode), waking pollers both ways.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "../../abi/linux/error.ts";
import {
  FileDescriptionBase,
  O_NONBLOCK,
  POLLERR,
  POLLIN,
  POLLOUT,
  POLLRDNORM,
  POLLWRNORM,
} from "../vfs/file.ts";
import { type Attr, nowNs } from "../vfs/inode.ts";
import { anonAttr } from "./anon.ts";
import { waitOn } from "../vfs/waiter.ts";
import { decodeValue, encodeValue, u64 } from "../../abi/linux/layout.ts";

const MAX = 0xfffffffffffffffen;

export class EventFd extends FileDescriptionBase {
  readonly anonName = "[eventfd]";
  readonly #attr: Attr;

  constructor(public value: bigint, readonly semaphore: boolean, flags: number) {
    super(flags);
    this.#attr = anonAttr(nowNs());
  }

  override async read(t: Task, dst: Uint8Array<ArrayBuffer>, offset?: bigint): Promise<number> {
    if (offset !== undefined) throw new SysError(Errno.ESPIPE);
    if (dst.length < 8) throw new SysError(Errno.EINVAL);
    while (this.value === 0n) {
      if (this.flags & O_NONBLOCK) throw new SysError(Errno.EAGAIN);
      await waitOn(t, [this.queue]);
    }
    const v = this.semaphore ? 1n : this.value;
    this.value -= v;
    dst.set(encodeValue(u64, v));
    this.queue.notify();
    return 8;
  }

  override async write(t: Task, src: Uint8Array<ArrayBuffer>, offset?: bigint): Promise<number> {
    if (offset !== undefined) throw new SysError(Errno.ESPIPE);
    if (src.length < 8) throw new SysError(Errno.EINVAL);
    const v = decodeValue(u64, src);
    if (v === 0xffffffffffffffffn) throw new SysError(Errno.EINVAL);
    while (MAX - this.value < v) {
      if (this.flags & O_NONBLOCK) throw new SysError(Errno.EAGAIN);
      await waitOn(t, [this.queue]);
    }
    this.value += v;
    this.queue.notify();
    return 8;
  }

  override readiness(mask: number): number {
    let r = 0;
    if (this.value > 0n) r |= POLLIN | POLLRDNORM;
    if (this.value < MAX) r |= POLLOUT | POLLWRNORM;
    if (this.value === 0xffffffffffffffffn) r |= POLLERR;
    return r & (mask | POLLERR);
  }

  stat(_t: Task): Attr {
    return this.#attr;
  }
}
