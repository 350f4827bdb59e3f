/**
 * Tasks (Linux threads) and thread groups (processes).
 *
 * A task runs its application code through the platform and serves what comes back: system
 * calls through the syscall table, faults and signals through the signal rules. Each task's
 * loop is an async function; a task that waits in the Sentry awaits (through Task.block, which
 * a signal can interrupt), and the other tasks go on.
 *
 * @module
 */

import { type CapSets, fullCaps } from "./task_creds.ts";
import { Errno } from "../../abi/linux/errno.ts";
import type { Context } from "../../platform/platform.ts";
import { R, Registers } from "../../platform/registers.ts";
import type { MemoryManager } from "../mm/mm.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { FdTable } from "../vfs/fd_table.ts";
import type { Kernel } from "./kernel.ts";
import {
  CLD,
  MAX_QUEUED_SIGNALS,
  PendingSignals,
  SA,
  SI,
  SIG_DFL,
  SIG_IGN,
  sigbit,
  type SigInfo,
  SignalHandlers,
  type SignalStack,
  SS_DISABLE,
  UNBLOCKABLE,
} from "./signal.ts";
import { setupSignalFrame } from "./signal_frame.ts";
import { exitRobustList } from "./futex.ts";
import { BUS, defaultAction, SIG, signalName } from "../../abi/linux/signal.ts";
import { emulateVsyscall, isVsyscallCall } from "./vsyscall.ts";
import { RLIMIT, type Rlimit } from "./limits.ts";

/** Linux wait status encodings. */
export function exitedStatus(code: number): number {
  return (code & 0xff) << 8;
}
export function signaledStatus(sig: number): number {
  return sig & 0x7f;
}
export function stoppedStatus(sig: number): number {
  return (sig << 8) | 0x7f;
}
export const CONTINUED_STATUS = 0xffff;

export type { Rlimit };

/** A broadcast wake-up: waiters await `wait()`; `notify()` wakes them all. */
export class Notifier {
  #waiters: (() => void)[] = [];
  wait(): Promise<void> {
    return new Promise((r) => this.#waiters.push(r));
  }
  notify(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const r of w) r();
  }
}

const RESTART_ERRNOS = new Set<number>([
  Errno.ERESTARTSYS,
  Errno.ERESTARTNOINTR,
  Errno.ERESTARTNOHAND,
  Errno.ERESTART_RESTARTBLOCK,
]);

/** A process: the tasks sharing a PID, FD table, signal dispositions and exit status. */
export class ThreadGroup {
  readonly tasks = new Set<Task>();
  readonly children = new Set<ThreadGroup>();
  /** Signals sent to the process as a whole. */
  readonly pending = new PendingSignals();

  /** RLIMIT_SIGPENDING: how many real-time signals one of its queues may hold. */
  sigpendingLimit(): number {
    const cur = this.rlimits.get(RLIMIT.RLIMIT_SIGPENDING)?.cur ?? 0n;
    return cur > BigInt(MAX_QUEUED_SIGNALS) ? MAX_QUEUED_SIGNALS : Number(cur);
  }
  /** Wait status once the group has exited. */
  exitStatus: number | null = null;
  /** Set by exit_group, execve from another thread, or a fatal signal. */
  exiting = false;
  /** A zombie: exited, waiting to be reaped by its parent. */
  zombie = false;
  /** Resolves with the wait status when the group has exited. */
  readonly exited: Promise<number>;
  #resolveExited!: (status: number) => void;
  /** Woken when a child changes state (exit, stop, continue), for wait4. */
  readonly childEvents = new Notifier();
  /** Group stop (SIGSTOP and friends) in force. */
  stopped = false;
  readonly continued = new Notifier();
  /** A stop or continue not yet reported to the parent's wait (WUNTRACED / WCONTINUED). */
  stopReport: number | null = null;
  continueReport = false;
  /** The signal sent to the parent on exit (clone's CSIGNAL; SIGCHLD for fork). */
  exitSignal: number = SIG.CHLD;
  /** PR_SET_CHILD_SUBREAPER. */
  subreaper = false;
  /** The executable's path, for /proc/self/exe. */
  exe = "";
  /** The command name (comm), at most 15 bytes. */
  comm = "";
  argv: string[] = [];
  envp: string[] = [];
  uid = 0;
  gid = 0;
  euid = 0;
  egid = 0;
  suid = 0;
  sgid = 0;
  groups: number[] = [];
  umask = 0o022;
  /** Working directory (path from the container's root). */
  cwd = "/";
  pgid: number;
  sid: number;
  readonly rlimits = new Map<number, Rlimit>();
  /** prctl state. */
  noNewPrivs = false;
  dumpable = 1;
  /**
   * A thread other than the first has run execve: it stands for the process now (Linux
   * gives it the process's pid), so the first thread's exit frees its place in the pids
   * limit at once.
   */
  leaderReplaced = false;
  /** PR_SET_PDEATHSIG: sent to this process when its parent exits. */
  pdeathSignal = 0;
  keepCaps = false;
  /** Capability sets (task_creds.ts); every capability until the spec's are applied. */
  caps: CapSets = fullCaps();
  /** prctl(PR_SET_SECUREBITS). */
  securebits = 0;
  /** Nice value (setpriority). */
  nice = 0;
  /** personality(2) flags. */
  personality = 0;
  /** CPU time of this group's exited threads, and of its reaped children (ns). */
  readonly cpuExited = { user: 0n, sys: 0n };
  readonly cpuChildren = { user: 0n, sys: 0n };
  /** Start time (ms since the epoch) for /proc and times(). */
  readonly startTime = Date.now();

  constructor(
    readonly kernel: Kernel,
    readonly pid: number,
    public parent: ThreadGroup | null,
    public fdTable: FdTable,
    public handlers: SignalHandlers = new SignalHandlers(),
  ) {
    this.exited = new Promise((r) => (this.#resolveExited = r));
    this.pgid = parent?.pgid ?? pid;
    this.sid = parent?.sid ?? pid;
    parent?.children.add(this);
  }

  get leader(): Task | undefined {
    for (const t of this.tasks) if (t.tid === this.pid) return t;
    return this.tasks.values().next().value;
  }

  /** Starts the group's exit with wait status `status`; the first exit wins. */
  beginExit(status: number): void {
    if (this.exiting) return;
    this.exiting = true;
    this.exitStatus = status;
    if (this.stopped) {
      this.stopped = false;
      this.continued.notify();
    }
    for (const t of this.tasks) t.wake();
  }

  /**
   * Sends a signal to the process (kill(2)): queued for the group and delivered by whichever
   * task does not block it.
   */
  sendSignal(info: SigInfo | number): void {
    const i: SigInfo = typeof info === "number" ? { signo: info, errno: 0, code: SI.KERNEL } : info;
    const sig = i.signo;
    if (sig === 0 || this.exiting || this.zombie) return;
    this.kernel.log.debug(`pid ${this.pid}: ${signalName(sig)} sent`);
    if (sig === SIG.KILL) {
      this.beginExit(signaledStatus(SIG.KILL));
      return;
    }
    if (!this.#prepare(sig)) return;
    this.pending.enqueue(i, this.sigpendingLimit());
    // Wake one task that will take it: prefer one that does not block it.
    for (const t of this.tasks) {
      if (!(t.sigmask & sigbit(sig))) {
        t.wake();
        return;
      }
    }
  }

  /**
   * What happens at send time, before queueing (Linux's prepare_signal): SIGCONT resumes a
   * stopped group and cancels pending stops; a stop signal cancels a pending SIGCONT; a signal
   * whose disposition ignores it is dropped. Returns whether to queue it.
   */
  #prepare(sig: number): boolean {
    const stops = [SIG.STOP, SIG.TSTP, SIG.TTIN, SIG.TTOU];
    if (sig === SIG.CONT) {
      for (const s of stops) {
        this.pending.discard(s);
        for (const t of this.tasks) t.pending.discard(s);
      }
      if (this.stopped) {
        this.stopped = false;
        this.stopReport = null;
        this.continueReport = true;
        this.continued.notify();
        this.notifyParent(CLD.CONTINUED, SIG.CONT);
      }
    } else if (stops.includes(sig as typeof stops[number])) {
      this.pending.discard(SIG.CONT);
      for (const t of this.tasks) t.pending.discard(SIG.CONT);
    }
    return !this.ignores(sig);
  }

  /**
   * Whether the container's init drops `sig` sent to it by kill(2) and its kin or by the
   * runtime (`runsc kill`): as the init of a PID namespace, it takes only the signals it has a
   * handler for, and SIGKILL and SIGSTOP from outside (`fromRuntime`). So `docker stop` of a
   * shell without a TERM trap waits for its timeout, as with runc.
   */
  initDrops(sig: number, fromRuntime: boolean): boolean {
    if (this.pid !== 1 || this.parent !== null) return false;
    if (fromRuntime && (sig === SIG.KILL || sig === SIG.STOP)) return false;
    // A blocked signal is kept: its handler may change before it is unblocked.
    if ([...this.tasks].some((t) => (t.sigmask & sigbit(sig)) !== 0n)) return false;
    return this.handlers.actions[sig]?.handler === SIG_DFL;
  }

  /** True if a signal would be dropped on arrival (ignored and not blocked by every task). */
  ignores(sig: number): boolean {
    const a = this.handlers.actions[sig];
    const ignored = a.handler === SIG_IGN ||
      (a.handler === SIG_DFL && (defaultAction(sig) === "ignore" ||
        (sig === SIG.CONT)));
    if (!ignored) return false;
    // A blocked signal stays pending even if ignored, as sigwait may take it.
    for (const t of this.tasks) if (t.sigmask & sigbit(sig)) return false;
    return true;
  }

  /** Tells the parent about a state change: SIGCHLD (unless it asked not to) and a wake-up. */
  notifyParent(code: number, status: number): void {
    const p = this.parent;
    if (!p) return;
    const chld = p.handlers.actions[SIG.CHLD];
    const quiet = (code === CLD.STOPPED || code === CLD.CONTINUED) &&
      (chld.flags & SA.NOCLDSTOP) !== 0n;
    if (!quiet && (code !== CLD.EXITED && code !== CLD.KILLED && code !== CLD.DUMPED)) {
      p.sendSignal({ signo: SIG.CHLD, errno: 0, code, pid: this.pid, uid: this.uid, status });
    }
    p.childEvents.notify();
  }

  /** Called when the group's last task has gone: becomes a zombie or is reaped at once. */
  finish(): void {
    this.exitStatus ??= exitedStatus(0);
    this.fdTable.closeAll();
    this.kernel.threadGroupExited(this);
    const st = this.exitStatus;
    const code = (st & 0x7f) === 0 ? CLD.EXITED : CLD.KILLED;
    const status = code === CLD.EXITED ? (st >> 8) & 0xff : st & 0x7f;
    const p = this.parent;
    this.kernel.leaderless.delete(this);
    // Until reaped it holds its pid (a group never registered, or dropped, holds none).
    if (this.kernel.threadGroups.get(this.pid) === this) this.kernel.zombies.add(this);
    if (!p) {
      this.zombie = true;
      this.#resolveExited(st);
      return;
    }
    const act = p.handlers.actions[SIG.CHLD];
    const autoReap = this.exitSignal === SIG.CHLD &&
      (act.handler === SIG_IGN || (act.flags & SA.NOCLDWAIT) !== 0n);
    this.zombie = true;
    if (this.exitSignal > 0 && !autoReap) {
      p.sendSignal({
        signo: this.exitSignal,
        errno: 0,
        code,
        pid: this.pid,
        uid: this.uid,
        status,
      });
    }
    if (autoReap) this.reap();
    p.childEvents.notify();
    this.#resolveExited(st);
  }

  /** CPU time of the whole group so far (live and exited threads). */
  cpuTime(): { user: bigint; sys: bigint } {
    let user = this.cpuExited.user;
    let sys = this.cpuExited.sys;
    for (const t of this.tasks) {
      const c = t.ctx.cpuTime();
      user += c.user;
      sys += c.sys;
    }
    return { user, sys };
  }

  /** Removes a zombie for good (wait4 took it); its CPU time goes to the parent's children. */
  reap(): void {
    if (this.parent) {
      const c = this.cpuTime();
      this.parent.cpuChildren.user += c.user + this.cpuChildren.user;
      this.parent.cpuChildren.sys += c.sys + this.cpuChildren.sys;
    }
    this.parent?.children.delete(this);
    this.kernel.threadGroups.delete(this.pid);
    this.kernel.zombies.delete(this);
  }
}

/** A thread of execution. */
export class Task {
  readonly regs = new Registers();
  /** Blocked signals. */
  sigmask = 0n;
  /** Mask to restore after a sigsuspend-style temporary mask, once a handler is set up. */
  savedMask: bigint | null = null;
  /** Signals sent to this thread (tkill, faults). */
  readonly pending = new PendingSignals();
  altStack: SignalStack = { sp: 0n, flags: SS_DISABLE, size: 0n };
  /** set_tid_address(2): cleared and futex-woken at exit. */
  clearChildTid = 0n;
  /** set_robust_list(2) head. */
  robustList = 0n;
  /** Set when this task must leave its loop (exit, or its group exits). */
  exiting = false;
  /** vfork: resolves the parent's wait when this task execs or exits. */
  vforkDone: (() => void) | null = null;
  /** Thread name (PR_SET_NAME). */
  name = "";
  /** sched_setaffinity(2)'s CPU mask (bit n: CPU n), inherited by clone; null: every CPU. */
  cpuMask: bigint | null = null;
  #wake: (() => void) | null = null;

  /** In a wait a wake-up or a signal ends (/proc's S state), not running or runnable. */
  get sleeping(): boolean {
    return this.#wake !== null;
  }

  /** Where the task last faulted: a second fault there in a row is not a stale one. */
  #lastFault: { addr: bigint; mm: MemoryManager; generation: number } | null = null;
  #inPlatform = false;

  constructor(
    readonly kernel: Kernel,
    public tg: ThreadGroup,
    public tid: number,
    public mm: MemoryManager,
    readonly ctx: Context,
  ) {
    tg.tasks.add(this);
    kernel.tasks.set(tid, this);
  }

  get fdTable(): FdTable {
    return this.tg.fdTable;
  }

  /** Sets the signal mask; SIGKILL and SIGSTOP can never be blocked. */
  setSignalMask(mask: bigint): void {
    this.sigmask = mask & ~UNBLOCKABLE;
    if (this.#deliverable()) this.wake();
  }

  /** Sends a signal to this thread alone (tkill(2), faults). */
  sendSignal(info: SigInfo): void {
    if (this.tg.exiting || this.exiting) return;
    if (info.signo === SIG.KILL) {
      this.tg.beginExit(signaledStatus(SIG.KILL));
      return;
    }
    if (this.tg.ignores(info.signo) && info.code <= 0) return;
    this.pending.enqueue(info, this.tg.sigpendingLimit());
    if (!(this.sigmask & sigbit(info.signo))) this.wake();
  }

  /** Forces a synchronous signal (a fault): it cannot be blocked or ignored. */
  forceSignal(info: SigInfo): void {
    const a = this.tg.handlers.actions[info.signo];
    if (a.handler === SIG_IGN || (this.sigmask & sigbit(info.signo))) {
      a.handler = SIG_DFL;
      this.sigmask &= ~sigbit(info.signo);
    }
    this.pending.enqueue(info);
  }

  /** True if something must run before the task returns to its application code. */
  #deliverable(): boolean {
    return this.exiting || this.tg.exiting || this.tg.stopped ||
      ((this.pending.mask | this.tg.pending.mask) & ~this.sigmask) !== 0n;
  }

  /** Whether a pending, unblocked signal will end the process by its default action. */
  #fatalPending(): boolean {
    let m = (this.pending.mask | this.tg.pending.mask) & ~this.sigmask;
    for (let sig = 1; m !== 0n; sig++, m >>= 1n) {
      if (!(m & 1n)) continue;
      if (this.tg.handlers.actions[sig].handler !== SIG_DFL) continue;
      const action = defaultAction(sig);
      if (action === "term" || action === "core") return true;
    }
    return false;
  }

  /** Whether #deliverSignals(null) has anything to do: a signal, a stop, a mask to restore. */
  #mustDeliver(): boolean {
    return this.savedMask !== null || this.#deliverable();
  }

  /** Makes the task look at its signals now: ends a blocking wait or a platform switch. */
  wake(): void {
    if (this.#wake) {
      const w = this.#wake;
      this.#wake = null;
      w();
    } else if (this.#inPlatform) {
      this.ctx.interrupt();
    }
  }

  /**
   * Waits for p in a system call. A signal to deliver (or the task's exit) ends the wait with
   * SysError(interruptErrno): ERESTARTSYS by default, so that the call restarts or fails with
   * EINTR by the handler's SA_RESTART.
   */
  block<T>(p: Promise<T>, interruptErrno: number = Errno.ERESTARTSYS): Promise<T> {
    if (this.#deliverable()) return Promise.reject(new SysError(interruptErrno));
    return new Promise<T>((resolve, reject) => {
      const wake = () => reject(new SysError(interruptErrno));
      this.#wake = wake;
      p.then(
        (v) => {
          if (this.#wake === wake) this.#wake = null;
          resolve(v);
        },
        (e) => {
          if (this.#wake === wake) this.#wake = null;
          reject(e);
        },
      );
    });
  }

  /**
   * Waits for p where only the task's death may end the wait (Linux's TASK_KILLABLE, as a vfork
   * parent waits): SIGKILL, the group's exit or a signal that will kill the process (default
   * action, not blocked) ends it with SysError(EINTR), for the task to die; any other signal
   * stays pending until p settles.
   */
  blockKillable<T>(p: Promise<T>): Promise<T> {
    const killed = () => this.exiting || this.tg.exiting || this.#fatalPending();
    if (killed()) return Promise.reject(new SysError(Errno.EINTR));
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const wake = () => {
        if (settled) return;
        if (!killed()) {
          // An ordinary signal: it waits its turn, and so does the next wake-up.
          this.#wake = wake;
          return;
        }
        settled = true;
        reject(new SysError(Errno.EINTR));
      };
      this.#wake = wake;
      const done = (f: () => void) => {
        if (settled) return;
        settled = true;
        if (this.#wake === wake) this.#wake = null;
        f();
      };
      p.then((v) => done(() => resolve(v)), (e) => done(() => reject(e)));
    });
  }

  /**
   * Waits in a system call until the waker calls the function `arm` is given, which settles
   * the wait directly: a wake-up reaches the task in one microtask, where block's promise
   * layers cost one each, and each is paid again for every turn of another task's poll loop.
   * `arm` returns how to withdraw the waiter; a signal withdraws it before the wait ends with
   * SysError(interruptErrno), so that no wake-up is spent on a task that will not take it.
   * Precondition: `arm` queues the waiter and nothing else can fail after it has.
   */
  sleep<T>(
    arm: (wake: (v: T) => void) => () => void,
    interruptErrno: number = Errno.ERESTARTSYS,
  ): Promise<T> {
    if (this.#deliverable()) return Promise.reject(new SysError(interruptErrno));
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    let withdraw: (() => void) | null = null;
    const interrupt = () => {
      withdraw?.();
      reject(new SysError(interruptErrno));
    };
    this.#wake = interrupt;
    try {
      withdraw = arm((v) => {
        if (this.#wake === interrupt) this.#wake = null;
        resolve(v);
      });
    } catch (e) {
      if (this.#wake === interrupt) this.#wake = null;
      throw e;
    }
    return promise;
  }

  /** exit(2) for this task alone: the last task's exit ends the group with `code`. */
  exitTask(code: number): void {
    this.exiting = true;
    const others = [...this.tg.tasks].filter((t) => t !== this && !t.exiting);
    if (others.length === 0) this.tg.beginExit(exitedStatus(code));
  }

  /** Runs the task until it exits. */
  async run(): Promise<void> {
    const k = this.kernel;
    // A new task's first step waits for the system call that made it (clone, exec) to end.
    await null;
    try {
      while (!this.exiting && !this.tg.exiting) {
        const turn = k.eventLoopTurn();
        if (turn) {
          await turn;
          if (this.exiting || this.tg.exiting) break;
        }
        if (this.#mustDeliver()) await this.#deliverSignals(null);
        if (this.exiting || this.tg.exiting) break;
        this.#inPlatform = true;
        let r;
        try {
          r = await this.ctx.switch(this.mm.as, this.regs);
        } finally {
          this.#inPlatform = false;
        }
        if (this.exiting || this.tg.exiting) break;
        switch (r.kind) {
          case "syscall": {
            const sysno = this.regs.sysno;
            const waiting = k.syscalls.dispatch(this);
            if (waiting) await waiting;
            const ret = -Number(BigInt.asIntN(64, this.regs.r[R.rax]));
            if (RESTART_ERRNOS.has(ret)) await this.#deliverSignals({ sysno, errno: ret });
            break;
          }
          case "fault":
            // A call through the vsyscall page: the Sentry's to serve, never the host's.
            if (isVsyscallCall(r, this.regs.rip)) {
              await emulateVsyscall(this);
              break;
            }
            // A write to memory shared copy-on-write since fork is the Sentry's to resolve.
            {
              // The same fault again with no mapping changed since it was retried.
              const last = this.#lastFault;
              const again = last?.addr === r.addr && last.mm === this.mm &&
                last.generation === this.mm.generation;
              const handled = this.mm.handleFault(r.addr, r.access, again);
              this.#lastFault = { addr: r.addr, mm: this.mm, generation: this.mm.generation };
              if (handled) break;
            }
            // A page of a mapped file wholly past the file's end (Linux's VM_FAULT_SIGBUS).
            if (this.mm.pastEnd(r.addr, r.access)) r = { ...r, signo: SIG.BUS, code: BUS.ADRERR };
            k.log.debug(
              `tid ${this.tid}: ${signalName(r.signo)} at 0x${r.addr.toString(16)} ` +
                `rip 0x${this.regs.rip.toString(16)}`,
            );
            this.forceSignal({ signo: r.signo, errno: 0, code: r.code, addr: r.addr });
            break;
          case "signal":
            this.forceSignal({ signo: r.signo, errno: 0, code: r.code, addr: r.addr });
            break;
          case "interrupted":
            break;
          case "lost":
            k.log.warning(`tid ${this.tid}: platform lost the task: ${r.reason}`);
            this.tg.beginExit(signaledStatus(SIG.KILL));
            break;
        }
      }
    } catch (e) {
      // A Sentry bug: the application cannot continue, but the sandbox must stay up to
      // report what happened.
      k.sentryErrors++;
      k.log.error(
        `tid ${this.tid}: sentry error: ${e instanceof Error ? e.stack ?? String(e) : e}`,
      );
      this.tg.beginExit(signaledStatus(SIG.KILL));
    } finally {
      this.#exitCleanup();
    }
  }

  /**
   * Handles pending signals before returning to the application: default actions, group
   * stops, and at most one handler frame. `restart` is the interrupted system call, whose
   * -ERESTART* result becomes EINTR or a restart by the rules of SA_RESTART.
   */
  async #deliverSignals(restart: { sysno: number; errno: number } | null): Promise<void> {
    for (;;) {
      if (this.exiting || this.tg.exiting) return;
      if (this.tg.stopped) {
        // Group stop: wait for SIGCONT (or SIGKILL, which ends the stop through beginExit).
        await this.tg.continued.wait();
        continue;
      }
      const info = this.pending.dequeue(this.sigmask) ?? this.tg.pending.dequeue(this.sigmask);
      if (!info) break;
      const sig = info.signo;
      const action = this.tg.handlers.actions[sig];
      if (action.handler === SIG_IGN) continue;
      if (action.handler === SIG_DFL) {
        const what = defaultAction(sig);
        if (what === "ignore" || what === "continue") continue;
        if (what === "stop") {
          this.#groupStop(sig);
          continue;
        }
        this.tg.beginExit(signaledStatus(sig));
        return;
      }
      // A handler runs: fix up the interrupted system call first.
      if (restart) {
        const e = restart.errno;
        const restartIt = e === Errno.ERESTARTNOINTR ||
          (e === Errno.ERESTARTSYS && (action.flags & SA.RESTART) !== 0n);
        if (restartIt) this.#restartSyscall(restart.sysno);
        else this.regs.setReturn(-BigInt(Errno.EINTR));
        restart = null;
      }
      const oldMask = this.savedMask ?? this.sigmask;
      this.savedMask = null;
      try {
        setupSignalFrame(this, info, action, oldMask);
      } catch (e) {
        if (!(e instanceof SysError)) throw e;
        // The frame could not be written: the task dies of SIGSEGV, as on Linux.
        this.tg.beginExit(signaledStatus(SIG.SEGV));
        return;
      }
      let mask = this.sigmask | action.mask;
      if (!(action.flags & SA.NODEFER)) mask |= sigbit(sig);
      this.sigmask = mask & ~UNBLOCKABLE;
      if (action.flags & SA.RESETHAND) {
        action.handler = SIG_DFL;
        action.flags &= ~SA.SIGINFO;
      }
      return;
    }
    // No handler ran: an interrupted call restarts transparently.
    if (restart) this.#restartSyscall(restart.sysno);
    if (this.savedMask !== null) {
      this.sigmask = this.savedMask;
      this.savedMask = null;
    }
  }

  #restartSyscall(sysno: number): void {
    this.regs.r[R.rax] = BigInt(sysno);
    this.regs.rip -= 2n; // back onto the 2-byte `syscall` instruction
  }

  #groupStop(sig: number): void {
    const tg = this.tg;
    if (tg.stopped) return;
    tg.stopped = true;
    tg.stopReport = stoppedStatus(sig);
    tg.continueReport = false;
    for (const t of tg.tasks) if (t !== this) t.wake();
    tg.notifyParent(CLD.STOPPED, sig);
  }

  #exitCleanup(): void {
    const tg = this.tg;
    if (this.mm.users > 0) exitRobustList(this.kernel.futexes, this.mm, this.robustList, this.tid);
    // CLONE_CHILD_CLEARTID: tell a joiner that this thread is gone.
    if (this.clearChildTid !== 0n && this.mm.users > 0) {
      try {
        this.mm.writeU32(this.clearChildTid, 0);
        this.kernel.futexes.wake(this.mm, this.clearChildTid, 1, 0xffffffff);
      } catch {
        // Unmapped by now: nothing to clear.
      }
    }
    this.vforkDone?.();
    this.vforkDone = null;
    // Released first: the context reads its final CPU time as it lets go of its thread, and
    // a reading costs tens of microseconds on ptrace (a /proc file).
    this.ctx.release();
    const cpu = this.ctx.cpuTime();
    tg.cpuExited.user += cpu.user;
    tg.cpuExited.sys += cpu.sys;
    tg.tasks.delete(this);
    this.kernel.tasks.delete(this.tid);
    this.mm.decUsers();
    if (tg.tasks.size === 0) tg.finish();
    else if (this.tid === tg.pid && !tg.leaderReplaced) this.kernel.leaderless.add(tg);
  }
}
