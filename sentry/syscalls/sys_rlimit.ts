/**
 * Resource limits: getrlimit(2), setrlimit(2), prlimit64(2).
 *
 * @module
 */

import { CAP, capable } from "../kernel/task_creds.ts";
import { Errno } from "../../abi/linux/errno.ts";
import type { Task, ThreadGroup } from "../kernel/task.ts";
import { RLIM_NLIMITS, type Rlimit, setLimit } from "../kernel/limits.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { SyscallDef } from "./table.ts";
import { Rlimit as RlimitStruct } from "../../abi/linux/limits.ts";

function target(t: Task, pid: number): ThreadGroup {
  if (pid === 0 || pid === t.tg.pid) return t.tg;
  const other = t.kernel.threadGroups.get(pid);
  if (!other) throw new SysError(Errno.ESRCH);
  return other;
}

function encode(l: Rlimit): Uint8Array {
  return RlimitStruct.encode(l);
}

/** Implements Linux syscall prlimit64(2). */
function prlimit64(t: Task): number {
  const tg = target(t, argInt(t, 0));
  const resource = argInt(t, 1);
  const newAddr = argPtr(t, 2);
  const oldAddr = argPtr(t, 3);
  if (resource < 0 || resource >= RLIM_NLIMITS) throw new SysError(Errno.EINVAL);
  const old = tg.rlimits.get(resource)!;
  let next: Rlimit | null = null;
  if (newAddr !== 0n) {
    next = RlimitStruct.decode(t.mm.copyIn(newAddr, RlimitStruct.size));
  }
  // The old value is written only once the new one is accepted, as on Linux.
  if (next) setLimit(tg, resource, next, capable(t, CAP.SYS_RESOURCE));
  if (oldAddr !== 0n) t.mm.copyOut(oldAddr, encode(old));
  return 0;
}

/** Implements Linux syscall getrlimit(2). */
function getrlimit(t: Task): number {
  const resource = argInt(t, 0);
  if (resource < 0 || resource >= RLIM_NLIMITS) throw new SysError(Errno.EINVAL);
  t.mm.copyOut(argPtr(t, 1), encode(t.tg.rlimits.get(resource)!));
  return 0;
}

/** Implements Linux syscall setrlimit(2). */
function setrlimit(t: Task): number {
  const resource = argInt(t, 0);
  if (resource < 0 || resource >= RLIM_NLIMITS) throw new SysError(Errno.EINVAL);
  const next = RlimitStruct.decode(t.mm.copyIn(argPtr(t, 1), RlimitStruct.size));
  setLimit(t.tg, resource, next, capable(t, CAP.SYS_RESOURCE));
  return 0;
}

export const syscalls: Record<string, SyscallDef> = {
  prlimit64: { handler: prlimit64, args: ["d", "d", "x", "x"] },
  getrlimit: { handler: getrlimit, args: ["d", "x"] },
  setrlimit: { handler: setrlimit, args: ["d", "x"] },
};
