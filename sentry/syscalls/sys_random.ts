/**
 * getrandom(2).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { accessOk, argInt, argPtr, argSize } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { SyscallDef } from "./table.ts";

const GRND_NONBLOCK = 1;
const GRND_RANDOM = 2;
const GRND_INSECURE = 4;
/** Linux returns at most this much from one call. */
const MAX = 33554431;

/** Implements Linux syscall getrandom(2). */
function getrandom(t: Task): number {
  const flags = argInt(t, 2);
  if ((flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)) !== 0) {
    throw new SysError(Errno.EINVAL);
  }
  if ((flags & GRND_RANDOM) && (flags & GRND_INSECURE)) throw new SysError(Errno.EINVAL);
  accessOk(t, argPtr(t, 0), argPtr(t, 1));
  const len = Math.min(argSize(t, 1), MAX);
  const b = new Uint8Array(len);
  // getRandomValues fills at most 65536 bytes at a time.
  for (let o = 0; o < len; o += 65536) crypto.getRandomValues(b.subarray(o, o + 65536));
  t.mm.copyOut(argPtr(t, 0), b);
  return len;
}

export const syscalls: Record<string, SyscallDef> = {
  getrandom: { handler: getrandom, args: ["x", "d", "x"] },
};
