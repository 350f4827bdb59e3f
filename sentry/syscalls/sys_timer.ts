/**
 * POSIX per-process timers: timer_create(2), timer_settime(2), timer_gettime(2),
 * timer_getoverrun(2), timer_delete(2).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { clockMs, HOST_CLOCKS } from "../kernel/time.ts";
import { SI } from "../kernel/signal.ts";
import { SIG } from "../../abi/linux/signal.ts";
import type { Task, ThreadGroup } from "../kernel/task.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { SyscallDef } from "./table.ts";
import {
  Itimerspec,
  TIMER_ABSTIME,
  timespecFromMs,
  timespecToMs,
  timespecValid,
} from "../../abi/linux/time.ts";
import { SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD_ID, Sigevent } from "../../abi/linux/signal.ts";

/** Timers run on the host's clocks. */
const CLOCKS = HOST_CLOCKS;
const MAX_TIMERS = 1 << 16;

interface PosixTimer {
  id: number;
  clock: number;
  notify: number;
  signo: number;
  value: bigint;
  /** For SIGEV_THREAD_ID: the thread to signal. */
  tid: number;
  /** Absolute expiry on performance.now()'s clock, or 0 when disarmed. */
  expiry: number;
  intervalMs: number;
  overrun: number;
  handle?: ReturnType<typeof setTimeout>;
}

const timers = new WeakMap<ThreadGroup, Map<number, PosixTimer>>();

function table(tg: ThreadGroup): Map<number, PosixTimer> {
  let m = timers.get(tg);
  if (!m) {
    m = new Map();
    timers.set(tg, m);
  }
  return m;
}

function get(t: Task, id: number): PosixTimer {
  const p = table(t.tg).get(id);
  if (!p) throw new SysError(Errno.EINVAL);
  return p;
}

/** Implements Linux syscall timer_create(2). */
function timerCreate(t: Task): number {
  const clock = argInt(t, 0);
  if (!CLOCKS.has(clock)) throw new SysError(Errno.EINVAL);
  const sevp = argPtr(t, 1);
  const m = table(t.tg);
  let id = 0;
  while (m.has(id)) id++;
  if (id >= MAX_TIMERS) throw new SysError(Errno.EAGAIN);
  const timer: PosixTimer = {
    id,
    clock,
    notify: SIGEV_SIGNAL,
    signo: SIG.ALRM,
    value: BigInt(id),
    tid: 0,
    expiry: 0,
    intervalMs: 0,
    overrun: 0,
  };
  if (sevp !== 0n) {
    const ev = Sigevent.decode(t.mm.copyIn(sevp, Sigevent.size));
    timer.value = ev.value;
    timer.signo = ev.signo;
    timer.notify = ev.notify;
    timer.tid = ev.tid;
    if (timer.notify !== SIGEV_NONE) {
      if (timer.signo < 1 || timer.signo > 64) throw new SysError(Errno.EINVAL);
    }
    if (timer.notify === SIGEV_THREAD_ID) {
      const target = t.kernel.tasks.get(timer.tid);
      if (!target || target.tg !== t.tg) throw new SysError(Errno.EINVAL);
    } else if (timer.notify !== SIGEV_SIGNAL && timer.notify !== SIGEV_NONE) {
      throw new SysError(Errno.EINVAL);
    }
  }
  m.set(id, timer);
  t.mm.writeU32(argPtr(t, 2), id);
  return 0;
}

function fire(tg: ThreadGroup, p: PosixTimer): void {
  p.handle = undefined;
  if (tg.exiting || tg.zombie) return;
  const info = {
    signo: p.signo,
    errno: 0,
    code: SI.TIMER,
    pid: p.id,
    uid: p.overrun,
    value: p.value,
  };
  if (p.notify === SIGEV_THREAD_ID) tg.kernel.tasks.get(p.tid)?.sendSignal(info);
  else if (p.notify === SIGEV_SIGNAL) tg.sendSignal(info);
  if (p.intervalMs > 0) {
    p.expiry += p.intervalMs;
    const now = performance.now();
    p.overrun = 0;
    while (p.expiry < now) {
      p.expiry += p.intervalMs;
      p.overrun++;
    }
    p.handle = setTimeout(() => fire(tg, p), p.expiry - now);
  } else {
    p.expiry = 0;
  }
}

function readItimerspec(t: Task, addr: bigint): { interval: number; value: number } {
  const spec = Itimerspec.decode(t.mm.copyIn(addr, Itimerspec.size));
  if (!timespecValid(spec.interval) || !timespecValid(spec.value)) {
    throw new SysError(Errno.EINVAL);
  }
  return { interval: timespecToMs(spec.interval), value: timespecToMs(spec.value) };
}

function writeItimerspec(t: Task, addr: bigint, p: PosixTimer): void {
  const left = p.expiry ? Math.max(0.000001, p.expiry - performance.now()) : 0;
  t.mm.copyOut(
    addr,
    Itimerspec.encode({ interval: timespecFromMs(p.intervalMs), value: timespecFromMs(left) }),
  );
}

/** Implements Linux syscall timer_settime(2). */
function timerSettime(t: Task): number {
  const p = get(t, argInt(t, 0));
  const flags = argInt(t, 1);
  const spec = readItimerspec(t, argPtr(t, 2));
  const old = argPtr(t, 3);
  if (old !== 0n) writeItimerspec(t, old, p);
  if (p.handle !== undefined) clearTimeout(p.handle);
  p.handle = undefined;
  p.intervalMs = spec.interval;
  p.overrun = 0;
  if (spec.value === 0) {
    p.expiry = 0;
    return 0;
  }
  const delay = (flags & TIMER_ABSTIME) ? Math.max(0, spec.value - clockMs(p.clock)) : spec.value;
  p.expiry = performance.now() + delay;
  const tg = t.tg;
  p.handle = setTimeout(() => fire(tg, p), delay);
  return 0;
}

/** Implements Linux syscall timer_gettime(2). */
function timerGettime(t: Task): number {
  writeItimerspec(t, argPtr(t, 1), get(t, argInt(t, 0)));
  return 0;
}

/** Implements Linux syscall timer_delete(2). */
function timerDelete(t: Task): number {
  const p = get(t, argInt(t, 0));
  if (p.handle !== undefined) clearTimeout(p.handle);
  table(t.tg).delete(p.id);
  return 0;
}

export const syscalls: Record<string, SyscallDef> = {
  timer_create: {
    handler: timerCreate,
    support: "partial",
    note: "CPU-time clocks are not offered",
    args: ["d", "x", "x"],
  },
  timer_settime: { handler: timerSettime, args: ["d", "x", "x", "x"] },
  timer_gettime: { handler: timerGettime, args: ["d", "x"] },
  timer_getoverrun: { handler: (t: Task) => get(t, argInt(t, 0)).overrun, args: ["d"] },
  timer_delete: { handler: timerDelete, args: ["d"] },
};
