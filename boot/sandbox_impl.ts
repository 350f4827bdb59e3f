/**
 * Sandbox: the Sentry as the boot process drives it (see boot/sandbox.ts for the types).
 *
 * @module
 */

import { fullCaps } from "../sentry/kernel/task_creds.ts";
import { LisafsClient } from "../gofer/lisafs/client.ts";
import { closeFd, HostError } from "../host/libc.ts";
import type { FileDescription } from "../sentry/vfs/file.ts";
import type { AddressSpace, Platform } from "../platform/platform.ts";
import { buildMountTree } from "../sentry/fs/mount_tree.ts";
import { HostFile } from "../sentry/fs/host.ts";
import { NetStack } from "../sentry/net/socket.ts";
import { attachInterfaces } from "../sentry/net/sandbox_net.ts";
import type { TakenInterface } from "./network.ts";
import type { EthernetEndpoint } from "../sentry/net/ethernet.ts";
import { HostConsole } from "../sentry/fs/host_console.ts";
import { loadExecutable, lookPath } from "../sentry/loader/loader.ts";
import { hostMemTotal, MemoryFile, setKernelAccount } from "../sentry/mm/memory_file.ts";
import { MemoryManager } from "../sentry/mm/mm.ts";
import {
  type InitSpec,
  type Prepared,
  SandboxError,
  type SandboxOptions,
  type SandboxStatus,
} from "./sandbox.ts";
import { SysError } from "../abi/linux/error.ts";
import { defaultRlimits, RLIMIT } from "../sentry/kernel/limits.ts";
import { SyscallDispatcher } from "../sentry/syscalls/table.ts";
import { FdTable } from "../sentry/vfs/fd_table.ts";
import { FsContext, initFsContext } from "../sentry/vfs/fs_context.ts";
import { DEFAULT_PIDS_LIMIT, Kernel } from "../sentry/kernel/kernel.ts";
import { signaledStatus, Task, ThreadGroup } from "../sentry/kernel/task.ts";
import { Errno, errnoName } from "../abi/linux/errno.ts";
import { O_RDONLY, O_WRONLY } from "../abi/linux/file.ts";

/**
 * Starts the platform of `opts` (with its fallback); only its code is loaded (a boot never
 * loads two unless systrap falls back).
 */
async function newPlatform(opts: SandboxOptions, mf: MemoryFile): Promise<Platform> {
  if (opts.platform === "systrap" && opts.platformFallback) {
    const { SystrapPlatform } = await import("../platform/systrap/systrap.ts");
    try {
      return new SystrapPlatform(mf);
    } catch (e) {
      opts.log.debug(
        `platform systrap is unusable here (${e instanceof Error ? e.message : e}): ` +
          "ptrace instead",
      );
      return await startPlatform("ptrace", mf);
    }
  }
  return await startPlatform(opts.platform, mf, opts.platformDevicePath);
}

/** Starts the platform named. */
async function startPlatform(name: string, mf: MemoryFile, devicePath?: string): Promise<Platform> {
  switch (name) {
    case "ptrace": {
      const { PtracePlatform } = await import("../platform/ptrace/ptrace.ts");
      return new PtracePlatform(mf);
    }
    case "kvm": {
      const { KvmPlatform } = await import("../platform/kvm/kvm.ts");
      try {
        return devicePath ? new KvmPlatform(mf, devicePath) : new KvmPlatform(mf);
      } catch (e) {
        throw new SandboxError(
          `platform kvm is unusable here (${e instanceof Error ? e.message : e}); ` +
            "use --platform=ptrace",
        );
      }
    }
    case "systrap": {
      const { SystrapPlatform } = await import("../platform/systrap/systrap.ts");
      try {
        return new SystrapPlatform(mf);
      } catch (e) {
        throw new SandboxError(
          `platform systrap is unusable here (${e instanceof Error ? e.message : e}); ` +
            "use --platform=ptrace",
        );
      }
    }
    default:
      throw new SandboxError(`unknown platform ${JSON.stringify(name)}`);
  }
}

/**
 * Creates a process from spec (the container's init, or one that `runsc exec` adds) with the
 * given files as its descriptors 0, 1 and 2, and loads its executable. It does not run yet.
 * Throws SandboxError with what the user must see.
 */
function newProcess(
  kernel: Kernel,
  spec: InitSpec,
  stdio: FileDescription[],
  made?: AddressSpace,
): Task {
  const platform = kernel.platform;
  const fdTable = new FdTable();
  stdio.forEach((f, i) => fdTable.set(i, f));
  // `runsc exec` counts against linux.resources.pids like clone does.
  if (kernel.pidsInUse() >= kernel.pidsLimit) {
    fdTable.closeAll();
    throw new SandboxError("cannot start a process: the container's pids limit is reached");
  }
  const pid = kernel.allocPid();
  const tg = new ThreadGroup(kernel, pid, null, fdTable);
  tg.uid = tg.euid = tg.suid = spec.uid;
  tg.gid = tg.egid = tg.sgid = spec.gid;
  tg.groups = [...spec.additionalGids];
  // As gVisor, the spec's sets are the init process's as they are: no execve transform.
  if (spec.capabilities) tg.caps = { ...spec.capabilities };
  else if (spec.uid !== 0) tg.caps = { ...fullCaps(), effective: 0n, permitted: 0n };
  tg.noNewPrivs = spec.noNewPrivileges ?? false;
  if (spec.umask !== undefined) tg.umask = spec.umask;
  tg.cwd = spec.cwd;
  for (const [r, l] of defaultRlimits()) tg.rlimits.set(r, l);
  for (const l of spec.rlimits) {
    const r = RLIMIT[l.type];
    if (r === undefined) throw new SandboxError(`unknown rlimit ${l.type}`);
    tg.rlimits.set(r, { cur: BigInt(l.soft), max: BigInt(l.hard) });
  }
  kernel.threadGroups.set(pid, tg);
  const fail = (e: unknown): never => {
    kernel.threadGroups.delete(pid);
    fdTable.closeAll();
    if (e instanceof SysError) {
      throw new SandboxError(
        `cannot start ${JSON.stringify(spec.args[0])}: ${e.message}` +
          (e.message === errnoName(e.errno) ? "" : ` (${errnoName(e.errno)})`),
        e.errno,
        { cause: e },
      );
    }
    throw e;
  };
  try {
    FsContext.set(tg, initFsContext(kernel, spec.cwd, tg.umask));
  } catch (e) {
    fail(e);
  }
  let as: AddressSpace;
  try {
    as = made ?? kernel.newAddressSpace(Errno.EAGAIN);
  } catch (e) {
    return fail(e);
  }
  const mm = new MemoryManager(as, kernel.mf, platform.maxUserAddress);
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
    // Not started: its loop only cleans up (address space, context, descriptors).
    tg.beginExit(signaledStatus(9));
    task.run().catch(() => {});
    kernel.threadGroups.delete(pid);
    if (e instanceof SysError) fail(e);
    throw e;
  }
  return task;
}

/** The memory file and platform of a sandbox without a container yet (Sandbox.prepare). */
class PreparedSandbox implements Prepared {
  constructor(
    readonly mf: MemoryFile,
    readonly platform: Platform,
    readonly initAs: AddressSpace,
  ) {}
  get platformName(): string {
    return this.platform.name;
  }
  release(): void {
    this.platform.release();
  }
}

export class Sandbox {
  readonly exited: Promise<number>;
  #status: SandboxStatus = "created";
  #released = false;
  readonly #consoles = new Set<HostConsole>();
  /** The links over packet sockets (--network=sandbox), stopped by destroy. */
  readonly #links: EthernetEndpoint[] = [];

  /** The platform it runs on (the one asked for, or the fallback). */
  get platform(): string {
    return this.kernel.platform.name;
  }

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

  /** Sentry bugs so far: exceptions out of a task that were not a Linux errno. */
  sentryErrors(): number {
    return this.kernel.sentryErrors;
  }

  /**
   * Makes what no container's data goes into: the memory file and the platform. Done before
   * the boot process confines itself (the platform opens host devices and spawns its template
   * stub); create() then builds the container on it.
   */
  static async prepare(opts: SandboxOptions): Promise<PreparedSandbox> {
    const mf = new MemoryFile();
    const platform = await newPlatform(opts, mf);
    try {
      // Init's address space too: an empty one, and a platform may make its first only before
      // the boot confines itself (systrap spawns its stub).
      const initAs = platform.newAddressSpace();
      opts.log.phase("boot: platform ready", { platform: platform.name });
      return new PreparedSandbox(mf, platform, initAs);
    } catch (e) {
      platform.release();
      throw e;
    }
  }

  /**
   * Builds the kernel and loads the init process, on `prepared` when given (a spare that was
   * taken; it is consumed, and released on failure); nothing runs until start().
   */
  static async create(
    opts: SandboxOptions,
    spec: InitSpec,
    prepared?: Prepared,
  ): Promise<Sandbox> {
    await Promise.resolve();
    let platform: Platform | undefined;
    let links: EthernetEndpoint[] = [];
    try {
      const pre = prepared instanceof PreparedSandbox ? prepared : await Sandbox.prepare(opts);
      platform = pre.platform;
      const mf = pre.mf;
      if (spec.memoryLimit !== undefined) mf.limit = BigInt(spec.memoryLimit);
      // Pipe buffers, descriptors and other Sentry-held memory count against the same limit.
      setKernelAccount(mf);
      const kernel = new Kernel({
        platform,
        memoryFile: mf,
        log: opts.log,
        syscalls: new SyscallDispatcher(opts.strace, (line) => opts.log.info(line)),
        hostname: spec.hostname || "localhost",
      });
      if (spec.pidsLimit !== undefined) kernel.pidsLimit = spec.pidsLimit;
      if (opts.hostNetwork) NetStack.of(kernel).host = true;
      if (opts.network?.length) {
        links = attachInterfaces(NetStack.of(kernel).stack, opts.network, opts.log);
      }
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
      opts.log.phase("boot: mounts ready (gofer handshake)");
      // With a terminal, stdio[0] is the host end of it and the application gets a pty.
      const console = opts.terminal ? new HostConsole(kernel, opts.stdio[0]) : undefined;
      const stdio = console
        ? [console.slave, console.slave, console.slave]
        : opts.stdio.map((fd, i) => new HostFile(fd, i === 0 ? O_RDONLY : O_WRONLY));
      const task = newProcess(kernel, spec, stdio, pre.initAs);
      opts.log.phase("boot: init loaded");
      const sb = new Sandbox(kernel, task, mf);
      sb.#links.push(...links);
      if (console) sb.#attach(console, task.tg, false);
      return sb;
    } catch (e) {
      for (const l of links) l.close();
      platform?.release();
      if (e instanceof SandboxError) throw e;
      if (e instanceof HostError) throw new SandboxError(`sandbox setup failed: ${e.message}`);
      throw e;
    }
  }

  /**
   * Runs another process in the running sandbox (`runsc exec`): its descriptors 0-2 are
   * the given host descriptors, which the sandbox then owns. Returns its pid.
   */
  exec(spec: InitSpec, stdio: [number, number, number], terminal = false): number {
    if (this.#status !== "running") {
      for (const fd of stdio) if (fd >= 0) closeFd(fd);
      throw new SandboxError(`cannot exec in a container that is ${this.#status}`);
    }
    if (terminal) { for (const fd of stdio.slice(1)) if (fd >= 0) closeFd(fd); }
    const console = terminal ? new HostConsole(this.kernel, stdio[0]) : undefined;
    const files = console
      ? [console.slave, console.slave, console.slave]
      : stdio.map((fd, i) => new HostFile(fd, i === 0 ? O_RDONLY : O_WRONLY, true));
    let task: Task;
    try {
      task = newProcess(this.kernel, spec, files);
    } catch (e) {
      if (console) {
        console.close();
        closeFd(stdio[0]);
      }
      throw e;
    }
    if (console) this.#attach(console, task.tg, true);
    task.run().catch((e) => this.kernel.log.error(`exec ${task.tid}: ${e}`));
    return task.tg.pid;
  }

  /** Waits for a process that exec started to exit; returns its wait status and reaps it. */
  async waitPid(pid: number): Promise<number> {
    const tg = this.kernel.threadGroups.get(pid);
    if (!tg || tg.parent !== null || tg === this.init.tg) {
      throw new SandboxError(`no process ${pid} started by exec`);
    }
    const status = await tg.exited;
    tg.reap();
    return status;
  }

  /**
   * Gives `tg` the console as its controlling terminal; once `tg` has exited and its output
   * has reached the host, the console closes (and its host descriptor with it if `owned`).
   */
  #attach(console: HostConsole, tg: ThreadGroup, owned: boolean): void {
    console.control(tg);
    console.start();
    this.#consoles.add(console);
    tg.exited.then(async () => {
      await console.drain();
      console.close();
      this.#consoles.delete(console);
      if (owned) closeFd(console.hostFd);
    });
  }

  /** Waits until the consoles' output has reached the host (before the sandbox goes). */
  async drainConsoles(): Promise<void> {
    await Promise.all([...this.#consoles].map((c) => c.drain()));
  }

  /** Starts init running. */
  start(): void {
    if (this.#status !== "created") return;
    this.#status = "running";
    this.kernel.log.phase("boot: init runs");
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
    if (this.init.tg.initDrops(signo, true)) return;
    this.init.tg.sendSignal({ signo, errno: 0, code: 0, /* SI_USER */ pid: 0, uid: 0 });
  }

  /**
   * Delivers a signal to process `pid` (a thread group of the sandbox), or with pid 0 to
   * every process: `kill --all`, and the signals `exec --detach`'s host process forwards.
   */
  signalProcess(pid: number, signo: number): void {
    const info = { signo, errno: 0, code: 0, /* SI_USER */ pid: 0, uid: 0 };
    if (pid === 0) {
      if (this.#status === "created") return this.signal(signo);
      for (const tg of [...this.kernel.threadGroups.values()]) {
        if (!tg.initDrops(signo, true)) tg.sendSignal({ ...info });
      }
      return;
    }
    const tg = this.kernel.threadGroups.get(pid);
    if (!tg) throw new SandboxError(`no process ${pid}`);
    if (!tg.initDrops(signo, true)) tg.sendSignal(info);
  }

  /**
   * Changes the limits of linux.resources while the container runs (`runsc update`): memory
   * in bytes, tasks; -1 lifts one (the host's memory, the default task limit).
   */
  updateLimits(memoryLimit?: number, pidsLimit?: number): void {
    if (memoryLimit !== undefined) {
      this.mf.limit = memoryLimit < 0 ? hostMemTotal() : BigInt(memoryLimit);
    }
    if (pidsLimit !== undefined) {
      this.kernel.pidsLimit = pidsLimit < 0 ? DEFAULT_PIDS_LIMIT : pidsLimit;
    }
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

  /** Adds interfaces taken over after start-up (control request "network"). */
  addInterfaces(taken: TakenInterface[]): void {
    this.#links.push(...attachInterfaces(NetStack.of(this.kernel).stack, taken, this.kernel.log));
  }

  /** Kills everything and releases the platform. */
  destroy(): void {
    if (this.#released) return;
    this.#released = true;
    for (const tg of this.kernel.threadGroups.values()) tg.beginExit(signaledStatus(9));
    for (const c of this.#consoles) c.close();
    for (const l of this.#links) l.close();
    this.kernel.platform.release();
  }
}
