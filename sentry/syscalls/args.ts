/**
 * Decoding of system call arguments from a task's registers.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "../../abi/linux/error.ts";

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

/** Linux caps one read or write at MAX_RW_COUNT (2 GiB - 4 KiB). */
export const MAX_RW_COUNT = 0x7ffff000;

/**
 * Argument i as a byte count for a copy, capped at MAX_RW_COUNT. Callers that take a user
 * buffer check it with accessOk first, as Linux does, so a huge count over a small buffer is
 * EFAULT rather than EINVAL.
 */
export function argSize(t: Task, i: number): number {
  const v = t.regs.arg(i);
  return v > BigInt(MAX_RW_COUNT) ? MAX_RW_COUNT : Number(v);
}

/** Linux's access_ok: [addr, addr+len) must lie below the top of user memory. */
export function accessOk(t: Task, addr: bigint, len: bigint): void {
  if (len > t.mm.maxAddress || addr > t.mm.maxAddress - len) throw new SysError(Errno.EFAULT);
}
