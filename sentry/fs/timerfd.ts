/**
 * timerfd: a timer on the host's realtime or monotonic clock whose expirations are read as a
 * count. Timers run on the Sentry's event loop (millisecond resolution).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { clockNow } from "../kernel/time.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "../../abi/linux/error.ts";
import { FileDescriptionBase, O_NONBLOCK, POLLIN, POLLRDNORM } from "../vfs/file.ts";
import { type Attr, nowNs } from "../vfs/inode.ts";
import { waitOn } from "../vfs/waiter.ts";
import { anonAttr } from "./anon.ts";
import { encodeValue, u64 } from "../../abi/linux/layout.ts";

export class TimerFd extends FileDescriptionBase {
  readonly anonName = "[timerfd]";
  readonly #attr: Attr = anonAttr(nowNs());
  /** Expirations not yet read. */
  expirations = 0n;
  /** Clock time of the next expiry (0: disarmed), and the period (0: one shot). */
  next = 0n;
  interval = 0n;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly clock: number, flags: number) {
    super(flags);
  }

  /** Arms (value > 0) or disarms the timer; value is absolute clock time when abs. */
  set(value: bigint, interval: bigint, abs: boolean): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.expirations = 0n;
    this.interval = interval;
    if (value === 0n) {
      this.next = 0n;
      return;
    }
    this.next = abs ? value : clockNow(this.clock) + value;
    this.#schedule();
  }

  /** Time left before the next expiry (0 when disarmed). */
  remaining(): bigint {
    if (this.next === 0n) return 0n;
    const left = this.next - clockNow(this.clock);
    return left > 0n ? left : 1n;
  }

  #schedule(): void {
    const delayNs = this.next - clockNow(this.clock);
    const ms = delayNs <= 0n ? 0 : Number((delayNs + 999_999n) / 1_000_000n);
    this.#timer = setTimeout(() => this.#fire(), ms);
  }

  #fire(): void {
    this.#timer = undefined;
    const now = clockNow(this.clock);
    if (this.next === 0n || now < this.next) {
      if (this.next !== 0n) this.#schedule();
      return;
    }
    if (this.interval > 0n) {
      const missed = (now - this.next) / this.interval + 1n;
      this.expirations += missed;
      this.next += missed * this.interval;
      this.#schedule();
    } else {
      this.expirations += 1n;
      this.next = 0n;
    }
    this.queue.notify();
  }

  override async read(t: Task, dst: Uint8Array<ArrayBuffer>, offset?: bigint): Promise<number> {
    if (offset !== undefined) throw new SysError(Errno.ESPIPE);
    if (dst.length < 8) throw new SysError(Errno.EINVAL);
    while (this.expirations === 0n) {
      if (this.flags & O_NONBLOCK) throw new SysError(Errno.EAGAIN);
      await waitOn(t, [this.queue]);
    }
    dst.set(encodeValue(u64, this.expirations));
    this.expirations = 0n;
    return 8;
  }

  override write(): number {
    throw new SysError(Errno.EINVAL);
  }

  override readiness(mask: number): number {
    return this.expirations > 0n ? mask & (POLLIN | POLLRDNORM) : 0;
  }

  stat(_t: Task): Attr {
    return this.#attr;
  }

  override release(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
