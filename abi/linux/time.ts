/**
 * The Linux time ABI on x86-64: clock ids and struct timespec, timeval, itimerspec and
 * itimerval, with the conversions between them and nanoseconds.
 *
 * @module
 */

import { i64, struct } from "./layout.ts";

export const CLOCK_REALTIME = 0;
export const CLOCK_MONOTONIC = 1;
export const CLOCK_PROCESS_CPUTIME_ID = 2;
export const CLOCK_THREAD_CPUTIME_ID = 3;
export const CLOCK_MONOTONIC_RAW = 4;
export const CLOCK_REALTIME_COARSE = 5;
export const CLOCK_MONOTONIC_COARSE = 6;
export const CLOCK_BOOTTIME = 7;
export const CLOCK_REALTIME_ALARM = 8;
export const CLOCK_BOOTTIME_ALARM = 9;

/** clock_nanosleep(2), timer_settime(2), timerfd_settime(2): the time is absolute. */
export const TIMER_ABSTIME = 1;

export const NSEC_PER_SEC = 1_000_000_000n;
export const USEC_PER_SEC = 1_000_000n;

/** struct timespec. */
export const Timespec = struct("timespec", 16, { sec: [0, i64], nsec: [8, i64] });
/** struct timeval. */
export const Timeval = struct("timeval", 16, { sec: [0, i64], usec: [8, i64] });
/** struct itimerspec. */
export const Itimerspec = struct("itimerspec", 32, {
  interval: [0, Timespec],
  value: [16, Timespec],
});
/** struct itimerval. */
export const Itimerval = struct("itimerval", 32, {
  interval: [0, Timeval],
  value: [16, Timeval],
});

/**
 * ns as a timespec. A time before the epoch keeps tv_nsec in [0, 1e9) and carries the sign
 * in tv_sec, as Linux normalizes it.
 */
export function timespecFromNs(ns: bigint): { sec: bigint; nsec: bigint } {
  let sec = ns / NSEC_PER_SEC, nsec = ns % NSEC_PER_SEC;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += NSEC_PER_SEC;
  }
  return { sec, nsec };
}

/** A timespec's nanoseconds; the caller has checked that tv_nsec is in range. */
export function nsFromTimespec(ts: { sec: bigint; nsec: bigint }): bigint {
  return ts.sec * NSEC_PER_SEC + ts.nsec;
}

/** Whether a timespec is one Linux accepts as a duration or time (timespec64_valid). */
export function timespecValid(ts: { sec: bigint; nsec: bigint }): boolean {
  return ts.sec >= 0n && ts.nsec >= 0n && ts.nsec < NSEC_PER_SEC;
}

/** Whether a timeval is valid (its tv_usec in range, no negative time). */
export function timevalValid(tv: { sec: bigint; usec: bigint }): boolean {
  return tv.sec >= 0n && tv.usec >= 0n && tv.usec < USEC_PER_SEC;
}

/** A valid timespec as milliseconds (the Sentry's timers count in them). */
export function timespecToMs(ts: { sec: bigint; nsec: bigint }): number {
  return Number(ts.sec) * 1000 + Number(ts.nsec) / 1e6;
}

/** A duration in milliseconds as a timespec, rounded to the nanosecond (never negative). */
export function timespecFromMs(ms: number): { sec: bigint; nsec: bigint } {
  return timespecFromNs(BigInt(Math.max(0, Math.round(ms * 1e6))));
}

/** ns as a timeval, truncated to the microsecond as Linux reports times. */
export function timevalFromNs(ns: bigint): { sec: bigint; usec: bigint } {
  const { sec, nsec } = timespecFromNs(ns);
  return { sec, usec: nsec / 1000n };
}

/** struct utimbuf (utime(2)), in whole seconds. */
export const Utimbuf = struct("utimbuf", 16, { actime: [0, i64], modtime: [8, i64] });
