/**
 * Resource usage on x86-64: getrusage(2)'s struct rusage and times(2)'s struct tms.
 *
 * @module
 */

import { i64, struct } from "./layout.ts";
import { Timeval } from "./time.ts";

export const RUSAGE_SELF = 0;
export const RUSAGE_CHILDREN = -1;
export const RUSAGE_THREAD = 1;

/** USER_HZ: the unit of times(2) and of /proc's clock ticks. */
export const CLK_TCK = 100n;

/** struct rusage: two timevals, then 14 longs of counters (ru_maxrss in KiB first). */
export const Rusage = struct("rusage", 144, {
  utime: [0, Timeval],
  stime: [16, Timeval],
  maxrss: [32, i64],
  ixrss: [40, i64],
  idrss: [48, i64],
  isrss: [56, i64],
  minflt: [64, i64],
  majflt: [72, i64],
  nswap: [80, i64],
  inblock: [88, i64],
  oublock: [96, i64],
  msgsnd: [104, i64],
  msgrcv: [112, i64],
  nsignals: [120, i64],
  nvcsw: [128, i64],
  nivcsw: [136, i64],
});

/** struct tms, in clock ticks. */
export const Tms = struct("tms", 32, {
  utime: [0, i64],
  stime: [8, i64],
  cutime: [16, i64],
  cstime: [24, i64],
});
