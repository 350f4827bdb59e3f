/**
 * The kernel: the sandbox-wide state that tasks share (the platform, the memory file, the
 * PID namespace, the filesystem, the syscall dispatcher).
 *
 * @module
 */

import type { Logger } from "../../log.ts";
import type { Platform } from "../../platform/platform.ts";
import type { GoferFs } from "../fs/gofer.ts";
import type { MemoryFile } from "../mm/memory_file.ts";
import { SyscallDispatcher } from "../syscalls/table.ts";
import { SIG } from "./signals.ts";
import type { Task, ThreadGroup } from "./task.ts";

export interface KernelOptions {
  platform: Platform;
  memoryFile: MemoryFile;
  log: Logger;
  fs: GoferFs;
  strace: boolean;
  hostname: string;
}

export class Kernel {
  readonly platform: Platform;
  readonly mf: MemoryFile;
  readonly log: Logger;
  readonly fs: GoferFs;
  readonly syscalls: SyscallDispatcher;
  readonly tasks = new Map<number, Task>();
  readonly threadGroups = new Map<number, ThreadGroup>();
  hostname: string;
  domainname = "(none)";
  #lastPid = 0;

  constructor(opts: KernelOptions) {
    this.platform = opts.platform;
    this.mf = opts.memoryFile;
    this.log = opts.log;
    this.fs = opts.fs;
    this.hostname = opts.hostname;
    this.syscalls = new SyscallDispatcher(opts.strace, (line) => this.log.info(line));
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

  /** Called when a thread group's last task is gone. */
  threadGroupExited(tg: ThreadGroup): void {
    this.threadGroups.delete(tg.pid);
    // When init dies the PID namespace goes with it, as on Linux.
    if (tg.pid === 1) {
      for (const other of this.threadGroups.values()) other.sendSignal(SIG.KILL);
    }
  }
}
