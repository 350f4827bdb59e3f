/**
 * Signals: rt_sigaction, rt_sigprocmask, rt_sigreturn, sigaltstack, kill, tkill, tgkill,
 * rt_sigqueueinfo, rt_tgsigqueueinfo, rt_sigpending, rt_sigsuspend, rt_sigtimedwait, pause.
 *
 * @module
 */

import { CAP, capable } from "../kernel/task_creds.ts";
import { Errno } from "../../abi/linux/errno.ts";
import type { Task, ThreadGroup } from "../kernel/task.ts";
import {
  decodeSigInfo,
  encodeSigInfo,
  SI,
  sigbit,
  type SigInfo,
  SS_AUTODISARM,
  SS_DISABLE,
  SS_ONSTACK,
  UNBLOCKABLE,
} from "../kernel/signal.ts";
import { onAltStack, restoreSignalFrame } from "../kernel/signal_frame.ts";
import { NSIG, SIG, Sigaction, SIGRTMIN, StackT } from "../../abi/linux/signal.ts";
import { readTimespec } from "./sys_time.ts";
import { argInt, argPtr } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { SyscallDef } from "./table.ts";
import { pidfdTarget } from "./sys_pidfd.ts";
import { procPidDirProcess } from "../fs/procfs.ts";
import { PidFd } from "../fs/pidfd.ts";

const SIG_BLOCK = 0;
const SIG_UNBLOCK = 1;
const SIG_SETMASK = 2;
const MINSIGSTKSZ = 2048n;

function checkSig(sig: number, allowZero = false): void {
  if (sig < (allowZero ? 0 : 1) || sig > NSIG) throw new SysError(Errno.EINVAL);
}

/** sigsetsize must be 8 on x86-64. */
function checkSetSize(t: Task, i: number): void {
  if (argPtr(t, i) !== 8n) throw new SysError(Errno.EINVAL);
}

/** Implements Linux syscall rt_sigaction(2). */
function rtSigaction(t: Task): number {
  const sig = argInt(t, 0);
  const act = argPtr(t, 1);
  const oact = argPtr(t, 2);
  checkSetSize(t, 3);
  checkSig(sig);
  const a = t.tg.handlers.actions[sig];
  let next = null;
  if (act !== 0n) {
    if (sig === SIG.KILL || sig === SIG.STOP) throw new SysError(Errno.EINVAL);
    next = Sigaction.decode(t.mm.copyIn(act, Sigaction.size));
    next.mask &= ~UNBLOCKABLE;
  }
  if (oact !== 0n) t.mm.copyOut(oact, Sigaction.encode(a));
  if (next) {
    Object.assign(a, next);
    // Setting a signal to be ignored discards what is pending of it (POSIX).
    if (t.tg.ignores(sig)) {
      t.tg.pending.discard(sig);
      for (const o of t.tg.tasks) o.pending.discard(sig);
    }
  }
  return 0;
}

/** Implements Linux syscall rt_sigprocmask(2). */
function rtSigprocmask(t: Task): number {
  const how = argInt(t, 0);
  const set = argPtr(t, 1);
  const oset = argPtr(t, 2);
  checkSetSize(t, 3);
  const old = t.sigmask;
  if (set !== 0n) {
    const m = t.mm.readU64(set);
    switch (how) {
      case SIG_BLOCK:
        t.setSignalMask(old | m);
        break;
      case SIG_UNBLOCK:
        t.setSignalMask(old & ~m);
        break;
      case SIG_SETMASK:
        t.setSignalMask(m);
        break;
      default:
        throw new SysError(Errno.EINVAL);
    }
  }
  if (oset !== 0n) t.mm.writeU64(oset, old);
  return 0;
}

/** Implements Linux syscall rt_sigreturn(2): the result is the restored rax. */
function rtSigreturn(t: Task): bigint {
  try {
    return BigInt.asIntN(64, restoreSignalFrame(t));
  } catch (e) {
    if (!(e instanceof SysError)) throw e;
    t.forceSignal({ signo: SIG.SEGV, errno: 0, code: SI.KERNEL });
    return 0n;
  }
}

/** Implements Linux syscall sigaltstack(2). */
function sigaltstack(t: Task): number {
  const ss = argPtr(t, 0);
  const oss = argPtr(t, 1);
  const on = onAltStack(t, t.regs.rsp);
  if (oss !== 0n) {
    const flags = t.altStack.size === 0n
      ? SS_DISABLE
      : (on ? SS_ONSTACK : 0) | (t.altStack.flags & SS_AUTODISARM);
    t.mm.copyOut(oss, StackT.encode({ sp: t.altStack.sp, flags, size: t.altStack.size }));
  }
  if (ss !== 0n) {
    const { sp, flags, size } = StackT.decode(t.mm.copyIn(ss, StackT.size));
    if (on) throw new SysError(Errno.EPERM);
    const mode = flags & ~SS_AUTODISARM;
    if (mode !== 0 && mode !== SS_DISABLE && mode !== SS_ONSTACK) throw new SysError(Errno.EINVAL);
    if (mode === SS_DISABLE) {
      t.altStack = { sp: 0n, flags: SS_DISABLE, size: 0n };
    } else {
      if (size < MINSIGSTKSZ) throw new SysError(Errno.ENOMEM);
      t.altStack = { sp, flags: flags & SS_AUTODISARM, size };
    }
  }
  return 0;
}

function userInfo(t: Task, sig: number, code: number): SigInfo {
  return { signo: sig, errno: 0, code, pid: t.tg.pid, uid: t.tg.uid };
}

/** Permission to signal: CAP_KILL, or the sender's real or effective uid is the target's real or saved one. */
function canSignal(t: Task, target: ThreadGroup): boolean {
  if (capable(t, CAP.KILL)) return true;
  const mine = [t.tg.uid, t.tg.euid];
  return mine.includes(target.uid) || mine.includes(target.suid);
}

function signalGroups(t: Task, groups: ThreadGroup[], info: SigInfo): number {
  if (groups.length === 0) throw new SysError(Errno.ESRCH);
  let sent = 0;
  for (const g of groups) {
    if (!canSignal(t, g)) continue;
    if (info.signo !== 0 && !g.initDrops(info.signo, false)) g.sendSignal({ ...info });
    sent++;
  }
  if (sent === 0) throw new SysError(Errno.EPERM);
  return 0;
}

/** Implements Linux syscall kill(2). */
function kill(t: Task): number {
  const pid = argInt(t, 0);
  const sig = argInt(t, 1);
  checkSig(sig, true);
  const info = userInfo(t, sig, SI.USER);
  const all = [...t.kernel.threadGroups.values()].filter((g) => !g.zombie);
  if (pid > 0) {
    const g = t.kernel.threadGroups.get(pid);
    return signalGroups(t, g && !g.zombie ? [g] : [], info);
  }
  if (pid === 0) return signalGroups(t, all.filter((g) => g.pgid === t.tg.pgid), info);
  if (pid === -1) {
    // Everyone but init and the caller.
    return signalGroups(t, all.filter((g) => g.pid !== 1 && g !== t.tg), info);
  }
  return signalGroups(t, all.filter((g) => g.pgid === -pid), info);
}

function findTask(t: Task, tgid: number, tid: number): Task {
  if (tid <= 0) throw new SysError(Errno.EINVAL);
  const target = t.kernel.tasks.get(tid);
  if (!target || (tgid > 0 && target.tg.pid !== tgid)) throw new SysError(Errno.ESRCH);
  return target;
}

function signalTask(t: Task, target: Task, info: SigInfo): number {
  if (!canSignal(t, target.tg)) throw new SysError(Errno.EPERM);
  if (info.signo !== 0 && !target.tg.initDrops(info.signo, false)) target.sendSignal(info);
  return 0;
}

/** Implements Linux syscall tkill(2). */
function tkill(t: Task): number {
  const sig = argInt(t, 1);
  checkSig(sig, true);
  return signalTask(t, findTask(t, 0, argInt(t, 0)), userInfo(t, sig, SI.TKILL));
}

/** Implements Linux syscall tgkill(2). */
function tgkill(t: Task): number {
  const tgid = argInt(t, 0);
  if (tgid <= 0) throw new SysError(Errno.EINVAL);
  const sig = argInt(t, 2);
  checkSig(sig, true);
  return signalTask(t, findTask(t, tgid, argInt(t, 1)), userInfo(t, sig, SI.TKILL));
}

function queuedInfo(t: Task, sig: number, addr: bigint): SigInfo {
  const info = decodeSigInfo(t.mm.copyIn(addr, 128));
  // Only the kernel may claim si_code >= 0 for a signal sent to someone else (SI_USER etc.).
  if (info.code >= 0) throw new SysError(Errno.EPERM);
  return { ...info, signo: sig };
}

/** Implements Linux syscall rt_sigqueueinfo(2). */
function rtSigqueueinfo(t: Task): number {
  const pid = argInt(t, 0);
  const sig = argInt(t, 1);
  checkSig(sig, true);
  const g = t.kernel.threadGroups.get(pid);
  const info = queuedInfo(t, sig, argPtr(t, 2));
  // A real-time signal that would pass RLIMIT_SIGPENDING is refused, as on Linux.
  if (g && sig >= SIGRTMIN && g.pending.full(g.sigpendingLimit())) {
    throw new SysError(Errno.EAGAIN);
  }
  return signalGroups(t, g && !g.zombie ? [g] : [], info);
}

/** Implements Linux syscall rt_tgsigqueueinfo(2). */
function rtTgsigqueueinfo(t: Task): number {
  const sig = argInt(t, 2);
  checkSig(sig, true);
  const target = findTask(t, argInt(t, 0), argInt(t, 1));
  const info = queuedInfo(t, sig, argPtr(t, 3));
  if (sig >= SIGRTMIN && target.pending.full(target.tg.sigpendingLimit())) {
    throw new SysError(Errno.EAGAIN);
  }
  return signalTask(t, target, info);
}

/** Implements Linux syscall rt_sigpending(2). */
function rtSigpending(t: Task): number {
  if (argPtr(t, 1) > 8n) throw new SysError(Errno.EINVAL);
  t.mm.writeU64(argPtr(t, 0), (t.pending.mask | t.tg.pending.mask) & t.sigmask);
  return 0;
}

/** Implements Linux syscall rt_sigsuspend(2): always ends with EINTR once a handler ran. */
async function rtSigsuspend(t: Task): Promise<number> {
  checkSetSize(t, 1);
  const mask = t.mm.readU64(argPtr(t, 0));
  t.savedMask = t.sigmask;
  t.setSignalMask(mask);
  await t.block(new Promise<never>(() => {}), Errno.ERESTARTNOHAND);
  return 0;
}

/** Implements Linux syscall pause(2). */
async function pause(t: Task): Promise<number> {
  await t.block(new Promise<never>(() => {}), Errno.ERESTARTNOHAND);
  return 0;
}

/** Implements Linux syscall rt_sigtimedwait(2). */
async function rtSigtimedwait(t: Task): Promise<number> {
  checkSetSize(t, 3);
  const set = t.mm.readU64(argPtr(t, 0)) & ~UNBLOCKABLE;
  const infoAddr = argPtr(t, 1);
  const tsAddr = argPtr(t, 2);
  let timeoutMs: number | null = null;
  if (tsAddr !== 0n) {
    timeoutMs = readTimespec(t, tsAddr);
  }
  const take = (): SigInfo | null => {
    for (let n = 1; n <= NSIG; n++) {
      if (!(set & sigbit(n))) continue;
      const i = t.pending.take(n) ?? t.tg.pending.take(n);
      if (i) return i;
    }
    return null;
  };
  let info = take();
  if (!info) {
    if (timeoutMs === 0) throw new SysError(Errno.EAGAIN);
    // Wait with the awaited signals unblocked, so that their arrival wakes us; whatever
    // else arrives and is deliverable interrupts the wait.
    const old = t.sigmask;
    t.sigmask = old & ~set;
    try {
      let id: ReturnType<typeof setTimeout> | undefined;
      const timer = timeoutMs === null
        ? new Promise<never>(() => {})
        : new Promise<"timeout">((r) => (id = setTimeout(() => r("timeout"), timeoutMs!)));
      try {
        const r = await t.block(timer, Errno.EINTR).catch((e) => {
          if (e instanceof SysError && e.errno === Errno.EINTR) return "signal";
          throw e;
        });
        info = take();
        if (!info && r === "timeout") throw new SysError(Errno.EAGAIN);
        if (!info) throw new SysError(Errno.EINTR);
      } finally {
        if (id !== undefined) clearTimeout(id);
      }
    } finally {
      t.sigmask = old;
    }
  }
  if (infoAddr !== 0n) t.mm.copyOut(infoAddr, encodeSigInfo(info));
  return info.signo;
}

const PIDFD_SIGNAL_THREAD = 1n;
const PIDFD_SIGNAL_PROCESS_GROUP = 4n;

/** Implements Linux syscall pidfd_send_signal(2). */
function pidfdSendSignal(t: Task): number {
  const fd = argInt(t, 0);
  const dir = t.fdTable.get(fd).vd?.inode;
  const owner = dir && procPidDirProcess(dir);
  const target = owner ? new PidFd(owner, 0) : pidfdTarget(t, fd);
  const sig = argInt(t, 1);
  const infoAddr = argPtr(t, 2);
  // PIDFD_SIGNAL_THREAD, _THREAD_GROUP, _PROCESS_GROUP: at most one.
  const flags = argPtr(t, 3);
  if ((flags & ~7n) !== 0n || (flags & (flags - 1n)) !== 0n) throw new SysError(Errno.EINVAL);
  checkSig(sig, true);
  let info = userInfo(t, sig, SI.USER);
  if (infoAddr !== 0n) {
    const given = decodeSigInfo(t.mm.copyIn(infoAddr, 128));
    if (given.signo !== sig) throw new SysError(Errno.EINVAL);
    // As rt_sigqueueinfo: only the kernel may claim si_code >= 0 for another process.
    if (target.tg !== t.tg && given.code >= 0) throw new SysError(Errno.EPERM);
    info = given;
  }
  if (target.exited) throw new SysError(Errno.ESRCH);
  if (flags === PIDFD_SIGNAL_THREAD) {
    const leader = t.kernel.tasks.get(target.tg.pid);
    if (!leader) throw new SysError(Errno.ESRCH);
    return signalTask(t, leader, info);
  }
  if (flags === PIDFD_SIGNAL_PROCESS_GROUP) {
    const pg = target.tg.pgid;
    return signalGroups(
      t,
      [...t.kernel.threadGroups.values()].filter((g) => !g.zombie && g.pgid === pg),
      info,
    );
  }
  return signalGroups(t, [target.tg], info);
}

export const syscalls: Record<string, SyscallDef> = {
  pidfd_send_signal: { handler: pidfdSendSignal, args: ["d", "S", "x", "x"] },
  rt_sigaction: { handler: rtSigaction, args: ["S", "x", "x", "d"] },
  rt_sigprocmask: { handler: rtSigprocmask, args: ["d", "x", "x", "d"] },
  rt_sigreturn: { handler: rtSigreturn, args: [] },
  sigaltstack: { handler: sigaltstack, args: ["x", "x"] },
  kill: { handler: kill, args: ["d", "S"] },
  tkill: { handler: tkill, args: ["d", "S"] },
  tgkill: { handler: tgkill, args: ["d", "d", "S"] },
  rt_sigqueueinfo: { handler: rtSigqueueinfo, args: ["d", "S", "x"] },
  rt_tgsigqueueinfo: { handler: rtTgsigqueueinfo, args: ["d", "d", "S", "x"] },
  rt_sigpending: { handler: rtSigpending, args: ["x", "d"] },
  rt_sigsuspend: { handler: rtSigsuspend, args: ["x", "d"] },
  rt_sigtimedwait: { handler: rtSigtimedwait, args: ["x", "x", "x", "d"] },
  pause: { handler: pause, args: [] },
};
