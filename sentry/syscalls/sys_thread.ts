/**
 * Tasks and processes: clone, clone3, fork, vfork, execve, execveat, exit, exit_group, wait4,
 * waitid, the id calls (getpid, gettid, getppid), set_tid_address, set_robust_list, and
 * sessions and process groups (setsid, setpgid, getpgid, getpgrp, getsid).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { CLD } from "../kernel/signal.ts";
import { SIG, SiginfoChld } from "../../abi/linux/signal.ts";
import { CLONE_ARGS_SIZE_VER0, CloneArgs as CloneArgsStruct } from "../../abi/linux/clone.ts";
import { Rusage } from "../../abi/linux/rusage.ts";
import { CLONE, type CloneArgs, cloneTask } from "../kernel/task_clone.ts";
import { execTask } from "../kernel/task_exec.ts";
import { CONTINUED_STATUS, exitedStatus, type Task, type ThreadGroup } from "../kernel/task.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import { AT_FDCWD } from "./paths.ts";
import { FsContext } from "../vfs/fs_context.ts";
import { O_NONBLOCK } from "../vfs/file.ts";
import { RLIMIT } from "../kernel/limits.ts";
import type { SyscallDef } from "./table.ts";
import { pidfdTarget } from "./sys_pidfd.ts";
import { AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW } from "../../abi/linux/file.ts";

const WNOHANG = 1;
const WUNTRACED = 2;
const WEXITED = 4;
const WCONTINUED = 8;
const WNOWAIT = 0x01000000;
const WNOTHREAD = 0x20000000;
const WALL = 0x40000000;
const WCLONE = 0x80000000 | 0;
const P_ALL = 0;
const P_PID = 1;
const P_PGID = 2;
const P_PIDFD = 3;

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

/**
 * Creates the child and, for vfork, waits until it execs or exits. Otherwise the call ends at
 * once, with no promise for the caller's loop to await.
 */
function doClone(t: Task, a: CloneArgs): number | Promise<number> {
  const child = cloneTask(t, a);
  let vforkDone: Promise<void> | null = null;
  if (a.flags & CLONE.VFORK) vforkDone = new Promise((r) => (child.vforkDone = r));
  child.run().catch((e) => t.kernel.log.error(`task ${child.tid}: ${e}`));
  // The parent waits killably: SIGKILL (or its group's exit) ends the wait and the parent, and
  // the child goes on with the address space it still holds.
  return vforkDone ? t.blockKillable(vforkDone).then(() => child.tid) : child.tid;
}

/** Implements Linux syscall clone(2) (x86-64 order: flags, stack, parent_tid, child_tid, tls). */
function clone(t: Task): number | Promise<number> {
  const flags = argPtr(t, 0);
  return doClone(t, {
    flags: flags & ~0xffn,
    exitSignal: Number(flags & 0xffn),
    stack: argPtr(t, 1),
    parentTid: argPtr(t, 2),
    childTid: argPtr(t, 3),
    tls: argPtr(t, 4),
  });
}

/** Implements Linux syscall clone3(2). */
function clone3(t: Task): number | Promise<number> {
  const size = Number(argPtr(t, 1));
  if (size < CLONE_ARGS_SIZE_VER0 || size > 4096) throw new SysError(Errno.EINVAL);
  const raw = new Uint8Array(CloneArgsStruct.size);
  raw.set(t.mm.copyIn(argPtr(t, 0), Math.min(size, CloneArgsStruct.size)));
  const a = CloneArgsStruct.decode(raw);
  if (a.flags & CLONE.PIDFD) throw new SysError(Errno.EINVAL);
  if (a.exitSignal > 64n || (a.flags & 0xffn)) throw new SysError(Errno.EINVAL);
  if ((a.stack === 0n) !== (a.stackSize === 0n)) throw new SysError(Errno.EINVAL);
  if (a.setTid !== 0n) throw new SysError(Errno.EINVAL);
  return doClone(t, {
    flags: a.flags,
    exitSignal: Number(a.exitSignal),
    stack: a.stack === 0n ? 0n : a.stack + a.stackSize,
    parentTid: a.parentTid,
    childTid: a.childTid,
    tls: a.tls,
  });
}

/** Implements Linux syscall fork(2). */
function fork(t: Task): number | Promise<number> {
  return doClone(t, {
    flags: 0n,
    exitSignal: SIG.CHLD,
    stack: 0n,
    parentTid: 0n,
    childTid: 0n,
    tls: 0n,
  });
}

/** Implements Linux syscall vfork(2). */
function vfork(t: Task): number | Promise<number> {
  return doClone(t, {
    flags: CLONE.VM | CLONE.VFORK,
    exitSignal: SIG.CHLD,
    stack: 0n,
    parentTid: 0n,
    childTid: 0n,
    tls: 0n,
  });
}

/** One argument or environment string, with its NUL (Linux's MAX_ARG_STRLEN). */
const MAX_ARG_STRLEN = 32 * 4096;

/**
 * Copies in execve's argv and envp. The budget is Linux's (a quarter of RLIMIT_STACK, at
 * least 128 KiB, at most 6 MiB, counting each string, its NUL and its pointer), and copying
 * stops as soon as it is spent: a vector that names one long string millions of times must
 * cost the Sentry no more than the budget before it answers E2BIG.
 */
function execArgs(t: Task, argvAddr: bigint, envpAddr: bigint): [string[], string[]] {
  const stack = t.tg.rlimits.get(RLIMIT.RLIMIT_STACK)?.cur ?? 8n << 20n;
  let budget = Math.max(MAX_ARG_STRLEN, Math.min(6 << 20, Number(stack / 4n)));
  const vector = (addr: bigint): string[] => {
    const out: string[] = [];
    if (addr === 0n) return out;
    for (let i = 0n;; i++) {
      const p = t.mm.readU64(addr + i * 8n);
      if (p === 0n) return out;
      let s: string;
      try {
        s = t.mm.copyInString(p, MAX_ARG_STRLEN);
      } catch (e) {
        // No NUL within MAX_ARG_STRLEN: too long for an argument, not a bad path.
        if (e instanceof SysError && e.errno === Errno.ENAMETOOLONG) {
          throw new SysError(Errno.E2BIG);
        }
        throw e;
      }
      budget -= t.mm.encode(s).length + 1 + 8;
      if (budget < 0) throw new SysError(Errno.E2BIG);
      out.push(s);
    }
  };
  return [vector(argvAddr), vector(envpAddr)];
}

/** Implements Linux syscall execve(2). */
function execve(t: Task): number {
  const path = t.mm.copyInString(argPtr(t, 0));
  if (path === "") throw new SysError(Errno.ENOENT);
  const [argv, envp] = execArgs(t, argPtr(t, 1), argPtr(t, 2));
  execTask(t, path, argv, envp);
  return 0;
}

/**
 * Implements Linux syscall execveat(2): a path relative to a directory descriptor, or with
 * AT_EMPTY_PATH the file the descriptor itself refers to (fexecve).
 */
function execveat(t: Task): number {
  const dirfd = argInt(t, 0);
  let path = t.mm.copyInString(argPtr(t, 1));
  const flags = argInt(t, 4);
  if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) throw new SysError(Errno.EINVAL);
  if (path === "" && !(flags & AT_EMPTY_PATH)) throw new SysError(Errno.ENOENT);
  if (!path.startsWith("/") && dirfd !== AT_FDCWD) {
    const vd = t.fdTable.get(dirfd).vd;
    if (!vd) throw new SysError(path === "" ? Errno.EACCES : Errno.ENOTDIR);
    const base = t.kernel.vfs.pathOf(vd, FsContext.of(t.tg).root);
    path = path === "" ? base : `${base === "/" ? "" : base}/${path}`;
  }
  const [argv, envp] = execArgs(t, argPtr(t, 2), argPtr(t, 3));
  execTask(t, path, argv, envp);
  return 0;
}

interface WaitResult {
  child: ThreadGroup;
  /** The wait status (wait4). */
  status: number;
  /** CLD_* for waitid. */
  code: number;
  /** Exit code or signal number for waitid's si_status. */
  siStatus: number;
}

/**
 * Finds a child matching `match` with something to report under `options`, waiting (unless
 * WNOHANG) until one has. Returns null for WNOHANG with nothing to report. Throws ECHILD when
 * no child matches at all.
 */
async function waitChild(
  t: Task,
  match: (c: ThreadGroup) => boolean,
  options: number,
): Promise<WaitResult | null> {
  for (;;) {
    const kids = [...t.tg.children].filter((c) => {
      if (!match(c)) return false;
      if (options & WALL) return true;
      // Without __WALL: __WCLONE selects children that signal with something else than
      // SIGCHLD, and its absence the others.
      const isClone = c.exitSignal !== SIG.CHLD;
      return (options & WCLONE) ? isClone : !isClone;
    });
    if (kids.length === 0) throw new SysError(Errno.ECHILD);
    for (const c of kids) {
      if (c.zombie && (options & WEXITED)) {
        const st = c.exitStatus!;
        const exited = (st & 0x7f) === 0;
        if (!(options & WNOWAIT)) c.reap();
        return {
          child: c,
          status: st,
          code: exited ? CLD.EXITED : CLD.KILLED,
          siStatus: exited ? (st >> 8) & 0xff : st & 0x7f,
        };
      }
      if ((options & WUNTRACED) && c.stopReport !== null) {
        const st = c.stopReport;
        if (!(options & WNOWAIT)) c.stopReport = null;
        return { child: c, status: st, code: CLD.STOPPED, siStatus: (st >> 8) & 0xff };
      }
      if ((options & WCONTINUED) && c.continueReport) {
        if (!(options & WNOWAIT)) c.continueReport = false;
        return { child: c, status: CONTINUED_STATUS, code: CLD.CONTINUED, siStatus: SIG.CONT };
      }
    }
    if (options & WNOHANG) return null;
    await t.block(t.tg.childEvents.wait());
  }
}

/** Implements Linux syscall wait4(2). */
async function wait4(t: Task): Promise<number> {
  const pid = argInt(t, 0);
  const statusAddr = argPtr(t, 1);
  const options = argInt(t, 2);
  const rusage = argPtr(t, 3);
  if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | WNOTHREAD | WALL | WCLONE)) {
    throw new SysError(Errno.EINVAL);
  }
  const pgid = t.tg.pgid;
  const match = pid < -1
    ? (c: ThreadGroup) => c.pgid === -pid
    : pid === -1
    ? () => true
    : pid === 0
    ? (c: ThreadGroup) => c.pgid === pgid
    : (c: ThreadGroup) => c.pid === pid;
  const r = await waitChild(t, match, options | WEXITED);
  if (!r) return 0;
  if (statusAddr !== 0n) t.mm.writeU32(statusAddr, r.status);
  if (rusage !== 0n) t.mm.copyOut(rusage, new Uint8Array(Rusage.size));
  return r.child.pid;
}

/** Implements Linux syscall waitid(2). */
async function waitid(t: Task): Promise<number> {
  const idtype = argInt(t, 0);
  const id = argInt(t, 1);
  const infop = argPtr(t, 2);
  const options = argInt(t, 3);
  const rusage = argPtr(t, 4);
  if (
    options & ~(WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | WNOTHREAD | WALL | WCLONE)
  ) {
    throw new SysError(Errno.EINVAL);
  }
  if (!(options & (WEXITED | WUNTRACED | WCONTINUED))) throw new SysError(Errno.EINVAL);
  let match: (c: ThreadGroup) => boolean;
  let nonblocking = false;
  switch (idtype) {
    case P_ALL:
      match = () => true;
      break;
    case P_PID:
      match = (c) => c.pid === id;
      break;
    case P_PGID: {
      const pg = id === 0 ? t.tg.pgid : id;
      match = (c) => c.pgid === pg;
      break;
    }
    case P_PIDFD: {
      const f = pidfdTarget(t, id);
      match = (c) => c === f.tg;
      // A nonblocking pidfd waits as WNOHANG does, but says EAGAIN where that says 0.
      nonblocking = (f.flags & O_NONBLOCK) !== 0 && (options & WNOHANG) === 0;
      break;
    }
    default:
      throw new SysError(Errno.EINVAL);
  }
  const r = await waitChild(t, match, nonblocking ? options | WNOHANG : options);
  if (!r && nonblocking) throw new SysError(Errno.EAGAIN);
  if (infop !== 0n) {
    // No child ready (WNOHANG): a zeroed siginfo_t, si_pid 0.
    const info = r
      ? { signo: SIG.CHLD, code: r.code, pid: r.child.pid, uid: r.child.uid, status: r.siStatus }
      : {};
    t.mm.copyOut(infop, SiginfoChld.encode(info));
  }
  if (rusage !== 0n) t.mm.copyOut(rusage, new Uint8Array(Rusage.size));
  return 0;
}

/** Implements Linux syscall setsid(2). */
function setsid(t: Task): number {
  const tg = t.tg;
  for (const g of t.kernel.threadGroups.values()) {
    if (g.pgid === tg.pid) throw new SysError(Errno.EPERM);
  }
  tg.sid = tg.pid;
  tg.pgid = tg.pid;
  return tg.sid;
}

/** Implements Linux syscall setpgid(2). */
function setpgid(t: Task): number {
  const pid = argInt(t, 0) || t.tg.pid;
  let pgid = argInt(t, 1);
  if (pgid < 0) throw new SysError(Errno.EINVAL);
  const target = t.kernel.threadGroups.get(pid);
  if (!target || (target !== t.tg && target.parent !== t.tg)) throw new SysError(Errno.ESRCH);
  if (target.sid !== t.tg.sid) throw new SysError(Errno.EPERM);
  if (target.sid === target.pid) throw new SysError(Errno.EPERM);
  if (pgid === 0) pgid = target.pid;
  if (pgid !== target.pid) {
    const exists = [...t.kernel.threadGroups.values()].some((g) =>
      g.pgid === pgid && g.sid === t.tg.sid
    );
    if (!exists) throw new SysError(Errno.EPERM);
  }
  target.pgid = pgid;
  return 0;
}

function lookup(t: Task, pid: number): ThreadGroup {
  if (pid === 0) return t.tg;
  const g = t.kernel.threadGroups.get(pid);
  if (!g) throw new SysError(Errno.ESRCH);
  return g;
}

export const syscalls: Record<string, SyscallDef> = {
  getpid: { handler: getpid, args: [] },
  gettid: { handler: gettid, args: [] },
  getppid: { handler: getppid, args: [] },
  set_tid_address: { handler: setTidAddress, args: ["x"] },
  set_robust_list: { handler: setRobustList, args: ["x", "d"] },
  exit: { handler: exit, args: ["d"] },
  exit_group: { handler: exitGroup, args: ["d"] },
  clone: { handler: clone, args: ["C", "x", "x", "x", "x"] },
  clone3: {
    handler: clone3,
    support: "partial",
    note: "no pidfd, set_tid or cgroup",
    args: ["x", "d"],
  },
  fork: { handler: fork, args: [] },
  vfork: { handler: vfork, args: [] },
  execve: { handler: execve, args: ["s", "x", "x"] },
  execveat: { handler: execveat, args: ["d", "s", "x", "x", "x"] },
  wait4: { handler: wait4, args: ["d", "x", "W", "x"] },
  waitid: { handler: waitid, args: ["d", "d", "x", "W", "x"] },
  setsid: { handler: setsid, args: [] },
  setpgid: { handler: setpgid, args: ["d", "d"] },
  getpgid: { handler: (t: Task) => lookup(t, argInt(t, 0)).pgid, args: ["d"] },
  getpgrp: { handler: (t: Task) => t.tg.pgid, args: [] },
  getsid: { handler: (t: Task) => lookup(t, argInt(t, 0)).sid, args: ["d"] },
  rseq: {
    support: "unimplemented",
    note: "restartable sequences are not offered; the C library falls back",
    args: ["x", "d", "x", "x"],
  },
};
