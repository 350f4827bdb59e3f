/**
 * Resource limits (Linux's struct rlimit per thread group): the resource numbers, the limits a
 * container starts with, and the rules for changing one. Kernel state: the syscall files
 * (sys_rlimit.ts) and the boot process read and change it through here.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { ThreadGroup } from "./task.ts";

/** One resource's limits, as getrlimit(2) reports them (RLIM_INFINITY is 2^64-1). */
export interface Rlimit {
  cur: bigint;
  max: bigint;
}

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
export const RLIM_NLIMITS = 16;

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

/**
 * Sets one of tg's limits as setrlimit(2) does, and applies it where the kernel keeps a copy
 * (the stack's reach, the descriptor table's bound). Throws EINVAL for a soft limit above the
 * hard one, EPERM for a raised hard limit without `privileged` (CAP_SYS_RESOURCE).
 */
export function setLimit(tg: ThreadGroup, resource: number, next: Rlimit, privileged: boolean) {
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
