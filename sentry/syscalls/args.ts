/**
 * Decoding of system call arguments from a task's registers.
 *
 * @module
 */

import { Errno } from "../../host/errno.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "./errors.ts";

/** Argument i as a signed 32-bit int (fds, flags, ints). */
export function argInt(t: Task, i: number): number {
  return Number(BigInt.asIntN(32, t.regs.arg(i)));
}

/** Argument i as an unsigned 32-bit value. */
export function argU32(t: Task, i: number): number {
  return Number(BigInt.asUintN(32, t.regs.arg(i)));
}

/** Argument i as a pointer. */
export function argPtr(t: Task, i: number): bigint {
  return t.regs.arg(i);
}

/** Argument i as a signed 64-bit value. */
export function argI64(t: Task, i: number): bigint {
  return BigInt.asIntN(64, t.regs.arg(i));
}

/**
 * Argument i as a byte count for a copy. Counts beyond what one call moves at once are
 * rejected the way Linux rejects them for its own buffers (EINVAL when negative as ssize_t).
 */
export function argSize(t: Task, i: number): number {
  const v = BigInt.asIntN(64, t.regs.arg(i));
  if (v < 0n) throw new SysError(Errno.EINVAL);
  // Linux caps one read or write at MAX_RW_COUNT (2 GiB - 4 KiB).
  return v > 0x7ffff000n ? 0x7ffff000 : Number(v);
}
