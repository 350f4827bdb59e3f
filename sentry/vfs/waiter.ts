/**
 * Waiting without blocking the JavaScript thread: wait queues that I/O objects notify when
 * their readiness may have changed, and the helper a syscall uses to wait on them.
 *
 * A task that waits returns a Promise from its handler; its loop awaits it while the others run.
 * interruptTask() wakes a waiting task (its group exiting, a signal): the wait then fails with
 * EINTR.
 *
 * @module
 */

import { Errno } from "../../host/errno.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "../syscalls/errors.ts";

/** Callbacks to run when something changes. */
export class WaitQueue {
  #waiters = new Set<() => void>();

  /** Registers fn; returns what unregisters it. */
  subscribe(fn: () => void): () => void {
    this.#waiters.add(fn);
    return () => this.#waiters.delete(fn);
  }

  /** Wakes every waiter. */
  notify(): void {
    for (const w of [...this.#waiters]) w();
  }

  get size(): number {
    return this.#waiters.size;
  }
}

const wakers = new WeakMap<Task, Set<() => void>>();

/**
 * Wakes every wait of t, which then fails with EINTR if t must stop (its group exits) or
 * `interrupted` says so. The kernel calls it when it delivers a signal or kills a group.
 */
export function interruptTask(t: Task): void {
  const s = wakers.get(t);
  if (s) { for (const w of [...s]) w(); }
}

/** Whether t must leave a wait. */
function mustStop(t: Task): boolean {
  return t.exiting || t.tg.exiting || (interruptHook?.(t) ?? false);
}

let interruptHook: ((t: Task) => boolean) | undefined;

/** Lets the kernel say when a wait must end with EINTR (a signal is pending for t). */
export function setInterruptHook(fn: (t: Task) => boolean): void {
  interruptHook = fn;
}

/**
 * Waits until one of queues notifies, timeoutMs passes (returns false), or t is interrupted
 * (throws EINTR). Returns true when notified.
 */
export function waitOn(t: Task, queues: WaitQueue[], timeoutMs?: number): Promise<boolean> {
  if (mustStop(t)) return Promise.reject(new SysError(Errno.EINTR));
  return new Promise((resolve, reject) => {
    const unsub: (() => void)[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    let set = wakers.get(t);
    if (!set) wakers.set(t, set = new Set());
    const done = (how: "notified" | "timeout" | "interrupt") => {
      for (const u of unsub) u();
      set!.delete(onInterrupt);
      if (timer !== undefined) clearTimeout(timer);
      if (how === "interrupt") reject(new SysError(Errno.EINTR));
      else resolve(how === "notified");
    };
    const onInterrupt = () => {
      if (mustStop(t)) done("interrupt");
    };
    set.add(onInterrupt);
    for (const q of queues) unsub.push(q.subscribe(() => done("notified")));
    if (timeoutMs !== undefined && timeoutMs >= 0) {
      timer = setTimeout(() => done("timeout"), timeoutMs);
    }
  });
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
