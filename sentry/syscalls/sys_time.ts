/**
 * Clocks: clock_gettime(2), clock_getres(2), gettimeofday(2), time(2).
 *
 * The realtime and monotonic clocks are the host's. Applications have no vDSO here, so every
 * read of the time is a system call.
 *
 * @module
 */

import { Errno } from "../../host/errno.ts";
import { libc } from "../../host/libc.ts";
import type { Task } from "../kernel/task.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "./errors.ts";
import type { SyscallDef } from "./table.ts";

const CLOCK_REALTIME = 0;
const CLOCK_MONOTONIC = 1;
const CLOCK_MONOTONIC_RAW = 4;
const CLOCK_REALTIME_COARSE = 5;
const CLOCK_MONOTONIC_COARSE = 6;
const CLOCK_BOOTTIME = 7;
const HOST_CLOCKS = new Set([
  CLOCK_REALTIME,
  CLOCK_MONOTONIC,
  CLOCK_MONOTONIC_RAW,
  CLOCK_REALTIME_COARSE,
  CLOCK_MONOTONIC_COARSE,
  CLOCK_BOOTTIME,
]);

const ts = new Uint8Array(16);

/** The host's clock as a struct timespec (16 bytes). */
function hostTime(clock: number): Uint8Array<ArrayBuffer> {
  if (libc.symbols.clock_gettime(clock, ts) !== 0) throw new SysError(Errno.EINVAL);
  return ts.slice();
}

/** Implements Linux syscall clock_gettime(2). */
function clockGettime(t: Task): number {
  const clock = argInt(t, 0);
  if (!HOST_CLOCKS.has(clock)) throw new SysError(Errno.EINVAL);
  t.mm.copyOut(argPtr(t, 1), hostTime(clock));
  return 0;
}

/** Implements Linux syscall clock_getres(2). */
function clockGetres(t: Task): number {
  const clock = argInt(t, 0);
  if (!HOST_CLOCKS.has(clock)) throw new SysError(Errno.EINVAL);
  const addr = argPtr(t, 1);
  if (addr === 0n) return 0;
  const coarse = clock === CLOCK_REALTIME_COARSE || clock === CLOCK_MONOTONIC_COARSE;
  const b = new Uint8Array(16);
  new DataView(b.buffer).setBigInt64(8, coarse ? 4_000_000n : 1n, true);
  t.mm.copyOut(addr, b);
  return 0;
}

/** Implements Linux syscall gettimeofday(2). */
function gettimeofday(t: Task): number {
  const tv = argPtr(t, 0);
  if (tv !== 0n) {
    const v = new DataView(hostTime(CLOCK_REALTIME).buffer);
    const out = new Uint8Array(16);
    const o = new DataView(out.buffer);
    o.setBigInt64(0, v.getBigInt64(0, true), true);
    o.setBigInt64(8, v.getBigInt64(8, true) / 1000n, true);
    t.mm.copyOut(tv, out);
  }
  const tz = argPtr(t, 1);
  if (tz !== 0n) t.mm.copyOut(tz, new Uint8Array(8));
  return 0;
}

/** Implements Linux syscall time(2). */
function time(t: Task): bigint {
  const secs = new DataView(hostTime(CLOCK_REALTIME).buffer).getBigInt64(0, true);
  const addr = argPtr(t, 0);
  if (addr !== 0n) t.mm.writeU64(addr, secs);
  return secs;
}

const cpuNote = "host realtime, monotonic and boottime clocks; CPU-time clocks answer EINVAL";

export const syscalls: Record<string, SyscallDef> = {
  clock_gettime: { handler: clockGettime, support: "partial", note: cpuNote, args: ["d", "x"] },
  clock_getres: { handler: clockGetres, support: "partial", note: cpuNote, args: ["d", "x"] },
  gettimeofday: { handler: gettimeofday, args: ["x", "x"] },
  time: { handler: time, args: ["x"] },
};
