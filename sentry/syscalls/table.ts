/**
 * The system call table, as data: number -> name, handler, support status and the shape of
 * the arguments for --strace. Each family file (sys_*.ts) describes its calls; numbers with no
 * handler answer ENOSYS. The compatibility list is generated from this table.
 *
 * @module
 */

import { Errno, errnoName } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "../../abi/linux/error.ts";
import { SYSCALL_NAMES } from "../../abi/linux/syscalls.ts";
import { formatCall } from "./strace.ts";
import { syscalls as mmap } from "./sys_mmap.ts";
import { syscalls as readWrite } from "./sys_read_write.ts";
import { syscalls as thread } from "./sys_thread.ts";
import { syscalls as identity } from "./sys_identity.ts";
import { syscalls as tls } from "./sys_tls.ts";
import { syscalls as rlimit } from "./sys_rlimit.ts";
import { syscalls as utsname } from "./sys_utsname.ts";
import { syscalls as random } from "./sys_random.ts";
import { syscalls as stat } from "./sys_stat.ts";
import { syscalls as ioctl } from "./sys_ioctl.ts";
import { syscalls as file } from "./sys_file.ts";
import { syscalls as fsOps } from "./sys_fs.ts";
import { syscalls as setstat } from "./sys_setstat.ts";
import { syscalls as fscontext } from "./sys_fscontext.ts";
import { syscalls as getdents } from "./sys_getdents.ts";
import { syscalls as sync } from "./sys_sync.ts";
import { syscalls as pipe } from "./sys_pipe.ts";
import { syscalls as poll } from "./sys_poll.ts";
import { syscalls as epoll } from "./sys_epoll.ts";
import { syscalls as socket } from "./sys_socket.ts";
import { syscalls as splice } from "./sys_splice.ts";
import { syscalls as xattr } from "./sys_xattr.ts";
import { syscalls as timerfd } from "./sys_timerfd.ts";
import { syscalls as signalfd } from "./sys_signalfd.ts";
import { syscalls as inotify } from "./sys_inotify.ts";
import { syscalls as mountCalls } from "./sys_mount.ts";
import { syscalls as fadvise } from "./sys_fadvise.ts";
import { syscalls as time } from "./sys_time.ts";
import { syscalls as signal } from "./sys_signal.ts";
import { syscalls as futex } from "./sys_futex.ts";
import { syscalls as prctl } from "./sys_prctl.ts";
import { syscalls as sched } from "./sys_sched.ts";
import { syscalls as rusage } from "./sys_rusage.ts";
import { syscalls as timer } from "./sys_timer.ts";
import { syscalls as unimplemented } from "./sys_unimplemented.ts";
import { syscalls as ptrace } from "./sys_ptrace.ts";
import { syscalls as processVm } from "./sys_process_vm.ts";
import { syscalls as kcmp } from "./sys_kcmp.ts";
import { syscalls as pidfd } from "./sys_pidfd.ts";

export type SyscallReturn = number | bigint;
/** Every handler: decode arguments from the task's registers, work, return a value. */
export type SyscallHandler = (t: Task) => SyscallReturn | Promise<SyscallReturn>;
export type Support = "supported" | "partial" | "unimplemented";

/**
 * How --strace prints an argument (strace.ts): d a C int (AT_FDCWD shows as such), l a 64-bit
 * signed value, x hex, o octal, s a path string, b a buffer whose length is the next argument,
 * S a signal by name, and flag words by name: P mmap/mprotect protections, M mmap flags,
 * O open flags, C clone flags, W wait options.
 */
export type ArgKind = "d" | "l" | "x" | "s" | "b" | "o" | "S" | "P" | "M" | "O" | "C" | "W";

export interface SyscallDef {
  handler?: SyscallHandler;
  support?: Support;
  /** What is missing for partial support, or why it is not implemented. */
  note?: string;
  args?: ArgKind[];
}

export interface SyscallEntry extends SyscallDef {
  nr: number;
  name: string;
  support: Support;
}

const families: Record<string, SyscallDef>[] = [
  readWrite,
  mmap,
  thread,
  identity,
  tls,
  rlimit,
  utsname,
  random,
  stat,
  ioctl,
  file,
  fsOps,
  setstat,
  fscontext,
  getdents,
  sync,
  pipe,
  poll,
  epoll,
  socket,
  splice,
  xattr,
  timerfd,
  signalfd,
  inotify,
  mountCalls,
  fadvise,
  time,
  signal,
  futex,
  prctl,
  sched,
  rusage,
  timer,
  unimplemented,
  ptrace,
  processVm,
  kcmp,
  pidfd,
];

function buildTable(): SyscallEntry[] {
  const byName = new Map<string, SyscallDef>();
  for (const f of families) {
    for (const [name, def] of Object.entries(f)) {
      if (byName.has(name)) throw new Error(`syscall ${name} is described twice`);
      byName.set(name, def);
    }
  }
  const table: SyscallEntry[] = [];
  SYSCALL_NAMES.forEach((name, nr) => {
    const def = byName.get(name);
    byName.delete(name);
    table[nr] = {
      ...def,
      nr,
      name,
      support: def?.support ?? (def?.handler ? "supported" : "unimplemented"),
    };
  });
  if (byName.size > 0) throw new Error(`unknown syscalls described: ${[...byName.keys()]}`);
  return table;
}

/** The x86-64 table. */
export const SYSCALL_TABLE: readonly SyscallEntry[] = buildTable();

/** Serves one system call of t: reads its number and arguments, writes its result. */
export class SyscallDispatcher {
  constructor(readonly strace: boolean, readonly trace: (line: string) => void) {}

  /**
   * Serves t's system call. A handler that finishes at once is served here and now (nothing
   * is returned); one that waits gives a promise. The caller awaits only that, so a plain call
   * costs no microtask turn, and a woken one reaches its task's loop in as few as it can.
   */
  dispatch(t: Task): Promise<void> | undefined {
    const nr = t.regs.sysno;
    const entry = nr >= 0 && nr < SYSCALL_TABLE.length ? SYSCALL_TABLE[nr] : undefined;
    const before = this.strace ? formatCall(t, entry, nr) : "";
    if (!entry?.handler) {
      this.#finish(t, before, -BigInt(Errno.ENOSYS));
      return;
    }
    let r: number | bigint | Promise<number | bigint>;
    try {
      r = entry.handler(t);
    } catch (e) {
      this.#finish(t, before, errnoOf(e));
      return;
    }
    if (r instanceof Promise) return this.#settle(t, before, r);
    this.#finish(t, before, BigInt(r));
  }

  async #settle(t: Task, before: string, p: Promise<number | bigint>): Promise<void> {
    let ret: bigint;
    try {
      ret = BigInt(await p);
    } catch (e) {
      ret = errnoOf(e);
    }
    this.#finish(t, before, ret);
  }

  #finish(t: Task, before: string, ret: bigint): void {
    if (this.strace) {
      const res = ret < 0n && ret > -4096n
        ? `${ret} ${errnoName(Number(-ret))}`
        : `${ret >= 0x10000n ? "0x" + ret.toString(16) : ret}`;
      this.trace(`[${t.tid}] ${before} = ${res}`);
    }
    if (!t.exiting) t.regs.setReturn(ret);
  }
}

/** A system call's result for an error a handler threw; anything but a SysError is a bug. */
function errnoOf(e: unknown): bigint {
  if (e instanceof SysError) return -BigInt(e.errno);
  throw e;
}
