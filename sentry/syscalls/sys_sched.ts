/**
 * Scheduling: sched_yield, CPU affinity, getcpu, policies and priorities, nice values.
 * The Sentry's tasks run on host threads; the host schedules them.
 *
 * @module
 */

import { CAP, capable } from "../kernel/task_creds.ts";
import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { SyscallDef } from "./table.ts";
import { Timespec } from "../../abi/linux/time.ts";
import { decodeValue, i32 } from "../../abi/linux/layout.ts";

/** The CPUs the sandbox reports: as many as the host has. */
export const NUM_CPUS = Math.max(1, navigator.hardwareConcurrency || 1);
const SCHED_OTHER = 0;
const SCHED_FIFO = 1;
const SCHED_RR = 2;
const SCHED_BATCH = 3;
const SCHED_IDLE = 5;

function target(t: Task, pid: number): Task {
  if (pid < 0) throw new SysError(Errno.EINVAL);
  if (pid === 0) return t;
  const o = t.kernel.tasks.get(pid);
  if (!o) throw new SysError(Errno.ESRCH);
  return o;
}

/** Bytes of the CPU mask: nr_cpu_ids bits rounded up to a long. */
const MASK_BYTES = Math.ceil(NUM_CPUS / 64) * 8;
const ALL_CPUS = (1n << BigInt(NUM_CPUS)) - 1n;

/** The affinity calls' target: any pid that is not a task, -1 included, is ESRCH. */
function affinityTarget(t: Task, pid: number): Task {
  if (pid === 0) return t;
  const o = t.kernel.tasks.get(pid);
  if (!o) throw new SysError(Errno.ESRCH);
  return o;
}

/** Implements Linux syscall sched_getaffinity(2): the mask last set, or every CPU. */
function schedGetaffinity(t: Task): number {
  const len = Number(argPtr(t, 1));
  if (len < MASK_BYTES || len % 8 !== 0) throw new SysError(Errno.EINVAL);
  const o = affinityTarget(t, argInt(t, 0));
  const mask = o.cpuMask ?? ALL_CPUS;
  const b = new Uint8Array(MASK_BYTES);
  for (let c = 0; c < NUM_CPUS; c++) if (mask & (1n << BigInt(c))) b[c >> 3] |= 1 << (c & 7);
  t.mm.copyOut(argPtr(t, 2), b);
  return MASK_BYTES;
}

/**
 * Implements Linux syscall sched_setaffinity(2): the mask (limited to online CPUs) is kept and
 * reported back; the host still schedules the task's thread on any CPU.
 */
function schedSetaffinity(t: Task): number {
  const len = Math.min(Number(argPtr(t, 1)), 128);
  const b = t.mm.copyIn(argPtr(t, 2), len);
  const o = affinityTarget(t, argInt(t, 0));
  let mask = 0n;
  for (let c = 0; c < NUM_CPUS && c < len * 8; c++) {
    if (b[c >> 3] & (1 << (c & 7))) mask |= 1n << BigInt(c);
  }
  if (mask === 0n) throw new SysError(Errno.EINVAL);
  // Another user's task needs CAP_SYS_NICE.
  const own = t.tg.euid === o.tg.uid || t.tg.euid === o.tg.euid;
  if (!own && !capable(t, CAP.SYS_NICE)) throw new SysError(Errno.EPERM);
  o.cpuMask = mask === ALL_CPUS ? null : mask;
  return 0;
}

/**
 * Implements Linux syscall sched_rr_get_interval(2): the round-robin quantum Linux gives
 * SCHED_RR, which is also what it reports for the normal policies the sandbox runs.
 */
function schedRrGetInterval(t: Task): number {
  const pid = argInt(t, 0);
  if (pid < 0) throw new SysError(Errno.EINVAL);
  affinityTarget(t, pid);
  t.mm.copyOut(argPtr(t, 1), Timespec.encode({ nsec: 100_000_000n }));
  return 0;
}

/** Implements Linux syscall getcpu(2). */
function getcpu(t: Task): number {
  const cpu = argPtr(t, 0);
  const node = argPtr(t, 1);
  if (cpu !== 0n) t.mm.writeU32(cpu, 0);
  if (node !== 0n) t.mm.writeU32(node, 0);
  return 0;
}

function priorityRange(policy: number): [number, number] {
  switch (policy) {
    case SCHED_OTHER:
    case SCHED_BATCH:
    case SCHED_IDLE:
      return [0, 0];
    case SCHED_FIFO:
    case SCHED_RR:
      return [1, 99];
    default:
      throw new SysError(Errno.EINVAL);
  }
}

/** Implements Linux syscall sched_setscheduler(2): normal policies only. */
function schedSetscheduler(t: Task): number {
  target(t, argInt(t, 0));
  const policy = argInt(t, 1) & ~0x40000000; // SCHED_RESET_ON_FORK
  const prio = decodeValue(i32, t.mm.copyIn(argPtr(t, 2), 4));
  const [lo, hi] = priorityRange(policy);
  if (prio < lo || prio > hi) throw new SysError(Errno.EINVAL);
  if (policy === SCHED_FIFO || policy === SCHED_RR) throw new SysError(Errno.EPERM);
  return 0;
}

/** Implements Linux syscall sched_getparam(2). */
function schedGetparam(t: Task): number {
  target(t, argInt(t, 0));
  t.mm.writeU32(argPtr(t, 1), 0);
  return 0;
}

/** Implements Linux syscall sched_setparam(2). */
function schedSetparam(t: Task): number {
  target(t, argInt(t, 0));
  const prio = decodeValue(i32, t.mm.copyIn(argPtr(t, 1), 4));
  if (prio !== 0) throw new SysError(Errno.EINVAL);
  return 0;
}

const PRIO_PROCESS = 0;
const PRIO_PGRP = 1;
const PRIO_USER = 2;

function prioTargets(t: Task, which: number, who: number) {
  const all = [...t.kernel.threadGroups.values()].filter((g) => !g.zombie);
  switch (which) {
    case PRIO_PROCESS:
      return all.filter((g) => g.pid === (who || t.tg.pid));
    case PRIO_PGRP:
      return all.filter((g) => g.pgid === (who || t.tg.pgid));
    case PRIO_USER:
      return all.filter((g) => g.uid === (who || t.tg.uid));
    default:
      throw new SysError(Errno.EINVAL);
  }
}

/** Implements Linux syscall getpriority(2): 20 - nice of the least nice match. */
function getpriority(t: Task): number {
  const groups = prioTargets(t, argInt(t, 0), argInt(t, 1));
  if (groups.length === 0) throw new SysError(Errno.ESRCH);
  return 20 - Math.min(...groups.map((g) => g.nice));
}

/** Implements Linux syscall setpriority(2); lowering nice needs privilege. */
function setpriority(t: Task): number {
  const groups = prioTargets(t, argInt(t, 0), argInt(t, 1));
  if (groups.length === 0) throw new SysError(Errno.ESRCH);
  const nice = Math.max(-20, Math.min(19, argInt(t, 2)));
  for (const g of groups) {
    if (nice < g.nice && !capable(t, CAP.SYS_NICE)) throw new SysError(Errno.EACCES);
    g.nice = nice;
  }
  return 0;
}

export const syscalls: Record<string, SyscallDef> = {
  sched_yield: { handler: () => 0, args: [] },
  sched_getaffinity: { handler: schedGetaffinity, args: ["d", "d", "x"] },
  sched_setaffinity: {
    handler: schedSetaffinity,
    support: "partial",
    note: "the mask is kept and reported back, but the host may run the task on any CPU",
    args: ["d", "d", "x"],
  },
  sched_rr_get_interval: { handler: schedRrGetInterval, args: ["d", "x"] },
  getcpu: {
    handler: getcpu,
    support: "partial",
    note: "always CPU 0, node 0",
    args: ["x", "x", "x"],
  },
  sched_getscheduler: { handler: (t: Task) => (target(t, argInt(t, 0)), SCHED_OTHER), args: ["d"] },
  sched_setscheduler: { handler: schedSetscheduler, args: ["d", "d", "x"] },
  sched_getparam: { handler: schedGetparam, args: ["d", "x"] },
  sched_setparam: { handler: schedSetparam, args: ["d", "x"] },
  sched_get_priority_max: { handler: (t: Task) => priorityRange(argInt(t, 0))[1], args: ["d"] },
  sched_get_priority_min: { handler: (t: Task) => priorityRange(argInt(t, 0))[0], args: ["d"] },
  getpriority: { handler: getpriority, args: ["d", "d"] },
  setpriority: { handler: setpriority, args: ["d", "d", "d"] },
};
