/**
 * Waiting without blocking the JavaScript thread: wait queues that I/O objects notify when
 * their readiness may have changed, and the helper a syscall uses to wait on them.
 *
 * A task that waits returns a Promise from its handler; its loop awaits it while the others run.
 * A signal ends the wait through Task.block.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";

/** Callbacks to run when something changes. */
export class WaitQueue {
  #waiters = new Set<() => void>();
  /** EPOLLEXCLUSIVE subscribers: told with wake=false once one of them has woken someone. */
  #exclusive: ((wake: boolean) => boolean)[] = [];

  /** Registers fn; returns what unregisters it. */
  subscribe(fn: () => void): () => void {
    this.#waiters.add(fn);
    return () => this.#waiters.delete(fn);
  }

  /**
   * Registers an exclusive subscriber (EPOLLEXCLUSIVE): of those, each notify wakes only the
   * first that has a waiter (fn returns whether it woke one), in turn.
   */
  subscribeExclusive(fn: (wake: boolean) => boolean): () => void {
    this.#exclusive.push(fn);
    return () => {
      const i = this.#exclusive.indexOf(fn);
      if (i >= 0) this.#exclusive.splice(i, 1);
    };
  }

  /** Wakes every waiter, and one exclusive subscriber. */
  notify(): void {
    for (const w of [...this.#waiters]) w();
    let woken = false;
    const ex = [...this.#exclusive];
    for (let i = 0; i < ex.length; i++) {
      if (ex[i](!woken) && !woken) {
        woken = true;
        // The next event goes to the next one first.
        const at = this.#exclusive.indexOf(ex[i]);
        if (at >= 0) this.#exclusive.push(...this.#exclusive.splice(at, 1));
      }
    }
  }

  get size(): number {
    return this.#waiters.size + this.#exclusive.length;
  }
}

/**
 * Waits until one of queues notifies (true) or timeoutMs passes (false). A signal for t ends
 * the wait with SysError(interruptErrno) (ERESTARTSYS by default: see Task.block).
 */
export function waitOn(
  t: Task,
  queues: WaitQueue[],
  timeoutMs?: number,
  interruptErrno: number = Errno.ERESTARTSYS,
): Promise<boolean> {
  const unsub: (() => void)[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const cleanup = () => {
    for (const u of unsub) u();
    if (timer !== undefined) clearTimeout(timer);
  };
  const p = new Promise<boolean>((resolve) => {
    for (const q of queues) unsub.push(q.subscribe(() => resolve(true)));
    if (timeoutMs !== undefined && timeoutMs >= 0) {
      timer = setTimeout(() => resolve(false), timeoutMs);
    }
  });
  return t.block(p, interruptErrno).finally(cleanup);
}

/**
 * Runs attempt until it returns something other than undefined, waiting on queues between
 * tries. attempt throws EAGAIN-style errors itself when the caller must not wait.
 */
export async function blockUntil<T>(
  t: Task,
  queues: WaitQueue[],
  attempt: () => T | undefined,
): Promise<T> {
  for (;;) {
    const r = attempt();
    if (r !== undefined) return r;
    await waitOn(t, queues);
  }
}
