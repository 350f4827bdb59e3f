/**
 * Thread and process identity and exit: getpid, gettid, getppid, set_tid_address,
 * set_robust_list, rseq, exit, exit_group.
 *
 * @module
 */

import { Errno } from "../../host/errno.ts";
import { exitedStatus, type Task } from "../kernel/task.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "./errors.ts";
import type { SyscallDef } from "./table.ts";

/** Implements Linux syscall getpid(2). */
function getpid(t: Task): number {
  return t.tg.pid;
}

/** Implements Linux syscall gettid(2). */
function gettid(t: Task): number {
  return t.tid;
}

/** Implements Linux syscall getppid(2): 0 for the container's init, as in a PID namespace. */
function getppid(t: Task): number {
  return t.tg.parent?.pid ?? 0;
}

/** Implements Linux syscall set_tid_address(2). */
function setTidAddress(t: Task): number {
  t.clearChildTid = argPtr(t, 0);
  return t.tid;
}

/** Implements Linux syscall set_robust_list(2). */
function setRobustList(t: Task): number {
  // struct robust_list_head is 24 bytes; Linux refuses any other size.
  if (argPtr(t, 1) !== 24n) throw new SysError(Errno.EINVAL);
  t.robustList = argPtr(t, 0);
  return 0;
}

/** Implements Linux syscall exit(2). */
function exit(t: Task): number {
  t.exitTask(argInt(t, 0));
  return 0;
}

/** Implements Linux syscall exit_group(2). */
function exitGroup(t: Task): number {
  t.exiting = true;
  t.tg.beginExit(exitedStatus(argInt(t, 0)));
  return 0;
}

export const syscalls: Record<string, SyscallDef> = {
  getpid: { handler: getpid, args: [] },
  gettid: { handler: gettid, args: [] },
  getppid: { handler: getppid, args: [] },
  set_tid_address: { handler: setTidAddress, args: ["x"] },
  set_robust_list: { handler: setRobustList, args: ["x", "d"] },
  exit: { handler: exit, args: ["d"] },
  exit_group: { handler: exitGroup, args: ["d"] },
  rseq: {
    support: "unimplemented",
    note: "restartable sequences are not offered; the C library falls back",
    args: ["x", "d", "x", "x"],
  },
};
