/**
 * Scheduling priority (nice values) of host threads, for the CLI's spare sandboxes
 * (oci/spare.ts): a spare starts niced, so that its start-up takes CPU only from idle time and
 * not from the container that was just started, and is given the normal priority when taken.
 *
 * Linux keeps the nice value per thread: PRIO_PROCESS with a thread id changes that thread
 * alone, and a new process or thread inherits its creator's.
 *
 * @module
 */

import { rawSyscall } from "./libc.ts";

const SYS_getpriority = 140;
const SYS_setpriority = 141;
const SYS_gettid = 186;
const PRIO_PROCESS = 0;

/** The calling thread's id. */
export function gettid(): number {
  return Number(rawSyscall(SYS_gettid));
}

/** The nice value of thread `tid` (0: the calling thread), or null when it is gone. */
export function threadNice(tid = 0): number | null {
  // The raw system call answers 20 - nice, so that it is never negative.
  const r = rawSyscall(SYS_getpriority, BigInt(PRIO_PROCESS), BigInt(tid));
  return r < 0n ? null : 20 - Number(r);
}

/**
 * Sets the nice value of thread `tid` (0: the calling thread). Raising it is always allowed;
 * lowering it needs CAP_SYS_NICE. Returns false when refused or the thread is gone.
 */
export function setThreadNice(tid: number, nice: number): boolean {
  return rawSyscall(SYS_setpriority, BigInt(PRIO_PROCESS), BigInt(tid), BigInt(nice)) === 0n;
}
