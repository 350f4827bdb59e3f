/**
 * Resource limits: getrlimit(2), setrlimit(2), prlimit64(2).
 *
 * @module
 */

import { CAP, capable } from "../kernel/task_creds.ts";
import { Errno } from "../../abi/linux/errno.ts";
import type { Rlimit, Task, ThreadGroup } from "../kernel/task.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { SyscallDef } from "./table.ts";
import { Rlimit as RlimitStruct } from "../../abi/linux/limits.ts";

export const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

/** Resource numbers by the names the OCI spec uses. */
export const RLIMIT: Record<string, number> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};
const RLIM_NLIMITS = 16;

/** fs.nr_open: RLIMIT_NOFILE's hard limit can never go above it, whoever asks (Linux's). */
export const NR_OPEN = 1048576n;

/** The limits a new container starts with, before the spec's process.rlimits apply. */
export function defaultRlimits(): Map<number, Rlimit> {
  const inf = { cur: RLIM_INFINITY, max: RLIM_INFINITY };
  const m = new Map<number, Rlimit>();
  for (let r = 0; r < RLIM_NLIMITS; r++) m.set(r, { ...inf });
  m.set(RLIMIT.RLIMIT_STACK, { cur: 8n << 20n, max: RLIM_INFINITY });
  m.set(RLIMIT.RLIMIT_CORE, { cur: 0n, max: RLIM_INFINITY });
  m.set(RLIMIT.RLIMIT_NOFILE, { cur: 1024n, max: 1048576n });
  m.set(RLIMIT.RLIMIT_MEMLOCK, { cur: 64n << 10n, max: 64n << 10n });
  m.set(RLIMIT.RLIMIT_MSGQUEUE, { cur: 819200n, max: 819200n });
  m.set(RLIMIT.RLIMIT_NICE, { cur: 0n, max: 0n });
  m.set(RLIMIT.RLIMIT_RTPRIO, { cur: 0n, max: 0n });
  // Linux derives it from memory (about 96,000 on a 24 GiB host); the Sentry bounds each
  // queue to MAX_QUEUED_SIGNALS anyway, so a smaller default that real programs never reach.
  m.set(RLIMIT.RLIMIT_SIGPENDING, { cur: 8192n, max: 8192n });
  return m;
}

function target(t: Task, pid: number): ThreadGroup {
  if (pid === 0 || pid === t.tg.pid) return t.tg;
  const other = t.kernel.threadGroups.get(pid);
  if (!other) throw new SysError(Errno.ESRCH);
  return other;
}

function encode(l: Rlimit): Uint8Array {
  return RlimitStruct.encode(l);
}

function change(tg: ThreadGroup, resource: number, next: Rlimit, privileged: boolean): void {
  const cur = tg.rlimits.get(resource)!;
  if (next.cur > next.max) throw new SysError(Errno.EINVAL);
  // Above nr_open even a privileged caller is refused: the descriptor table could not grow
  // that far anyway.
  if (resource === RLIMIT.RLIMIT_NOFILE && next.max > NR_OPEN) throw new SysError(Errno.EPERM);
  if (next.max > cur.max && !privileged) throw new SysError(Errno.EPERM);
  tg.rlimits.set(resource, next);
  if (resource === RLIMIT.RLIMIT_STACK) {
    for (const t of tg.tasks) t.mm.stackLimit = next.cur;
  }
  if (resource === RLIMIT.RLIMIT_NOFILE) {
    tg.fdTable.limit = next.cur > 0x7fffffffn ? 0x7fffffff : Number(next.cur);
  }
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
  if (next) change(tg, resource, next, capable(t, CAP.SYS_RESOURCE));
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
  change(t.tg, resource, next, capable(t, CAP.SYS_RESOURCE));
  return 0;
}

export const syscalls: Record<string, SyscallDef> = {
  prlimit64: { handler: prlimit64, args: ["d", "d", "x", "x"] },
  getrlimit: { handler: getrlimit, args: ["d", "x"] },
  setrlimit: { handler: setrlimit, args: ["d", "x"] },
};
