/**
 * Sandbox: the Sentry as the boot process drives it (see sentry/sandbox.ts for the types).
 *
 * @module
 */

import { LisafsClient } from "../../gofer/lisafs/client.ts";
import { HostError } from "../../host/libc.ts";
import { PtracePlatform } from "../../platform/ptrace/ptrace.ts";
import { KvmPlatform } from "../../platform/kvm/kvm.ts";
import type { Platform } from "../../platform/platform.ts";
import { buildMountTree } from "../fs/mount_tree.ts";
import { HostFile } from "../fs/host.ts";
import { loadExecutable, lookPath } from "../loader/loader.ts";
import { MemoryFile } from "../mm/memory_file.ts";
import { MemoryManager } from "../mm/mm.ts";
import {
  type InitSpec,
  SandboxError,
  type SandboxOptions,
  type SandboxStatus,
} from "../sandbox.ts";
import { SysError } from "../syscalls/errors.ts";
import { defaultRlimits, RLIMIT } from "../syscalls/sys_rlimit.ts";
import { FdTable } from "../vfs/fd_table.ts";
import { FsContext, initFsContext } from "../vfs/fs_context.ts";
import { Kernel } from "./kernel.ts";
import { signaledStatus, Task, ThreadGroup } from "./task.ts";
import { errnoName } from "../../host/errno.ts";

const O_RDONLY = 0;
const O_WRONLY = 1;

function newPlatform(name: string, mf: MemoryFile): Platform {
  switch (name) {
    case "ptrace":
      return new PtracePlatform(mf);
    case "kvm":
      try {
        return new KvmPlatform(mf);
      } catch (e) {
        throw new SandboxError(
          `platform kvm is unusable here (${e instanceof Error ? e.message : e}); ` +
            "use --platform=ptrace",
        );
      }
    default:
      throw new SandboxError(`unknown platform ${JSON.stringify(name)}`);
  }
}

export class Sandbox {
  readonly exited: Promise<number>;
  #status: SandboxStatus = "created";
  #released = false;

  private constructor(
    readonly kernel: Kernel,
    readonly init: Task,
    readonly mf: MemoryFile,
  ) {
    this.exited = init.tg.exited.then((s) => {
      this.#status = "stopped";
      return s;
    });
  }

  /** Builds the kernel and loads the init process; nothing runs until start(). */
  static async create(opts: SandboxOptions, spec: InitSpec): Promise<Sandbox> {
    await Promise.resolve();
    const mf = new MemoryFile();
    if (spec.memoryLimit !== undefined) mf.limit = BigInt(spec.memoryLimit);
    let platform: Platform | undefined;
    try {
      platform = newPlatform(opts.platform, mf);
      const kernel = new Kernel({
        platform,
        memoryFile: mf,
        log: opts.log,
        strace: opts.strace,
        hostname: spec.hostname || "localhost",
      });
      kernel.vfs = buildMountTree(kernel, {
        client: new LisafsClient(opts.goferFd),
        rootReadonly: spec.rootReadonly ?? false,
        mounts: spec.mounts ?? [],
        mf,
        log: opts.log,
        overlay2: opts.overlay2,
        fileAccess: opts.fileAccess,
        fileAccessMounts: opts.fileAccessMounts,
      });
      const fdTable = new FdTable();
      fdTable.set(0, new HostFile(opts.stdio[0], O_RDONLY));
      fdTable.set(1, new HostFile(opts.stdio[1], O_WRONLY));
      fdTable.set(2, new HostFile(opts.stdio[2], O_WRONLY));
      const pid = kernel.allocPid();
      const tg = new ThreadGroup(kernel, pid, null, fdTable);
      tg.uid = tg.euid = tg.suid = spec.uid;
      tg.gid = tg.egid = tg.sgid = spec.gid;
      tg.groups = [...spec.additionalGids];
      if (spec.umask !== undefined) tg.umask = spec.umask;
      tg.cwd = spec.cwd;
      FsContext.set(tg, initFsContext(kernel, spec.cwd, tg.umask));
      for (const [r, l] of defaultRlimits()) tg.rlimits.set(r, l);
      for (const l of spec.rlimits) {
        const r = RLIMIT[l.type];
        if (r === undefined) throw new SandboxError(`unknown rlimit ${l.type}`);
        tg.rlimits.set(r, { cur: BigInt(l.soft), max: BigInt(l.hard) });
      }
      kernel.threadGroups.set(pid, tg);
      const as = platform.newAddressSpace();
      const mm = new MemoryManager(as, mf, platform.maxUserAddress);
      mm.stackLimit = tg.rlimits.get(RLIMIT.RLIMIT_STACK)?.cur ?? mm.stackLimit;
      const task = new Task(kernel, tg, pid, mm, platform.newContext());
      try {
        const path = lookPath(kernel, spec.args[0], spec.env, spec.cwd);
        const r = loadExecutable(kernel, mm, task.regs, {
          path,
          argv: spec.args,
          envp: spec.env,
          cwd: spec.cwd,
          uid: spec.uid,
          gid: spec.gid,
        });
        tg.exe = r.exe;
        tg.argv = r.argv;
        tg.envp = spec.env;
        tg.comm = r.exe.slice(r.exe.lastIndexOf("/") + 1).slice(0, 15);
      } catch (e) {
        if (e instanceof SysError) {
          throw new SandboxError(
            `cannot start ${JSON.stringify(spec.args[0])}: ${e.message}` +
              (e.message === errnoName(e.errno) ? "" : ` (${errnoName(e.errno)})`),
            e.errno,
            { cause: e },
          );
        }
        throw e;
      }
      return new Sandbox(kernel, task, mf);
    } catch (e) {
      platform?.release();
      if (e instanceof SandboxError) throw e;
      if (e instanceof HostError) throw new SandboxError(`sandbox setup failed: ${e.message}`);
      throw e;
    }
  }

  /** Starts init running. */
  start(): void {
    if (this.#status !== "created") return;
    this.#status = "running";
    this.init.run().catch((e) => this.kernel.log.error(`init: ${e}`));
  }

  /** Delivers a signal to init's thread group. */
  signal(signo: number): void {
    if (this.#status === "created") {
      // Not started: a fatal signal ends it before it ever runs; its loop only cleans up.
      this.init.tg.beginExit(signaledStatus(signo));
      this.#status = "running";
      this.init.run().catch((e) => this.kernel.log.error(`init: ${e}`));
      return;
    }
    this.init.tg.sendSignal({ signo, errno: 0, code: 0, /* SI_USER */ pid: 0, uid: 0 });
  }

  status(): SandboxStatus {
    return this.#status;
  }

  processes(): { pid: number; ppid: number; cmd: string }[] {
    return [...this.kernel.threadGroups.values()].map((tg) => ({
      pid: tg.pid,
      ppid: tg.parent?.pid ?? 0,
      cmd: tg.argv.join(" ") || tg.comm,
    }));
  }

  /** Kills everything and releases the platform. */
  destroy(): void {
    if (this.#released) return;
    this.#released = true;
    for (const tg of this.kernel.threadGroups.values()) tg.beginExit(signaledStatus(9));
    this.kernel.platform.release();
  }
}
