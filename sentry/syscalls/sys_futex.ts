/**
 * futex(2), set_robust_list's counterpart get_robust_list(2).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import { readTimespec } from "./sys_time.ts";
import type { SyscallDef } from "./table.ts";
import { clockMs } from "../kernel/time.ts";
import { CLOCK_MONOTONIC } from "../../abi/linux/time.ts";
import { decodeValue, u32 } from "../../abi/linux/layout.ts";

const FUTEX_WAIT = 0;
const FUTEX_WAKE = 1;
const FUTEX_REQUEUE = 3;
const FUTEX_CMP_REQUEUE = 4;
const FUTEX_WAKE_OP = 5;
const FUTEX_WAIT_BITSET = 9;
const FUTEX_WAKE_BITSET = 10;
const FUTEX_PRIVATE_FLAG = 128;
const FUTEX_CLOCK_REALTIME = 256;
const FUTEX_BITSET_MATCH_ANY = 0xffffffff;

function readWord(t: Task, addr: bigint): number {
  if (addr & 3n) throw new SysError(Errno.EINVAL);
  return decodeValue(u32, t.mm.copyIn(addr, 4));
}

/**
 * Waits on addr while it holds val. `deadlineMs` is an absolute time on the clock given by
 * `realtime` (Date.now) or the monotonic clock (performance.now), or null for no timeout.
 */
async function wait(
  t: Task,
  addr: bigint,
  val: number,
  bitset: number,
  deadline: { ms: number; realtime: boolean } | null,
): Promise<number> {
  if (bitset === 0) throw new SysError(Errno.EINVAL);
  const k = t.kernel.futexes;
  const key = k.key(t.mm, addr);
  // The check and the queueing are one step: no waker runs in between on the Sentry's one
  // thread.
  if (readWord(t, addr) !== (val >>> 0)) throw new SysError(Errno.EAGAIN);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const r = await t.sleep<"woken" | "timeout">((done) => {
      const w = k.enqueue(key, bitset, () => done("woken"));
      if (deadline) {
        const left = () => deadline.ms - (deadline.realtime ? Date.now() : performance.now());
        const expire = () => {
          // A timer may fire a little early (its delay is rounded): never time out before the
          // deadline the application gave.
          if (left() > 0) {
            timer = setTimeout(expire, Math.max(1, Math.ceil(left())));
            return;
          }
          // Off the queue at once: a wake-up from now on is for someone else.
          k.cancel(w);
          done("timeout");
        };
        timer = setTimeout(expire, Math.max(0, Math.ceil(left())));
      }
      return () => k.cancel(w);
    });
    if (r === "timeout") throw new SysError(Errno.ETIMEDOUT);
    return 0;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** FUTEX_WAKE_OP's operation on the second word; returns whether to wake its waiters. */
function wakeOp(t: Task, addr2: bigint, encoded: number): boolean {
  const op = (encoded >>> 28) & 0x7;
  const cmp = (encoded >>> 24) & 0xf;
  let oparg = (encoded << 8) >> 20;
  const cmparg = (encoded << 20) >> 20;
  if (op & 8) oparg = 1 << (oparg & 31);
  const old = readWord(t, addr2);
  let next: number;
  switch (op & 7) {
    case 0:
      next = oparg;
      break;
    case 1:
      next = old + oparg;
      break;
    case 2:
      next = old | oparg;
      break;
    case 3:
      next = old & ~oparg;
      break;
    case 4:
      next = old ^ oparg;
      break;
    default:
      throw new SysError(Errno.ENOSYS);
  }
  t.mm.writeU32(addr2, next >>> 0);
  const o = old | 0;
  switch (cmp) {
    case 0:
      return o === cmparg;
    case 1:
      return o !== cmparg;
    case 2:
      return o < cmparg;
    case 3:
      return o <= cmparg;
    case 4:
      return o > cmparg;
    case 5:
      return o >= cmparg;
    default:
      throw new SysError(Errno.ENOSYS);
  }
}

/** Implements Linux syscall futex(2). */
function futex(t: Task): number | Promise<number> {
  const addr = argPtr(t, 0);
  const op = argInt(t, 1);
  const val = argInt(t, 2);
  const cmd = op & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
  const k = t.kernel.futexes;
  switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET: {
      const tsAddr = argPtr(t, 3);
      let deadline: { ms: number; realtime: boolean } | null = null;
      if (tsAddr !== 0n) {
        const ms = readTimespec(t, tsAddr);
        // FUTEX_WAIT takes a relative timeout; FUTEX_WAIT_BITSET an absolute one.
        deadline = cmd === FUTEX_WAIT
          ? { ms: performance.now() + ms, realtime: false }
          : (op & FUTEX_CLOCK_REALTIME)
          ? { ms, realtime: true }
          : { ms: ms - monotonicOffsetMs(), realtime: false };
      }
      const bitset = cmd === FUTEX_WAIT ? FUTEX_BITSET_MATCH_ANY : argInt(t, 5) >>> 0;
      return wait(t, addr, val, bitset, deadline);
    }
    case FUTEX_WAKE:
      return k.wake(t.mm, addr, val, FUTEX_BITSET_MATCH_ANY);
    case FUTEX_WAKE_BITSET: {
      const bitset = argInt(t, 5) >>> 0;
      if (bitset === 0) throw new SysError(Errno.EINVAL);
      return k.wake(t.mm, addr, val, bitset);
    }
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: {
      const nRequeue = Number(argPtr(t, 3) & 0x7fffffffn);
      const addr2 = argPtr(t, 4);
      if (val < 0 || nRequeue < 0) throw new SysError(Errno.EINVAL);
      const key1 = k.key(t.mm, addr);
      const key2 = k.key(t.mm, addr2);
      if (cmd === FUTEX_CMP_REQUEUE && readWord(t, addr) !== (argInt(t, 5) >>> 0)) {
        throw new SysError(Errno.EAGAIN);
      }
      return k.requeue(key1, key2, val, nRequeue);
    }
    case FUTEX_WAKE_OP: {
      const nWake2 = Number(argPtr(t, 3) & 0x7fffffffn);
      const addr2 = argPtr(t, 4);
      const key1 = k.key(t.mm, addr);
      const key2 = k.key(t.mm, addr2);
      const wake2 = wakeOp(t, addr2, argInt(t, 5));
      let n = k.wakeKey(key1, val, FUTEX_BITSET_MATCH_ANY);
      if (wake2) n += k.wakeKey(key2, nWake2, FUTEX_BITSET_MATCH_ANY);
      return n;
    }
    default:
      throw new SysError(Errno.ENOSYS);
  }
}

/**
 * Difference between CLOCK_MONOTONIC (ms) and performance.now(), for absolute deadlines. The
 * host clock is read first: a preemption between the two reads then moves the deadline later,
 * never earlier (read the other way round, a loaded host woke waiters before their time).
 */
function monotonicOffsetMs(): number {
  const mono = clockMs(CLOCK_MONOTONIC);
  return mono - performance.now();
}

/** Implements Linux syscall get_robust_list(2). */
function getRobustList(t: Task): number {
  const tid = argInt(t, 0);
  const target = tid === 0 ? t : t.kernel.tasks.get(tid);
  if (!target) throw new SysError(Errno.ESRCH);
  t.mm.writeU64(argPtr(t, 1), target.robustList);
  t.mm.writeU64(argPtr(t, 2), 24n);
  return 0;
}

export const syscalls: Record<string, SyscallDef> = {
  futex: {
    handler: futex,
    support: "partial",
    note: "no priority-inheritance (LOCK_PI) operations",
    args: ["x", "d", "d", "x", "x", "x"],
  },
  get_robust_list: { handler: getRobustList, args: ["d", "x", "x"] },
};
