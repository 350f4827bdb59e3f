/**
 * clone(2): new tasks and processes, sharing or copying what the flags say.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { R } from "../../platform/registers.ts";
import { SysError } from "../../abi/linux/error.ts";
import { Task, ThreadGroup } from "./task.ts";

export const CLONE = {
  VM: 0x100n,
  FS: 0x200n,
  FILES: 0x400n,
  SIGHAND: 0x800n,
  PIDFD: 0x1000n,
  PTRACE: 0x2000n,
  VFORK: 0x4000n,
  PARENT: 0x8000n,
  THREAD: 0x10000n,
  NEWNS: 0x20000n,
  SYSVSEM: 0x40000n,
  SETTLS: 0x80000n,
  PARENT_SETTID: 0x100000n,
  CHILD_CLEARTID: 0x200000n,
  DETACHED: 0x400000n,
  UNTRACED: 0x800000n,
  CHILD_SETTID: 0x1000000n,
  NEWCGROUP: 0x2000000n,
  NEWUTS: 0x4000000n,
  NEWIPC: 0x8000000n,
  NEWUSER: 0x10000000n,
  NEWPID: 0x20000000n,
  NEWNET: 0x40000000n,
  IO: 0x80000000n,
} as const;

const NAMESPACE_FLAGS = CLONE.NEWNS | CLONE.NEWCGROUP | CLONE.NEWUTS | CLONE.NEWIPC |
  CLONE.NEWUSER | CLONE.NEWPID | CLONE.NEWNET;

export interface CloneArgs {
  flags: bigint;
  /** New stack pointer for the child (0: the parent's). */
  stack: bigint;
  parentTid: bigint;
  childTid: bigint;
  tls: bigint;
  /** Signal sent to the parent when the child exits (0: none). */
  exitSignal: number;
}

/** Creates the child task described by a; it starts running at once. Returns it. */
export function cloneTask(t: Task, a: CloneArgs): Task {
  const f = a.flags;
  if ((f & CLONE.THREAD) && !(f & CLONE.SIGHAND)) throw new SysError(Errno.EINVAL);
  if ((f & CLONE.SIGHAND) && !(f & CLONE.VM)) throw new SysError(Errno.EINVAL);
  if ((f & CLONE.FS) && (f & CLONE.NEWNS)) throw new SysError(Errno.EINVAL);
  if ((f & CLONE.THREAD) && (f & CLONE.NEWPID)) throw new SysError(Errno.EINVAL);
  // The sandbox is one set of namespaces; a nested one is not offered.
  if (f & NAMESPACE_FLAGS) throw new SysError(Errno.EPERM);
  if (a.exitSignal < 0 || a.exitSignal > 64) throw new SysError(Errno.EINVAL);

  const k = t.kernel;
  // The pids cgroup's check, before anything is allocated: each task is a host stub thread
  // or process, so this is what bounds a fork bomb on the host.
  if (k.pidsInUse() >= k.pidsLimit) throw new SysError(Errno.EAGAIN);
  // The descriptor table is copied before the address space, and dropped again if that fails:
  // nothing half-made may outlive a failed clone (a copied pipe end would keep it open).
  const ownFiles = !(f & CLONE.THREAD) && !(f & CLONE.FILES);
  const fdTable = ownFiles ? t.tg.fdTable.fork() : t.tg.fdTable;
  let mm;
  try {
    mm = (f & CLONE.VM) ? t.mm : t.mm.fork(k.newAddressSpace(Errno.EAGAIN));
  } catch (e) {
    if (ownFiles) fdTable.closeAll();
    throw e;
  }
  if (f & CLONE.VM) mm.users++;
  const tid = k.allocPid();
  let tg: ThreadGroup;
  if (f & CLONE.THREAD) {
    tg = t.tg;
  } else {
    const parent = (f & CLONE.PARENT) ? t.tg.parent : t.tg;
    const handlers = (f & CLONE.SIGHAND) ? t.tg.handlers : t.tg.handlers.fork();
    tg = new ThreadGroup(k, tid, parent, fdTable, handlers);
    const p = t.tg;
    tg.exitSignal = a.exitSignal;
    tg.exe = p.exe;
    tg.comm = p.comm;
    tg.argv = p.argv;
    tg.envp = p.envp;
    tg.uid = p.uid;
    tg.gid = p.gid;
    tg.euid = p.euid;
    tg.egid = p.egid;
    tg.suid = p.suid;
    tg.sgid = p.sgid;
    tg.groups = [...p.groups];
    tg.umask = p.umask;
    tg.cwd = p.cwd;
    tg.pgid = p.pgid;
    tg.sid = p.sid;
    tg.noNewPrivs = p.noNewPrivs;
    tg.caps = { ...p.caps };
    tg.securebits = p.securebits;
    tg.keepCaps = p.keepCaps;
    tg.dumpable = p.dumpable;
    for (const [r, l] of p.rlimits) tg.rlimits.set(r, { ...l });
    k.threadGroups.set(tid, tg);
  }
  const child = new Task(k, tg, tid, mm, k.platform.newContext());
  child.regs.copyFrom(t.regs);
  child.regs.setReturn(0n);
  if (a.stack !== 0n) child.regs.rsp = a.stack;
  if (f & CLONE.SETTLS) child.regs.r[R.fs_base] = a.tls;
  child.ctx.setFpState(t.ctx.fpState());
  child.sigmask = t.sigmask;
  child.cpuMask = t.cpuMask;
  child.name = t.name;
  if (!(f & CLONE.VM) || (f & CLONE.VFORK)) child.altStack = { ...t.altStack };
  if (f & CLONE.PARENT_SETTID) t.mm.writeU32(a.parentTid, tid);
  if (f & CLONE.CHILD_SETTID) mm.writeU32(a.childTid, tid);
  if (f & CLONE.CHILD_CLEARTID) child.clearChildTid = a.childTid;
  return child;
}
