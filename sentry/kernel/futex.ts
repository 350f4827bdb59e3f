/**
 * Futex wait queues (futex(2)).
 *
 * Waiters are keyed by MemoryManager.futexKey: the memory itself for shared memory, and the
 * address space and address for private memory. The Sentry serves every futex call on one
 * thread, so checking the word and queueing the waiter is atomic with respect to wakers.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { MemoryManager } from "../mm/mm.ts";
import { SysError } from "../../abi/linux/error.ts";
import { decodeValue, u32 } from "../../abi/linux/layout.ts";

export interface Waiter {
  key: bigint;
  bitset: number;
  wake: () => void;
}

const FUTEX_WAITERS = 0x80000000;
const FUTEX_OWNER_DIED = 0x40000000;
const FUTEX_TID_MASK = 0x3fffffff;
/** Entries of a robust list walked at most (ROBUST_LIST_LIMIT), so a loop cannot hang us. */
const ROBUST_LIST_LIMIT = 2048;

/**
 * Releases the robust futexes a dying thread holds (the list set_robust_list registered):
 * each word whose owner is `tid` gets FUTEX_OWNER_DIED, and one waiter is woken, so that
 * the next locker learns the owner died instead of waiting for ever.
 */
export function exitRobustList(
  futexes: FutexManager,
  mm: MemoryManager,
  head: bigint,
  tid: number,
): void {
  if (head === 0n) return;
  const release = (entry: bigint, offset: bigint) => {
    const addr = entry + offset;
    const b = mm.copyIn(addr, 4);
    const word = decodeValue(u32, b);
    if ((word & FUTEX_TID_MASK) !== tid) return;
    mm.writeU32(addr, ((word & FUTEX_WAITERS) | FUTEX_OWNER_DIED) >>> 0);
    if (word & FUTEX_WAITERS) futexes.wake(mm, addr, 1, 0xffffffff);
  };
  try {
    const offset = BigInt.asIntN(64, mm.readU64(head + 8n));
    const pending = mm.readU64(head + 16n);
    let entry = mm.readU64(head);
    for (let n = 0; entry !== head && entry !== 0n && n < ROBUST_LIST_LIMIT; n++) {
      const next = mm.readU64(entry);
      // The entry being taken or released right now is handled last (list_op_pending).
      if (entry !== pending) release(entry, offset);
      entry = next;
    }
    if (pending !== 0n) release(pending, offset);
  } catch {
    // A corrupt list or unmapped memory: stop, as Linux does.
  }
}

export class FutexManager {
  #queues = new Map<bigint, Waiter[]>();

  /** The key of the futex word at addr; EINVAL if misaligned, EFAULT if unmapped. */
  key(mm: MemoryManager, addr: bigint): bigint {
    if (addr & 3n) throw new SysError(Errno.EINVAL);
    return mm.futexKey(addr);
  }

  /**
   * Queues a waiter on `key` (from key()); `wake` is called once, after the waiter has left
   * the queue, if a wake-up picks it. Returns the waiter for cancel().
   */
  enqueue(key: bigint, bitset: number, wake: () => void): Waiter {
    const w: Waiter = { key, bitset, wake };
    const q = this.#queues.get(key);
    if (q) q.push(w);
    else this.#queues.set(key, [w]);
    return w;
  }

  /** Takes a waiter off its queue (a timeout, a signal); nothing if a wake-up took it. */
  cancel(w: Waiter): void {
    const q = this.#queues.get(w.key);
    if (!q) return;
    const i = q.indexOf(w);
    if (i >= 0) q.splice(i, 1);
    if (q.length === 0) this.#queues.delete(w.key);
  }

  /** Wakes up to n waiters on addr whose bitset intersects `bitset`; returns how many. */
  wake(mm: MemoryManager, addr: bigint, n: number, bitset: number): number {
    return this.wakeKey(this.key(mm, addr), n, bitset);
  }

  wakeKey(key: bigint, n: number, bitset: number): number {
    const q = this.#queues.get(key);
    if (!q) return 0;
    let woken = 0;
    for (let i = 0; i < q.length && woken < n;) {
      if ((q[i].bitset & bitset) !== 0) {
        const [w] = q.splice(i, 1);
        w.wake();
        woken++;
      } else {
        i++;
      }
    }
    if (q.length === 0) this.#queues.delete(key);
    return woken;
  }

  /** Wakes up to nWake waiters on key1 and moves up to nRequeue of the rest to key2. */
  requeue(key1: bigint, key2: bigint, nWake: number, nRequeue: number): number {
    const woken = this.wakeKey(key1, nWake, 0xffffffff);
    const q = this.#queues.get(key1);
    if (!q) return woken;
    const moved = q.splice(0, nRequeue);
    if (q.length === 0) this.#queues.delete(key1);
    for (const w of moved) {
      w.key = key2;
      const q2 = this.#queues.get(key2);
      if (q2) q2.push(w);
      else this.#queues.set(key2, [w]);
    }
    return woken + moved.length;
  }
}
