/**
 * arch_prctl(2): the FS and GS bases that hold thread-local storage, and the XSAVE features a
 * process may use (ARCH_GET_XCOMP_*, ARCH_REQ_XCOMP_PERM).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { R } from "../../platform/registers.ts";
import type { Task } from "../kernel/task.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { SyscallDef } from "./table.ts";

const ARCH_SET_GS = 0x1001;
const ARCH_SET_FS = 0x1002;
const ARCH_GET_FS = 0x1003;
const ARCH_GET_GS = 0x1004;
const ARCH_GET_CPUID = 0x1011;
const ARCH_SET_CPUID = 0x1012;
const ARCH_GET_XCOMP_SUPP = 0x1021;
const ARCH_GET_XCOMP_PERM = 0x1022;
const ARCH_REQ_XCOMP_PERM = 0x1023;
/** XSAVE components Linux numbers (XFEATURE_MAX): a request beyond them is EINVAL. */
const XFEATURE_MAX = 20;

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
    case ARCH_GET_XCOMP_SUPP:
    case ARCH_GET_XCOMP_PERM:
      // Every feature offered is permitted from the start: no platform offers one that Linux
      // gives only on request (AMX tiles, whose state no platform switches between tasks).
      t.mm.writeU64(addr, t.kernel.platform.xfeatures ?? 3n);
      return 0;
    case ARCH_REQ_XCOMP_PERM:
      // Linux: EOPNOTSUPP for a component that is not a dynamic one, or one the CPU lacks.
      throw new SysError(addr >= BigInt(XFEATURE_MAX) ? Errno.EINVAL : Errno.EOPNOTSUPP);
    default:
      throw new SysError(Errno.EINVAL);
  }
}

export const syscalls: Record<string, SyscallDef> = {
  arch_prctl: { handler: archPrctl, args: ["x", "x"] },
};
