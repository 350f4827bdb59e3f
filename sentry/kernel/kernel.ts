/**
 * The kernel: the sandbox-wide state that tasks share (the platform, the memory file, the
 * PID namespace, the filesystem, the syscall dispatcher).
 *
 * @module
 */

import type { Logger } from "../../log.ts";
import type { AddressSpace, Platform } from "../../platform/platform.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { MemoryFile } from "../mm/memory_file.ts";
import type { VirtualFilesystem } from "../vfs/vfs.ts";
import { FutexManager } from "./futex.ts";
import { SIG } from "../../abi/linux/signal.ts";
import type { Task, ThreadGroup } from "./task.ts";

/**
 * Most tasks a container may have when its spec sets no linux.resources.pids.limit. Every
 * task costs a host thread or process (its stub), so this also bounds what a fork bomb makes
 * on the host; 4096 is well above what ordinary workloads use (a large JVM or build uses a
 * few hundred) and close to systemd's default TasksMax, yet small enough that the Sentry and
 * the host stay responsive when a program reaches it.
 */
export const DEFAULT_PIDS_LIMIT = 4096;

/** How long tasks may keep the event loop from the control socket and timers (ms). */
const EVENT_LOOP_SLICE_MS = 20;

/**
 * Runs `f` as a macrotask: after the event loop has polled for I/O and run the timers that are
 * due. A message through a channel of the Sentry's own takes tens of microseconds where
 * setTimeout(f, 0) waits for the timers' next millisecond (2.2 ms measured), which cost a busy
 * sandbox a tenth of its time at one turn per slice. The channel never keeps the process alive.
 */
const macrotask: (f: () => void) => void = (() => {
  const { port1, port2 } = new MessageChannel();
  const queued: (() => void)[] = [];
  port1.onmessage = () => queued.shift()?.();
  (port1 as unknown as { unref(): void }).unref();
  return (f: () => void) => {
    queued.push(f);
    port2.postMessage(null);
  };
})();

export interface KernelOptions {
  platform: Platform;
  memoryFile: MemoryFile;
  log: Logger;
  /** The syscall table (sentry/syscalls/table.ts), given so that the kernel imports no syscall file. */
  syscalls: SyscallTable;
  hostname: string;
}

/**
 * What the kernel needs of the syscall table: run the system call a task stopped at. A promise
 * when the call has to wait.
 */
export interface SyscallTable {
  dispatch(t: Task): Promise<void> | undefined;
}

export class Kernel {
  readonly platform: Platform;
  readonly mf: MemoryFile;
  readonly log: Logger;
  /** The mount tree (set by the sandbox right after construction). */
  vfs!: VirtualFilesystem;
  readonly syscalls: SyscallTable;
  readonly tasks = new Map<number, Task>();
  readonly threadGroups = new Map<number, ThreadGroup>();
  readonly futexes = new FutexManager();
  /** When the sandbox started (ms since the epoch), for uptime and sysinfo. */
  readonly bootTime = Date.now();
  hostname: string;
  domainname = "(none)";
  /**
   * linux.resources.pids.limit: most tasks at once (threads count, as the pids cgroup counts
   * them, and so do zombies until they are reaped); clone beyond it fails with EAGAIN.
   */
  pidsLimit = DEFAULT_PIDS_LIMIT;
  /** Thread groups that exited and are not reaped yet: they hold a pid, so they count. */
  readonly zombies = new Set<ThreadGroup>();
  /**
   * Live thread groups whose first thread has exited: it holds the group's pid until the
   * group is gone, so it counts (finish() moves the group to zombies).
   */
  readonly leaderless = new Set<ThreadGroup>();
  /**
   * Sentry bugs so far: exceptions out of a task's loop that were not a Linux errno. Counted
   * so that the boot process can report them (and tests assert none) by number, not by text.
   */
  sentryErrors = 0;

  /**
   * Tasks charged to linux.resources.pids: the live ones, exited first threads of live
   * groups, and unreaped zombies.
   */
  pidsInUse(): number {
    return this.tasks.size + this.leaderless.size + this.zombies.size;
  }

  /**
   * A new address space from the platform, or SysError(errno) when the host cannot make one
   * (the ptrace platform's template stub gone, the host out of processes): the caller's
   * system call fails with errno rather than the task being lost.
   */
  newAddressSpace(errno: number): AddressSpace {
    try {
      return this.platform.newAddressSpace();
    } catch (e) {
      if (e instanceof SysError) throw e;
      this.log.warning(`cannot make an address space: ${e instanceof Error ? e.message : e}`);
      throw new SysError(errno);
    }
  }
  #lastPid = 0;

  constructor(opts: KernelOptions) {
    this.platform = opts.platform;
    this.mf = opts.memoryFile;
    this.log = opts.log;
    this.hostname = opts.hostname;
    this.syscalls = opts.syscalls;
  }

  /**
   * When the event loop last had a turn (ms, Date.now()). Tasks step on microtasks
   * (the platform's polls, dispatch), so busy tasks can keep the microtask queue from ever
   * draining, and then the control socket, timers and host I/O never run.
   */
  #lastTurn = Date.now();
  #turn: Promise<void> | null = null;

  /**
   * Null while the event loop had a turn recently; otherwise a promise, shared by every task,
   * that resolves after one (a macrotask). Tasks await it before their next step, so that
   * once all of them do, the control socket is served: `runsc state` and `kill` answer
   * under any application load.
   */
  eventLoopTurn(): Promise<void> | null {
    if (this.#turn) return this.#turn;
    // Asked before every system call: Date.now() costs half of performance.now() here, and
    // milliseconds are fine for the slice. A clock set back takes a turn at once rather than
    // none until it has caught up.
    const since = Date.now() - this.#lastTurn;
    if (since >= 0 && since < EVENT_LOOP_SLICE_MS) return null;
    return this.#turn = new Promise((resolve) => {
      macrotask(() => {
        this.#lastTurn = Date.now();
        this.#turn = null;
        resolve();
      });
    });
  }

  /** The next free PID (and TID) in the sandbox's PID namespace; init gets 1. */
  allocPid(): number {
    for (;;) {
      this.#lastPid = this.#lastPid >= 4194304 ? 1 : this.#lastPid + 1;
      if (!this.tasks.has(this.#lastPid) && !this.threadGroups.has(this.#lastPid)) {
        return this.#lastPid;
      }
    }
  }

  /** The sandbox's init process, if it is still there. */
  get init(): ThreadGroup | undefined {
    return this.threadGroups.get(1);
  }

  /**
   * Called when a thread group's last task is gone, before it becomes a zombie: its children
   * go to the nearest subreaper or to init, and when init dies the PID namespace goes too.
   */
  threadGroupExited(tg: ThreadGroup): void {
    if (tg.pid === 1) {
      for (const other of this.threadGroups.values()) {
        if (other !== tg) other.sendSignal(SIG.KILL);
      }
    }
    let reaper: ThreadGroup | null | undefined = tg.parent;
    while (reaper && !reaper.subreaper) reaper = reaper.parent;
    reaper ??= this.init;
    if (reaper === tg || reaper?.exiting) reaper = undefined;
    for (const child of tg.children) {
      if (child.pdeathSignal) child.sendSignal(child.pdeathSignal);
      child.parent = reaper ?? null;
      if (reaper) {
        reaper.children.add(child);
        if (child.zombie) reaper.childEvents.notify();
      } else if (child.zombie) {
        child.reap();
      }
    }
    tg.children.clear();
  }
}
