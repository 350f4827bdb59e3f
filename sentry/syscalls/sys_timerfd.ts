/**
 * timerfd_create(2), timerfd_settime(2), timerfd_gettime(2).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { TimerFd } from "../fs/timerfd.ts";
import { O_CLOEXEC, O_NONBLOCK, O_RDONLY } from "../vfs/file.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { SyscallDef } from "./table.ts";
import {
  CLOCK_BOOTTIME,
  CLOCK_MONOTONIC,
  CLOCK_REALTIME,
  Itimerspec,
  nsFromTimespec,
  timespecFromNs,
  timespecValid,
} from "../../abi/linux/time.ts";

const TFD_TIMER_ABSTIME = 1;
const TFD_TIMER_CANCEL_ON_SET = 2;

function timerOf(t: Task, fd: number): TimerFd {
  const f = t.fdTable.get(fd);
  if (!(f instanceof TimerFd)) throw new SysError(Errno.EINVAL);
  return f;
}

function itimerspec(interval: bigint, value: bigint): Uint8Array {
  return Itimerspec.encode({ interval: timespecFromNs(interval), value: timespecFromNs(value) });
}

/** Implements Linux syscall timerfd_create(2). */
function timerfdCreate(t: Task): number {
  const clock = argInt(t, 0), flags = argInt(t, 1);
  if (flags & ~(O_NONBLOCK | O_CLOEXEC)) throw new SysError(Errno.EINVAL);
  if (clock !== CLOCK_REALTIME && clock !== CLOCK_MONOTONIC && clock !== CLOCK_BOOTTIME) {
    throw new SysError(Errno.EINVAL);
  }
  const f = new TimerFd(clock, O_RDONLY | (flags & O_NONBLOCK));
  return t.fdTable.install(f, (flags & O_CLOEXEC) !== 0);
}

/** Implements Linux syscall timerfd_settime(2). */
function timerfdSettime(t: Task): number {
  const f = timerOf(t, argInt(t, 0));
  const flags = argInt(t, 1);
  if (flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)) throw new SysError(Errno.EINVAL);
  const spec = Itimerspec.decode(t.mm.copyIn(argPtr(t, 2), Itimerspec.size));
  if (!timespecValid(spec.interval) || !timespecValid(spec.value)) {
    throw new SysError(Errno.EINVAL);
  }
  const old = argPtr(t, 3);
  if (old !== 0n) t.mm.copyOut(old, itimerspec(f.interval, f.remaining()));
  f.set(
    nsFromTimespec(spec.value),
    nsFromTimespec(spec.interval),
    (flags & TFD_TIMER_ABSTIME) !== 0,
  );
  return 0;
}

/** Implements Linux syscall timerfd_gettime(2). */
function timerfdGettime(t: Task): number {
  const f = timerOf(t, argInt(t, 0));
  t.mm.copyOut(argPtr(t, 1), itimerspec(f.interval, f.remaining()));
  return 0;
}

export const syscalls: Record<string, SyscallDef> = {
  timerfd_create: { handler: timerfdCreate, args: ["d", "x"] },
  timerfd_settime: {
    handler: timerfdSettime,
    support: "partial",
    note: "millisecond resolution; TFD_TIMER_CANCEL_ON_SET is accepted and never cancels",
    args: ["d", "x", "x", "x"],
  },
  timerfd_gettime: { handler: timerfdGettime, args: ["d", "x"] },
};
