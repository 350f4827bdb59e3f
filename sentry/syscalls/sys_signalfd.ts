/**
 * signalfd(2), signalfd4(2).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { SignalFd } from "../fs/signalfd.ts";
import { O_CLOEXEC, O_NONBLOCK, O_RDONLY } from "../vfs/file.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { SyscallDef } from "./table.ts";

/** SIGKILL and SIGSTOP can never be read from a signalfd. */
const UNREADABLE = (1n << 8n) | (1n << 18n);

function signalfd4(t: Task, fd: number, maskAddr: bigint, size: number, flags: number): number {
  if (flags & ~(O_NONBLOCK | O_CLOEXEC)) throw new SysError(Errno.EINVAL);
  if (size !== 8) throw new SysError(Errno.EINVAL);
  const mask = t.mm.readU64(maskAddr) & ~UNREADABLE;
  if (fd !== -1) {
    const f = t.fdTable.get(fd);
    if (!(f instanceof SignalFd)) throw new SysError(Errno.EINVAL);
    f.mask = mask;
    return fd;
  }
  const f = new SignalFd(mask, t, O_RDONLY | (flags & O_NONBLOCK));
  return t.fdTable.install(f, (flags & O_CLOEXEC) !== 0);
}

export const syscalls: Record<string, SyscallDef> = {
  signalfd: {
    handler: (t) => signalfd4(t, argInt(t, 0), argPtr(t, 1), Number(t.regs.arg(2)), 0),
    args: ["d", "x", "d"],
  },
  signalfd4: {
    handler: (t) => signalfd4(t, argInt(t, 0), argPtr(t, 1), Number(t.regs.arg(2)), argInt(t, 3)),
    support: "partial",
    note: "a waiting reader looks for new signals every 10 ms",
    args: ["d", "x", "d", "x"],
  },
};
