/**
 * The host clocks the Sentry's clocks are: the sandbox has no clocks of its own (sys_time.ts).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { SysError } from "../../abi/linux/error.ts";
import { nsFromTimespec, Timespec, timespecToMs } from "../../abi/linux/time.ts";
import { libc } from "../../host/libc.ts";

const ts = new Uint8Array(Timespec.size);

/** The host clock's time. EINVAL for a clock the host does not have. */
export function hostTime(clock: number): { sec: bigint; nsec: bigint } {
  if (libc.symbols.clock_gettime(clock, ts) !== 0) throw new SysError(Errno.EINVAL);
  return Timespec.decode(ts);
}

/** The host clock's time in nanoseconds. */
export function clockNow(clock: number): bigint {
  return nsFromTimespec(hostTime(clock));
}

/** The host clock's time in milliseconds. */
export function clockMs(clock: number): number {
  return timespecToMs(hostTime(clock));
}
