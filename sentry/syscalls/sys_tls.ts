/**
 * arch_prctl(2): the FS and GS bases that hold thread-local storage.
 *
 * @module
 */

import { Errno } from "../../host/errno.ts";
import { R } from "../../platform/registers.ts";
import type { Task } from "../kernel/task.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "./errors.ts";
import type { SyscallDef } from "./table.ts";

const ARCH_SET_GS = 0x1001;
const ARCH_SET_FS = 0x1002;
const ARCH_GET_FS = 0x1003;
const ARCH_GET_GS = 0x1004;
const ARCH_GET_CPUID = 0x1011;
const ARCH_SET_CPUID = 0x1012;

/** Implements Linux syscall arch_prctl(2). */
function archPrctl(t: Task): number {
  const code = argInt(t, 0);
  const addr = argPtr(t, 1);
  switch (code) {
    case ARCH_SET_FS:
    case ARCH_SET_GS:
      // A base outside the user range would fault in the host on the next switch.
      if (addr >= t.mm.maxAddress) throw new SysError(Errno.EPERM);
      t.regs.r[code === ARCH_SET_FS ? R.fs_base : R.gs_base] = addr;
      return 0;
    case ARCH_GET_FS:
    case ARCH_GET_GS:
      t.mm.writeU64(addr, t.regs.r[code === ARCH_GET_FS ? R.fs_base : R.gs_base]);
      return 0;
    case ARCH_GET_CPUID:
      return 1;
    case ARCH_SET_CPUID:
      throw new SysError(Errno.ENODEV);
    default:
      throw new SysError(Errno.EINVAL);
  }
}

export const syscalls: Record<string, SyscallDef> = {
  arch_prctl: { handler: archPrctl, args: ["x", "x"] },
};
