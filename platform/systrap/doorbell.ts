/**
 * The doorbell of one Systrap address space: how the Sentry sleeps while its threads run
 * application code, without blocking the JavaScript thread.
 *
 * Every stop of a stub thread increments a counter in the address space's region 0 and, if
 * the Sentry armed the bell, wakes it (a futex on that shared page). One wait on a runtime
 * thread (futexWaitAsync) serves every waiting thread of the address space, however many.
 * Arm-then-check on the Sentry's side and count-then-check-armed on the stub's, each with a
 * locked instruction, so that no stop is missed.
 *
 * The words are in application-writable memory: a hostile value only makes the Sentry look
 * again (spurious wake-ups) or sleep until its timeout, after which it looks at every waiting
 * thread anyway and notices the ones that died; it never trusts the count for anything else.
 *
 * @module
 */

import { futexWaitAsync, futexWaitShared, futexWake } from "../../host/systrap.ts";
import type { Region, StubThread, SystrapSpace } from "./address_space.ts";
import { BELL, CTL, STATE } from "./stub.ts";

/** How long the Sentry sleeps at most before it looks at its waiting threads again. */
const TIMEOUT_NS = 50_000_000n;

export class Doorbell {
  #waiters = new Map<StubThread, { resolve: (stopped: boolean) => void; giveUp: () => boolean }>();
  #watching = false;
  #released = false;

  constructor(readonly space: SystrapSpace, readonly region: Region) {}

  /**
   * Resolves true once `t` has stopped in its handler, false if it is gone or if `giveUp`
   * says so when the Sentry looks again after a timeout.
   */
  wait(t: StubThread, giveUp: () => boolean): Promise<boolean> {
    if (this.#released) return Promise.resolve(false);
    const p = new Promise<boolean>((resolve) => this.#waiters.set(t, { resolve, giveUp }));
    this.#watch();
    return p;
  }

  /**
   * Waits on this thread, at most `ns`, for `t` to stop: the cheapest hand-over when the
   * call is short (the host switches straight to the stub thread and back), bounded so that
   * the JavaScript thread is never held long. True if it stopped.
   */
  waitBriefly(t: StubThread, ns: bigint): boolean {
    const words = this.region.i32;
    const stopped = () => Atomics.load(t.region.i32, CTL.state / 4) === STATE.stopped;
    const end = performance.now() + Number(ns) / 1e6;
    while (!stopped()) {
      const seen = Atomics.load(words, BELL.count / 4);
      Atomics.exchange(words, BELL.armed / 4, 1);
      if (stopped()) return true;
      const left = end - performance.now();
      if (left <= 0) return false;
      futexWaitShared(
        this.region.hostAddr + BigInt(BELL.count),
        seen,
        BigInt(Math.ceil(left * 1e6)),
      );
    }
    return true;
  }

  /** Resolves the waiter of `t` if there is one and `t` has stopped. */
  collectOne(t: StubThread): void {
    const w = this.#waiters.get(t);
    if (w && Atomics.load(t.region.i32, CTL.state / 4) === STATE.stopped) {
      this.#waiters.delete(t);
      w.resolve(true);
    }
  }

  /**
   * Resolves the waiters whose thread stopped; after a timeout, also those that died or
   * whose waiter gives up.
   */
  #collect(timedOut: boolean): void {
    for (const [t, w] of this.#waiters) {
      if (Atomics.load(t.region.i32, CTL.state / 4) === STATE.stopped) {
        this.#waiters.delete(t);
        w.resolve(true);
      } else if (timedOut && (!this.space.alive(t) || w.giveUp())) {
        this.#waiters.delete(t);
        w.resolve(false);
      }
    }
  }

  async #watch(): Promise<void> {
    if (this.#watching) return;
    this.#watching = true;
    const words = this.region.i32;
    const count = this.region.hostAddr + BigInt(BELL.count);
    let checkAlive = false;
    try {
      while (this.#waiters.size > 0 && !this.#released) {
        this.#collect(checkAlive);
        if (this.#waiters.size === 0) break;
        const seen = Atomics.load(words, BELL.count / 4);
        Atomics.exchange(words, BELL.armed / 4, 1);
        this.#collect(false);
        if (this.#waiters.size === 0) break;
        const start = performance.now();
        await futexWaitAsync(count, seen, { shared: true, timeoutNs: TIMEOUT_NS });
        checkAlive = performance.now() - start >= Number(TIMEOUT_NS / 1_000_000n) - 1;
      }
    } finally {
      this.#watching = false;
    }
  }

  /** Wakes every waiter as gone, and the runtime thread if it sleeps. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    for (const [, w] of this.#waiters) w.resolve(false);
    this.#waiters.clear();
    Atomics.add(this.region.i32, BELL.count / 4, 1);
    futexWake(this.region.hostAddr + BigInt(BELL.count), true);
  }
}
