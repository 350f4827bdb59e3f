/**
 * The host clocks the Sentry's clocks are: the sandbox has no clocks of its own (sys_time.ts).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { SysError } from "../../abi/linux/error.ts";
import {
  CLOCK_BOOTTIME,
  CLOCK_MONOTONIC,
  CLOCK_MONOTONIC_COARSE,
  CLOCK_MONOTONIC_RAW,
  CLOCK_REALTIME,
  CLOCK_REALTIME_COARSE,
  nsFromTimespec,
  Timespec,
  timespecToMs,
} from "../../abi/linux/time.ts";
import { clockGettime } from "../../host/time.ts";

/** The clocks that are the host's own (the CPU-time clocks are the Sentry's). */
export const HOST_CLOCKS: ReadonlySet<number> = new Set([
  CLOCK_REALTIME,
  CLOCK_MONOTONIC,
  CLOCK_MONOTONIC_RAW,
  CLOCK_REALTIME_COARSE,
  CLOCK_MONOTONIC_COARSE,
  CLOCK_BOOTTIME,
]);

const ts = new Uint8Array(Timespec.size);

/**
 * The host clock's time as the struct timespec the host wrote: clock_gettime(2) copies it out
 * as it is, without a decode and encode on the path applications call most.
 */
export function hostTimespec(clock: number): Uint8Array<ArrayBuffer> {
  if (!clockGettime(clock, ts)) throw new SysError(Errno.EINVAL);
  return ts.slice();
}

/** The host clock's time. EINVAL for a clock the host does not have. */
export function hostTime(clock: number): { sec: bigint; nsec: bigint } {
  return Timespec.decode(hostTimespec(clock));
}

/** The host clock's time in nanoseconds. */
export function clockNow(clock: number): bigint {
  return nsFromTimespec(hostTime(clock));
}

/** The host clock's time in milliseconds. */
export function clockMs(clock: number): number {
  return timespecToMs(hostTime(clock));
}
