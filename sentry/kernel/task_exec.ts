/**
 * execve(2): replace the calling process's image.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { capsOnExec } from "./task_creds.ts";
import { checkArgLimits, loadExecutable } from "../loader/loader.ts";
import { MemoryManager } from "../mm/mm.ts";
import { RLIMIT } from "./limits.ts";
import { SS_DISABLE } from "./signal.ts";
import type { Task } from "./task.ts";
import { exitRobustList } from "./futex.ts";
import { decodeBytes, encodeBytes } from "../../host/utf8b.ts";
import { Fpstate64 } from "../../abi/linux/sigframe.ts";

/**
 * Loads `path` into a new address space and switches the task to it. On failure the task is
 * untouched and the SysError propagates (execve returns it). On success the other threads of
 * the process end, close-on-exec descriptors close, caught signals reset, and a vfork parent
 * resumes.
 */
export function execTask(t: Task, path: string, argv: string[], envp: string[]): void {
  const k = t.kernel;
  const tg = t.tg;
  checkArgLimits(argv, envp, tg.rlimits.get(RLIMIT.RLIMIT_STACK)?.cur ?? 8n << 20n);
  const as = k.newAddressSpace(Errno.ENOMEM);
  const mm = new MemoryManager(as, k.mf, k.platform.maxUserAddress);
  mm.stackLimit = tg.rlimits.get(RLIMIT.RLIMIT_STACK)?.cur ?? mm.stackLimit;
  let loaded;
  try {
    loaded = loadExecutable(k, mm, t.regs, {
      path,
      argv,
      envp,
      cwd: tg.cwd,
      uid: tg.euid,
      gid: tg.egid,
      task: t,
    });
  } catch (e) {
    mm.release();
    throw e;
  }
  // Past the point of no return.
  if (t.tid !== tg.pid) {
    tg.leaderReplaced = true;
    k.leaderless.delete(tg);
  }
  for (const o of tg.tasks) {
    if (o !== t) {
      o.exiting = true;
      o.wake();
    }
  }
  exitRobustList(k.futexes, t.mm, t.robustList, t.tid);
  t.robustList = 0n;
  if (t.clearChildTid !== 0n) {
    try {
      t.mm.writeU32(t.clearChildTid, 0);
      k.futexes.wake(t.mm, t.clearChildTid, 1, 0xffffffff);
    } catch {
      // Not mapped any more.
    }
    t.clearChildTid = 0n;
  }
  const old = t.mm;
  t.mm = mm;
  old.decUsers();
  tg.fdTable.closeOnExec();
  tg.handlers = tg.handlers.fork();
  tg.handlers.resetForExec();
  t.altStack = { sp: 0n, flags: SS_DISABLE, size: 0n };
  t.savedMask = null;
  t.ctx.setFpState(initialFpState());
  tg.exe = loaded.exe;
  tg.argv = loaded.argv;
  tg.envp = envp;
  // The name is the last component of the path the caller gave (a link such as /proc/self/exe
  // names the process "exe"), not the file it resolved to.
  tg.comm = commOf(path);
  t.name = tg.comm;
  capsOnExec(tg);
  t.vforkDone?.();
  t.vforkDone = null;
}

/** The first TASK_COMM_LEN - 1 bytes of the path's last component, as Linux cuts them. */
function commOf(path: string): string {
  return decodeBytes(encodeBytes(path.slice(path.lastIndexOf("/") + 1)).subarray(0, 15));
}

/** The FPU state a new program starts with (x87 control word 0x37f, MXCSR 0x1f80). */
function initialFpState(): Uint8Array<ArrayBuffer> {
  return Fpstate64.encode({ cwd: 0x37f, mxcsr: 0x1f80 });
}
