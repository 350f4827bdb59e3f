/**
 * Clocks and sleeping: clock_gettime(2), clock_getres(2), gettimeofday(2), time(2),
 * nanosleep(2), clock_nanosleep(2), alarm(2), setitimer(2), getitimer(2).
 *
 * The realtime and monotonic clocks are the host's. Applications have no vDSO here, so every
 * read of the time is a system call.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { clockMs, HOST_CLOCKS, hostTime, hostTimespec } from "../kernel/time.ts";
import type { Task, ThreadGroup } from "../kernel/task.ts";
import { SIG } from "../../abi/linux/signal.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { SyscallDef } from "./table.ts";
import {
  CLOCK_MONOTONIC,
  CLOCK_MONOTONIC_COARSE,
  CLOCK_PROCESS_CPUTIME_ID,
  CLOCK_REALTIME,
  CLOCK_REALTIME_COARSE,
  CLOCK_THREAD_CPUTIME_ID,
  Itimerval,
  TIMER_ABSTIME,
  Timespec,
  timespecFromMs,
  timespecFromNs,
  timespecToMs,
  timespecValid,
  Timeval,
  timevalValid,
  USEC_PER_SEC,
} from "../../abi/linux/time.ts";

/** In a CPU-time clock id: the low two bits say which time, bit 2 a thread; ~pid above. */
const CPUCLOCK_VIRT = 1;
const CPUCLOCK_PERTHREAD = 4;

/**
 * The nanoseconds of CPU time a CPU-time clock reads (CLOCK_PROCESS_CPUTIME_ID,
 * CLOCK_THREAD_CPUTIME_ID, or an id from clock_getcpuclockid/pthread_getcpuclockid), or null
 * when `clock` is not one. EINVAL for a process or thread that is not there (a thread only in
 * the caller's own process, as Linux allows).
 */
function cpuClockNs(t: Task, clock: number): bigint | null {
  if (clock === CLOCK_PROCESS_CPUTIME_ID) clock = ~0 << 3;
  else if (clock === CLOCK_THREAD_CPUTIME_ID) clock = (~0 << 3) | CPUCLOCK_PERTHREAD;
  else if (clock >= 0) return null;
  const which = clock & 3;
  if (which === 3) throw new SysError(Errno.EINVAL);
  const pid = ~(clock >> 3);
  let cpu;
  if (clock & CPUCLOCK_PERTHREAD) {
    const o = pid === 0 ? t : t.kernel.tasks.get(pid);
    if (!o || o.tg !== t.tg) throw new SysError(Errno.EINVAL);
    cpu = o.ctx.cpuTime();
  } else {
    const o = pid === 0 ? t : t.kernel.tasks.get(pid);
    if (!o || (pid !== 0 && o.tg.pid !== pid) || o.tg.zombie) throw new SysError(Errno.EINVAL);
    cpu = o.tg.cpuTime();
  }
  return which === CPUCLOCK_VIRT ? cpu.user : cpu.user + cpu.sys;
}

/** Implements Linux syscall clock_gettime(2). */
function clockGettime(t: Task): number {
  const clock = argInt(t, 0);
  const cpu = cpuClockNs(t, clock);
  if (cpu !== null) {
    t.mm.copyOut(argPtr(t, 1), Timespec.encode(timespecFromNs(cpu)));
    return 0;
  }
  if (!HOST_CLOCKS.has(clock)) throw new SysError(Errno.EINVAL);
  t.mm.copyOut(argPtr(t, 1), hostTimespec(clock));
  return 0;
}

/**
 * Implements Linux syscall clock_settime(2): the sandbox's clocks are the host's, which it may
 * not set, so the one settable clock answers EPERM as it does for a process without
 * CAP_SYS_TIME.
 */
function clockSettime(t: Task): number {
  const clock = argInt(t, 0);
  readTimespec(t, argPtr(t, 1));
  if (clock !== CLOCK_REALTIME) throw new SysError(Errno.EINVAL);
  throw new SysError(Errno.EPERM);
}

/** Implements Linux syscall clock_getres(2). */
function clockGetres(t: Task): number {
  const clock = argInt(t, 0);
  if (cpuClockNs(t, clock) === null && !HOST_CLOCKS.has(clock)) {
    throw new SysError(Errno.EINVAL);
  }
  const addr = argPtr(t, 1);
  if (addr === 0n) return 0;
  const coarse = clock === CLOCK_REALTIME_COARSE || clock === CLOCK_MONOTONIC_COARSE;
  t.mm.copyOut(addr, Timespec.encode({ nsec: coarse ? 4_000_000n : 1n }));
  return 0;
}

/** Implements Linux syscall gettimeofday(2). */
function gettimeofday(t: Task): number {
  const tv = argPtr(t, 0);
  if (tv !== 0n) {
    const now = hostTime(CLOCK_REALTIME);
    t.mm.copyOut(tv, Timeval.encode({ sec: now.sec, usec: now.nsec / 1000n }));
  }
  const tz = argPtr(t, 1);
  if (tz !== 0n) t.mm.copyOut(tz, new Uint8Array(8));
  return 0;
}

/** Implements Linux syscall time(2). */
function time(t: Task): bigint {
  const secs = hostTime(CLOCK_REALTIME).sec;
  const addr = argPtr(t, 0);
  if (addr !== 0n) t.mm.writeU64(addr, secs);
  return secs;
}

/** Reads a struct timespec; returns milliseconds. EINVAL for a malformed one. */
export function readTimespec(t: Task, addr: bigint): number {
  const ts = Timespec.decode(t.mm.copyIn(addr, Timespec.size));
  if (!timespecValid(ts)) throw new SysError(Errno.EINVAL);
  return timespecToMs(ts);
}

function writeTimespec(t: Task, addr: bigint, ms: number): void {
  t.mm.copyOut(addr, Timespec.encode(timespecFromMs(ms)));
}

/**
 * Sleeps until `deadline` on `clock` (ms); a signal ends the sleep with ERESTART_RESTARTBLOCK,
 * writing the time left to `rem` when given.
 */
async function sleepUntil(t: Task, clock: number, deadline: number, rem: bigint): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const left = () => Math.max(0, deadline - clockMs(clock));
  try {
    await t.block(
      new Promise<void>((r) => (timer = setTimeout(r, left()))),
      Errno.ERESTART_RESTARTBLOCK,
    );
    // Host timers may fire a little early; finish the sleep so it is never short.
    for (let l = left(); l > 0; l = left()) {
      await t.block(
        new Promise<void>((r) => (timer = setTimeout(r, l))),
        Errno.ERESTART_RESTARTBLOCK,
      );
    }
    return 0;
  } catch (e) {
    if (e instanceof SysError && rem !== 0n) writeTimespec(t, rem, left());
    throw e;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** Implements Linux syscall nanosleep(2). */
function nanosleep(t: Task): Promise<number> {
  const ms = readTimespec(t, argPtr(t, 0));
  return sleepUntil(t, CLOCK_MONOTONIC, clockMs(CLOCK_MONOTONIC) + ms, argPtr(t, 1));
}

/** Implements Linux syscall clock_nanosleep(2). */
function clockNanosleep(t: Task): Promise<number> {
  const clock = argInt(t, 0);
  const flags = argInt(t, 1);
  const ms = readTimespec(t, argPtr(t, 2));
  const abs = (flags & TIMER_ABSTIME) !== 0;
  const rem = abs ? 0n : argPtr(t, 3);
  const cpu = cpuClockNs(t, clock);
  if (cpu !== null) {
    // The caller's own thread clock cannot advance while it sleeps.
    const pid = ~(clock >> 3);
    if (clock === CLOCK_THREAD_CPUTIME_ID) throw new SysError(Errno.EINVAL);
    if ((clock & CPUCLOCK_PERTHREAD) && (pid === 0 || pid === t.tid)) {
      throw new SysError(Errno.EINVAL);
    }
    const ns = BigInt(Math.round(ms * 1e6));
    return sleepOnCpuClock(t, clock, abs ? ns : cpu + ns, rem);
  }
  if (!HOST_CLOCKS.has(clock)) throw new SysError(Errno.EINVAL);
  return sleepUntil(t, clock, abs ? ms : clockMs(clock) + ms, rem);
}

/** The longest wait between two readings of a CPU-time clock that a sleep makes. */
const CPU_SLEEP_POLL_MS = 20;

/**
 * Sleeps until CPU-time `clock` reads `deadline` (ns). No host timer fires on another task's
 * CPU time, so the clock is read again after as long as the remaining time takes at the least
 * (every host CPU running the clock's threads), bounded by CPU_SLEEP_POLL_MS. A signal ends the
 * sleep as sleepUntil's does, with the CPU time left in `rem`.
 */
async function sleepOnCpuClock(
  t: Task,
  clock: number,
  deadline: bigint,
  rem: bigint,
): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const cpus = navigator.hardwareConcurrency || 1;
  let left = deadline - cpuClockNs(t, clock)!;
  try {
    while (left > 0n) {
      const ms = Math.min(CPU_SLEEP_POLL_MS, Math.max(1, Number(left) / 1e6 / cpus));
      await t.block(
        new Promise<void>((r) => (timer = setTimeout(r, ms))),
        Errno.ERESTART_RESTARTBLOCK,
      );
      left = deadline - cpuClockNs(t, clock)!;
    }
    return 0;
  } catch (e) {
    if (e instanceof SysError && e.errno !== Errno.EINVAL && rem !== 0n) {
      try {
        left = deadline - cpuClockNs(t, clock)!;
      } catch { /* the clock's process is gone: the last reading stands */ }
      writeTimespec(t, rem, Math.max(0, Number(left) / 1e6));
    }
    throw e;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** An interval timer of a process (ITIMER_REAL and, on wall time, VIRTUAL and PROF). */
interface ITimer {
  deadline: number;
  intervalMs: number;
  handle: ReturnType<typeof setTimeout>;
}

const ITIMER_SIGNALS = [SIG.ALRM, SIG.VTALRM, SIG.PROF];
const itimers = new WeakMap<ThreadGroup, (ITimer | null)[]>();

function timersOf(tg: ThreadGroup): (ITimer | null)[] {
  let a = itimers.get(tg);
  if (!a) {
    a = [null, null, null];
    itimers.set(tg, a);
  }
  return a;
}

/** Arms (or, with valueMs 0, disarms) timer `which`; returns the old [value, interval] ms. */
function setITimer(
  tg: ThreadGroup,
  which: number,
  valueMs: number,
  intervalMs: number,
): [number, number] {
  const a = timersOf(tg);
  const old = a[which];
  const prev: [number, number] = old
    ? [Math.max(0, old.deadline - performance.now()), old.intervalMs]
    : [0, 0];
  if (old) clearTimeout(old.handle);
  a[which] = null;
  if (valueMs > 0) {
    const arm = (ms: number) => {
      const it: ITimer = {
        deadline: performance.now() + ms,
        intervalMs,
        handle: setTimeout(() => {
          a[which] = null;
          if (tg.exiting || tg.zombie) return;
          tg.sendSignal({ signo: ITIMER_SIGNALS[which], errno: 0, code: 0x80 /* SI_KERNEL */ });
          if (intervalMs > 0) arm(intervalMs);
        }, ms),
      };
      a[which] = it;
    };
    arm(valueMs);
  }
  return prev;
}

/** A valid timeval as milliseconds. EINVAL for a malformed one. */
function timevalMs(tv: { sec: bigint; usec: bigint }): number {
  if (!timevalValid(tv)) throw new SysError(Errno.EINVAL);
  return Number(tv.sec) * 1000 + Number(tv.usec) / 1000;
}

function encodeItimerval([value, interval]: [number, number]): Uint8Array {
  // Rounded up: a timer with time left never reads as disarmed.
  const tv = (ms: number) => {
    const us = BigInt(Math.ceil(ms * 1000));
    return { sec: us / USEC_PER_SEC, usec: us % USEC_PER_SEC };
  };
  return Itimerval.encode({ interval: tv(interval), value: tv(value) });
}

/** Implements Linux syscall setitimer(2). */
function setitimer(t: Task): number {
  const which = argInt(t, 0);
  if (which < 0 || which > 2) throw new SysError(Errno.EINVAL);
  const nv = argPtr(t, 1);
  const ov = argPtr(t, 2);
  let interval = 0;
  let value = 0;
  if (nv !== 0n) {
    const it = Itimerval.decode(t.mm.copyIn(nv, Itimerval.size));
    interval = timevalMs(it.interval);
    value = timevalMs(it.value);
  }
  const old = setITimer(t.tg, which, value, interval);
  if (ov !== 0n) t.mm.copyOut(ov, encodeItimerval(old));
  return 0;
}

/** Implements Linux syscall getitimer(2). */
function getitimer(t: Task): number {
  const which = argInt(t, 0);
  if (which < 0 || which > 2) throw new SysError(Errno.EINVAL);
  const it = timersOf(t.tg)[which];
  const cur: [number, number] = it
    ? [Math.max(0, it.deadline - performance.now()), it.intervalMs]
    : [0, 0];
  t.mm.copyOut(argPtr(t, 1), encodeItimerval(cur));
  return 0;
}

/** Implements Linux syscall alarm(2). */
function alarm(t: Task): number {
  const secs = Number(BigInt.asUintN(32, argPtr(t, 0)));
  const [old] = setITimer(t.tg, 0, secs * 1000, 0);
  // Linux rounds a partial second up, and never reports 0 for a pending alarm.
  return old > 0 ? Math.max(1, Math.round(old / 1000)) : 0;
}

export const syscalls: Record<string, SyscallDef> = {
  clock_gettime: { handler: clockGettime, args: ["d", "x"] },
  clock_getres: { handler: clockGetres, args: ["d", "x"] },
  clock_settime: {
    handler: clockSettime,
    support: "partial",
    note: "the clocks are the host's: setting CLOCK_REALTIME is EPERM, even with CAP_SYS_TIME",
    args: ["d", "x"],
  },
  gettimeofday: { handler: gettimeofday, args: ["x", "x"] },
  time: { handler: time, args: ["x"] },
  nanosleep: { handler: nanosleep, args: ["x", "x"] },
  clock_nanosleep: { handler: clockNanosleep, args: ["d", "d", "x", "x"] },
  setitimer: {
    handler: setitimer,
    support: "partial",
    note: "ITIMER_VIRTUAL and ITIMER_PROF count wall time, not CPU time",
    args: ["d", "x", "x"],
  },
  getitimer: { handler: getitimer, args: ["d", "x"] },
  alarm: { handler: alarm, args: ["d"] },
};
