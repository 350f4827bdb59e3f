/**
 * process_vm_readv(2) and process_vm_writev(2): copies between the caller's memory and
 * another process's, both held by the Sentry.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { mayAccess } from "../kernel/task_creds.ts";
import type { MemoryManager } from "../mm/mm.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import { copyInIovecs } from "./sys_read_write.ts";
import type { SyscallDef } from "./table.ts";

/** Bytes moved per step: the copy goes through a buffer of the Sentry's. */
const CHUNK = 64 * 1024;

/**
 * The remote iovec array, read from the caller's memory. Unlike the local one its ranges are
 * not checked here: they are the other process's, and a bad one ends the transfer there.
 */
function remoteIovecs(t: Task, addr: bigint, count: number): [bigint, number][] {
  return copyInIovecs(t, addr, count, false);
}

/**
 * Copies from the ranges `from` of `src` to the ranges `to` of `dst` in order, until either
 * runs out or a byte cannot be read or written; returns the bytes copied, or EFAULT when a
 * fault stopped it before the first.
 */
function transfer(
  src: MemoryManager,
  from: [bigint, number][],
  dst: MemoryManager,
  to: [bigint, number][],
): number {
  const buf = new Uint8Array(CHUNK);
  let si = 0, so = 0, di = 0, doff = 0, done = 0;
  while (si < from.length && di < to.length) {
    const [sb, sl] = from[si];
    if (so >= sl) {
      si++, so = 0;
      continue;
    }
    const [db, dl] = to[di];
    if (doff >= dl) {
      di++, doff = 0;
      continue;
    }
    const n = Math.min(sl - so, dl - doff, CHUNK);
    const got = src.copyInUpTo(sb + BigInt(so), buf.subarray(0, n));
    const put = dst.copyOutUpTo(db + BigInt(doff), buf.subarray(0, got));
    done += put, so += put, doff += put;
    if (put < n) {
      if (done === 0) throw new SysError(Errno.EFAULT);
      break;
    }
  }
  return done;
}

function processVm(t: Task, write: boolean): number {
  const pid = argInt(t, 0);
  if (argPtr(t, 5) !== 0n) throw new SysError(Errno.EINVAL);
  const local = copyInIovecs(t, argPtr(t, 1), argInt(t, 2));
  const remote = remoteIovecs(t, argPtr(t, 3), argInt(t, 4));
  const target = t.kernel.tasks.get(pid);
  if (!target) throw new SysError(Errno.ESRCH);
  if (!mayAccess(t, target.tg)) throw new SysError(Errno.EPERM);
  return write
    ? transfer(t.mm, local, target.mm, remote)
    : transfer(target.mm, remote, t.mm, local);
}

/** Implements Linux syscall process_vm_readv(2). */
function processVmReadv(t: Task): number {
  return processVm(t, false);
}

/** Implements Linux syscall process_vm_writev(2). */
function processVmWritev(t: Task): number {
  return processVm(t, true);
}

export const syscalls: Record<string, SyscallDef> = {
  process_vm_readv: { handler: processVmReadv, args: ["d", "x", "d", "x", "d", "x"] },
  process_vm_writev: { handler: processVmWritev, args: ["d", "x", "d", "x", "d", "x"] },
};
