/**
 * Collects wait statuses of stub threads.
 *
 * Statuses are consumed only by the JavaScript thread (the tracer). While it has nothing to
 * do, a runtime thread blocks in waitid(WNOWAIT) to learn which tracee has something to
 * report without consuming it; the JavaScript thread then takes that status with waitpid. A
 * blocking wait on the JavaScript thread can therefore never lose a status to another thread.
 *
 * @module
 */

import { waitidAsync, waitpid } from "../../host/spawn.ts";

const WNOHANG = 1;
const WSTOPPED = 2;
const WEXITED = 4;
const WNOWAIT = 0x01000000;
const WALL = 0x40000000;
const P_ALL = 0;

export class Waiter {
  #pending = new Map<number, number>();
  #waiters = new Map<number, (status: number) => void>();
  #peeking = false;
  #siginfo = new Uint8Array(128);

  /** Takes tid's status if one is ready; never blocks. */
  poll(tid: number): number | null {
    const p = this.#pending.get(tid);
    if (p !== undefined) {
      this.#pending.delete(tid);
      return p;
    }
    const r = waitpid(tid, WNOHANG | WALL);
    return r === null ? null : r.raw;
  }

  /**
   * Blocks this thread until tid reports. Only for stops that follow promptly from what we
   * just did to tid (an injected system call, an interrupt), never for application code.
   */
  waitSync(tid: number): number {
    const p = this.#pending.get(tid);
    if (p !== undefined) {
      this.#pending.delete(tid);
      return p;
    }
    return waitpid(tid, WALL)!.raw;
  }

  /** Resolves with tid's next status, leaving the event loop free meanwhile. */
  wait(tid: number): Promise<number> {
    const now = this.poll(tid);
    if (now !== null) return Promise.resolve(now);
    return new Promise((resolve) => {
      this.#waiters.set(tid, resolve);
      this.#peek().catch(() => {
        // Nothing can be learnt about the tracees any more: wake everyone as "gone".
        for (const [t] of this.#waiters) this.#deliver(t, -1);
      });
    });
  }

  /** Forgets a thread that is gone, so that its late statuses are not kept. */
  forget(tid: number): void {
    this.#pending.delete(tid);
    this.#waiters.delete(tid);
  }

  async #peek(): Promise<void> {
    if (this.#peeking) return;
    this.#peeking = true;
    try {
      while (this.#waiters.size > 0) {
        this.#siginfo.fill(0);
        const r = await waitidAsync(P_ALL, 0, this.#siginfo, WEXITED | WSTOPPED | WNOWAIT | WALL);
        if (r !== 0) {
          // ECHILD: no tracee is left that could ever report; waking the waiters with a
          // status of -1 tells them their thread is gone.
          for (const [tid] of this.#waiters) this.#deliver(tid, -1);
          break;
        }
        const pid = new DataView(this.#siginfo.buffer).getInt32(16, true);
        if (pid === 0) continue;
        // The status may already have been taken on this thread (a poll, or the reaping of
        // a released stub); then there is nothing to deliver.
        let st = null;
        try {
          st = waitpid(pid, WNOHANG | WALL);
        } catch {
          // ECHILD: reaped meanwhile.
        }
        if (st !== null) this.#deliver(st.pid, st.raw);
      }
    } finally {
      this.#peeking = false;
    }
  }

  #deliver(tid: number, status: number): void {
    const w = this.#waiters.get(tid);
    if (w) {
      this.#waiters.delete(tid);
      w(status);
    } else {
      this.#pending.set(tid, status);
    }
  }
}
