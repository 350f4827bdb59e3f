/**
 * The host's clocks, which the Sentry's clocks and timers read.
 *
 * @module
 */

import { libc } from "./libc.ts";

/** Bytes of a struct timespec (x86-64): seconds, then nanoseconds, 64 bits each. */
export const TIMESPEC_SIZE = 16;

/**
 * clock_gettime(2) into `ts` (a struct timespec): true, or false for a clock the host does
 * not have. Fills a caller's buffer so that reading the time allocates nothing.
 */
export function clockGettime(clock: number, ts: Uint8Array<ArrayBuffer>): boolean {
  return libc.symbols.clock_gettime(clock, ts) === 0;
}
