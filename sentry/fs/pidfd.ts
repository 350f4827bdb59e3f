/**
 * A pidfd: a descriptor that names one process (thread group) for as long as it is open, so
 * that signals and waits reach that process and never one that reused its pid. It polls
 * readable once the process has exited, and hung up once it has been reaped as well.
 *
 * @module
 */

import type { Task, ThreadGroup } from "../kernel/task.ts";
import { FileDescriptionBase, POLLHUP, POLLIN, POLLRDNORM } from "../vfs/file.ts";
import { type Attr, nowNs } from "../vfs/inode.ts";
import { anonAttr } from "./anon.ts";

export class PidFd extends FileDescriptionBase {
  readonly anonName = "[pidfd]";
  readonly #attr: Attr;

  constructor(readonly tg: ThreadGroup, flags: number) {
    super(flags);
    this.#attr = anonAttr(nowNs());
    // Pollers wake when the process exits; it cannot exit twice.
    tg.exited.then(() => this.queue.notify());
  }

  /** Whether the process has been reaped: its pid may name another one now. */
  get reaped(): boolean {
    return this.tg.kernel.threadGroups.get(this.tg.pid) !== this.tg;
  }

  /** Whether the process has exited (a zombie, or reaped). */
  get exited(): boolean {
    return this.tg.zombie || this.reaped;
  }

  override readiness(mask: number): number {
    if (!this.exited) return 0;
    return (POLLIN | POLLRDNORM | (this.reaped ? POLLHUP : 0)) & (mask | POLLHUP);
  }

  stat(_t: Task): Attr {
    return this.#attr;
  }
}
