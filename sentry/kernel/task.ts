/**
 * Tasks (Linux threads) and thread groups (processes).
 *
 * A task runs its application code through the platform and serves what comes back: system
 * calls through the syscall table, faults and signals through the signal rules. Each task's
 * loop is an async function; a task that waits in the Sentry awaits, and the others go on.
 *
 * @module
 */

import type { Context } from "../../platform/platform.ts";
import { Registers } from "../../platform/registers.ts";
import type { MemoryManager } from "../mm/mm.ts";
import type { FdTable } from "../vfs/fd_table.ts";
import type { Kernel } from "./kernel.ts";
import { defaultAction, SIG, signalName } from "./signals.ts";

/** Linux wait status encodings. */
export function exitedStatus(code: number): number {
  return (code & 0xff) << 8;
}
export function signaledStatus(sig: number): number {
  return sig & 0x7f;
}

/** Resource limits, as getrlimit(2) reports them (RLIM_INFINITY is 2^64-1). */
export interface Rlimit {
  cur: bigint;
  max: bigint;
}

/** A process: the tasks sharing a PID, FD table, limits and exit status. */
export class ThreadGroup {
  readonly tasks = new Set<Task>();
  /** Wait status once the group has exited. */
  exitStatus: number | null = null;
  /** Set by exit_group or a fatal signal: every task stops at its next chance. */
  exiting = false;
  readonly exited: Promise<number>;
  #resolveExited!: (status: number) => void;
  /** The executable's path, for /proc/self/exe. */
  exe = "";
  /** The command name (comm), at most 15 bytes. */
  comm = "";
  argv: string[] = [];
  uid = 0;
  gid = 0;
  umask = 0o022;
  /** Working directory (path from the container's root). */
  cwd = "/";
  readonly rlimits = new Map<number, Rlimit>();

  constructor(
    readonly kernel: Kernel,
    readonly pid: number,
    readonly parent: ThreadGroup | null,
    readonly fdTable: FdTable,
  ) {
    this.exited = new Promise((r) => (this.#resolveExited = r));
  }

  get leader(): Task | undefined {
    for (const t of this.tasks) if (t.tid === this.pid) return t;
    return undefined;
  }

  /** Starts the group's exit with wait status `status`; the first exit wins. */
  beginExit(status: number): void {
    if (this.exiting) return;
    this.exiting = true;
    this.exitStatus = status;
    for (const t of this.tasks) t.ctx.interrupt();
  }

  /**
   * Delivers a signal to the group. Without handlers (later work adds them) the default
   * action applies: terminate, or ignore.
   */
  sendSignal(sig: number): void {
    if (sig === 0 || this.exiting) return;
    const action = sig === SIG.KILL ? "term" : defaultAction(sig);
    this.kernel.log.debug(`pid ${this.pid}: ${signalName(sig)} (${action})`);
    if (action === "term" || action === "core") this.beginExit(signaledStatus(sig));
  }

  /** Called when the group's last task has gone. */
  finish(): void {
    this.fdTable.closeAll();
    this.exitStatus ??= exitedStatus(0);
    this.#resolveExited(this.exitStatus);
  }
}

/** A thread of execution. */
export class Task {
  readonly regs = new Registers();
  /** set_tid_address(2): cleared and futex-woken at exit. */
  clearChildTid = 0n;
  /** set_robust_list(2) head. */
  robustList = 0n;
  /** Set when this task must leave its loop (exit, or its group exits). */
  exiting = false;

  constructor(
    readonly kernel: Kernel,
    readonly tg: ThreadGroup,
    readonly tid: number,
    public mm: MemoryManager,
    readonly ctx: Context,
  ) {
    tg.tasks.add(this);
  }

  get fdTable(): FdTable {
    return this.tg.fdTable;
  }

  /** exit(2) for this task alone. */
  exitTask(code: number): void {
    this.exiting = true;
    if (this.tg.tasks.size === 1) this.tg.beginExit(exitedStatus(code));
  }

  /** Runs the task until it exits. */
  async run(): Promise<void> {
    const k = this.kernel;
    try {
      while (!this.exiting && !this.tg.exiting) {
        const r = await this.ctx.switch(this.mm.as, this.regs);
        if (this.tg.exiting) break;
        switch (r.kind) {
          case "syscall":
            await k.syscalls.dispatch(this);
            break;
          case "fault":
            k.log.debug(
              `tid ${this.tid}: ${signalName(r.signo)} at 0x${r.addr.toString(16)} ` +
                `rip 0x${this.regs.rip.toString(16)}`,
            );
            this.tg.sendSignal(r.signo);
            break;
          case "signal":
            this.tg.sendSignal(r.signo);
            break;
          case "interrupted":
            break;
          case "lost":
            k.log.warning(`tid ${this.tid}: platform lost the task: ${r.reason}`);
            this.tg.sendSignal(SIG.KILL);
            break;
        }
      }
    } catch (e) {
      // A Sentry bug: the application cannot continue, but the sandbox must stay up to
      // report what happened.
      k.log.error(`tid ${this.tid}: sentry error: ${e instanceof Error ? e.stack : e}`);
      this.tg.beginExit(signaledStatus(SIG.KILL));
    } finally {
      this.#exitCleanup();
    }
  }

  #exitCleanup(): void {
    this.tg.tasks.delete(this);
    this.kernel.tasks.delete(this.tid);
    this.ctx.release();
    if (this.tg.tasks.size === 0) {
      this.mm.release();
      this.tg.finish();
      this.kernel.threadGroupExited(this.tg);
    }
  }
}
