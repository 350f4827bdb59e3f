/**
 * A stub process: the host process that one application address space lives in.
 *
 * Stubs are not spawned one by one: the first Subprocess of a StubHost spawns the template
 * stub (the only execve the platform makes, before the Sentry's seccomp filter forbids any),
 * which confines itself, is relocated like any stub and then only ever forks. Every address
 * space is a fork of it injected at its `syscall` (FORK_CLONE_FLAGS), so a new stub
 *
 * - is traced from birth: the template is seized with TRACEFORK and EXITKILL, options an
 *   auto-attached child inherits before it runs one instruction; if the Sentry dies at any
 *   moment, every stub is killed with it (EXITKILL, and the Sentry's PID namespace, whose
 *   init it is when confined, takes every process in it down);
 * - is confined from birth: it inherits the template's no_new_privs, empty capability sets
 *   and seccomp filter, and the template's root and working directory, which the Sentry's
 *   pivot_root moved into its empty root;
 * - holds no descriptor but the memory file (STUB_MEMORY_FD): the template was spawned with
 *   that one only.
 *
 * @module
 */

import { closeFd, HostError, nofileLimit, preadFd, schedYield, writeAll } from "../../host/libc.ts";
import { openAt } from "../../host/fsops.ts";
import { memfdCreate } from "../../host/mman.ts";
import { PTRACE, ptrace, PTRACE_EVENT, PTRACE_O, ptraceBuf } from "../../host/ptrace.ts";
import { hostKill, spawn, W } from "../../host/spawn.ts";
import type { AddressSpace } from "../platform.ts";
import { R, Registers } from "../registers.ts";
import {
  BATCH_MAX,
  BATCH_OFFSET,
  encodeOp,
  FORK_CLONE_FLAGS,
  INITIAL_INJECT_ADDR,
  INITIAL_WAIT_ADDR,
  INJECT_OFFSET,
  OP_MAX_PAGES,
  OP_MUNMAP,
  STUB_ADDR,
  STUB_MAP_FLAGS,
  STUB_MEMORY_FD,
  THREAD_CLONE_FLAGS,
  WAIT_LEN,
} from "./stub.ts";
import type { Waiter } from "./waiter.ts";
import { SYS } from "../../abi/linux/syscalls.ts";

export { STUB_MEMORY_FD } from "./stub.ts";
import { PROT_EXEC, PROT_READ } from "../../abi/linux/mm.ts";
import { SIG } from "../../abi/linux/signal.ts";
import { AT_FDCWD } from "../../abi/linux/file.ts";

const { TRAP: SIGTRAP, KILL: SIGKILL } = SIG;

/** Protections a batch op can carry (PROT_READ | PROT_WRITE | PROT_EXEC). */
const PROT_MASK = 7;
/** Offset of XMM0 in the FXSAVE image that PTRACE_GETFPREGS/SETFPREGS move. */
const FXSAVE_XMM0 = 160;
const FXSAVE_SIZE = 512;
/** The largest length, and end of file range, one batch op can carry. */
const OP_MAX_LENGTH = OP_MAX_PAGES << 12n;
/** Stubs made from each host's template: their parent and tracer is the Sentry. */
const templates = new WeakMap<StubHost, Subprocess>();
/** Passed to the constructor to spawn a template instead of forking one. */
const SPAWN_TEMPLATE = Symbol("spawn the template stub");
/** How many times the Sentry looks for a new stub in its wait loop before giving it up. */
const CONFINE_POLLS = 10_000;
/** Idle stub threads kept per address space for reuse. */
const MAX_IDLE_THREADS = 8;
const O_RDONLY_CLOEXEC = 0x80000;
/** One clock tick (USER_HZ = 100) in nanoseconds. */
const TICK_NS = 10_000_000n;

/** What a stub needs from the platform that owns it. */
export interface StubHost {
  waiter: Waiter;
  /** An executable memfd holding the stub ELF. */
  stubExecFd: number;
  memoryFd: number;
  /** Offset in the memory file of the page holding the stub image. */
  stubPageOffset: bigint;
  /** Told when a stub is released. */
  forget(s: Subprocess): void;
}

/** One queued address-space change. */
interface Op {
  unmap: boolean;
  addr: bigint;
  length: bigint;
  offset: bigint;
  prot: number;
}

/** CPU time a stub thread has used, as the host counts it (utime, stime), in nanoseconds. */
export interface ThreadTimes {
  user: bigint;
  sys: bigint;
}

/** A thread whose stat file is not held open, but opened at each reading. */
const STAT_REOPEN = -1;
/** Stub threads' stat files held open, in all stub processes: each holds a descriptor. */
let statFdsKept = 0;
let statFdsMax: number | undefined;
/**
 * How many stat files may be held open: half of the descriptors the Sentry may hold. Beyond
 * that (thousands of threads under a caller's low RLIMIT_NOFILE) they are opened at each
 * reading, so that threads never take the descriptors the rest of the Sentry needs (the runtime
 * aborts on EMFILE in places).
 */
function statFdBudget(): number {
  return statFdsMax ??= Math.floor((nofileLimit() ?? 1024) / 2);
}

/** Implements AddressSpace for the ptrace platform. */
export class Subprocess implements AddressSpace {
  readonly pid: number;
  /** Registers of a freshly stopped stub thread: the template for segment registers. */
  readonly initRegs = new Registers();
  #scratch = new Registers();
  /**
   * The control thread's FP state as it started: batches are loaded into a copy of it, and it
   * is put back before a clone so that no thread starts with a batch in its registers.
   */
  #initFp = new Uint8Array(FXSAVE_SIZE);
  #batchFp = new Uint8Array(FXSAVE_SIZE);
  #injectAddr = INITIAL_INJECT_ADDR;
  #eventMsg = new Uint8Array(8);
  #threads = new Set<number>();
  /** Stopped threads no task uses, ready for newThread, with the CPU time they had used. */
  #idle: { tid: number; times: ThreadTimes }[] = [];
  /**
   * Each thread's /proc stat file, held open (reading it again costs a third of opening it
   * anew, and every task's exit reads it), or STAT_REOPEN past the budget (statFdBudget).
   */
  #statFds = new Map<number, number>();
  #statBuf = new Uint8Array(1024);
  #released = false;
  #reaped = false;

  /**
   * A new stub, forked from the host's template (spawned on first use), stopped and ready.
   * Throws HostError or Error when none can be made.
   */
  constructor(readonly host: StubHost, how?: typeof SPAWN_TEMPLATE) {
    if (how !== SPAWN_TEMPLATE) {
      const t = Subprocess.template(host);
      this.pid = t.#fork();
      this.initRegs.copyFrom(t.initRegs);
      this.#initFp.set(t.#initFp);
      this.#injectAddr = t.#injectAddr;
      return;
    }
    // Through our own /proc/self (the child's, before exec: it still has the descriptor), so
    // that this needs no /proc of ours by PID, which a Sentry in its own PID namespace and an
    // empty root may not have. From "/", which pivot_root moves into the Sentry's empty root.
    this.pid = spawn({
      path: `/proc/self/fd/${host.stubExecFd}`,
      argv: ["runsc-stub"],
      env: [],
      fds: [[STUB_MEMORY_FD, host.memoryFd]],
      onlyFds: true,
      cwd: "/",
    });
    try {
      // EXITKILL: a stub never outlives the Sentry that traces it. TRACEFORK: the stubs forked
      // from this one are traced, with these options, before they run.
      ptrace(
        PTRACE.SEIZE,
        this.pid,
        0n,
        BigInt(
          PTRACE_O.TRACESYSGOOD | PTRACE_O.EXITKILL | PTRACE_O.TRACECLONE | PTRACE_O.TRACEFORK,
        ),
      );
      this.#stopConfined();
      ptraceBuf(PTRACE.GETFPREGS, this.pid, this.#initFp);
      // The stub was stopped inside pause(); a template must not look like a syscall in
      // progress, or resuming it would make the host restart that syscall.
      this.initRegs.r[R.orig_rax] = 0xffff_ffff_ffff_ffffn;
      this.initRegs.r[R.rax] = 0n;
      // Move the stub's code to the top of the address space, then clear everything the host
      // put below it (ELF image, stack, vDSO), so the whole range is the application's.
      const r = this.inject(
        SYS.mmap,
        STUB_ADDR,
        4096n,
        BigInt(PROT_READ | PROT_EXEC),
        BigInt(STUB_MAP_FLAGS),
        BigInt(STUB_MEMORY_FD),
        host.stubPageOffset,
      );
      if (r !== STUB_ADDR) throw new Error(`stub relocation failed: ${r}`);
      this.#injectAddr = STUB_ADDR + BigInt(INJECT_OFFSET);
      const u = this.inject(SYS.munmap, 0n, STUB_ADDR);
      if (u !== 0n) throw new Error(`stub clean-up failed: ${u}`);
    } catch (e) {
      this.release();
      this.reap();
      throw e;
    }
  }

  /**
   * The host's template stub, spawned now if it has none. The platform calls this while it
   * is built, before the Sentry's seccomp filter refuses execve.
   */
  static template(host: StubHost): Subprocess {
    let t = templates.get(host);
    if (t === undefined || t.#released) {
      t = new Subprocess(host, SPAWN_TEMPLATE);
      templates.set(host, t);
    }
    return t;
  }

  /** Kills and reaps the host's template stub, if it has one. */
  static releaseTemplate(host: StubHost): void {
    const t = templates.get(host);
    templates.delete(host);
    t?.release();
    t?.reap();
  }

  /** Forks a new stub from this template; returns its pid once it is stopped and traced. */
  #fork(): number {
    let r;
    try {
      r = this.#injectIn(this.pid, SYS.clone, [BigInt(FORK_CLONE_FLAGS)]);
    } catch (e) {
      // A template that died is not used again (Subprocess.template makes another if it can).
      this.release();
      throw e;
    }
    const { ret, cloned } = r;
    if (ret < 0n || cloned === 0) throw new Error(`stub fork failed: ${ret}`);
    const st = this.host.waiter.waitSync(cloned);
    if (!W.stopped(st)) throw new Error(`new stub ${cloned} did not stop: status ${st}`);
    return cloned;
  }

  /**
   * Stops the new stub once it waits in its loop, that is once its entry code has confined
   * it (a stub that fails to confine itself exits instead): it may be anywhere in that code
   * when we seize it, and nothing may be injected before it is done. Leaves initRegs as the
   * registers of that stop.
   */
  #stopConfined(): void {
    for (let i = 0; i < CONFINE_POLLS; i++) {
      ptrace(PTRACE.INTERRUPT, this.pid);
      for (;;) {
        const st = this.host.waiter.waitSync(this.pid);
        if (st === -1 || !W.stopped(st)) {
          throw new Error(`stub ${this.pid} ended before it was confined: status ${st}`);
        }
        if (W.event(st) === PTRACE_EVENT.STOP) break;
        // A signal-delivery stop (none is expected): let it go on without the signal.
        ptrace(PTRACE.CONT, this.pid);
      }
      ptraceBuf(PTRACE.GETREGS, this.pid, this.initRegs.bytes);
      const rip = this.initRegs.rip;
      if (rip >= INITIAL_WAIT_ADDR && rip <= INITIAL_WAIT_ADDR + BigInt(WAIT_LEN)) return;
      ptrace(PTRACE.CONT, this.pid);
      schedYield();
    }
    throw new Error(`stub ${this.pid} did not reach its wait loop`);
  }

  /**
   * Runs one host system call in the stub's control thread and returns its raw result
   * (negative errno on failure). The control thread runs no application code and is stopped
   * whenever no injection is under way, so address-space changes never wait for a task.
   */
  inject(nr: number, ...args: bigint[]): bigint {
    return this.#injectIn(this.pid, nr, args).ret;
  }

  /**
   * Has the control thread clone a thread with `flags` at `rip` (a platform's own stub code
   * that makes the call, then stops at an int3 in the parent), with rbx = `rbx` in both and
   * the control thread's initial FP state, as newThread's threads start. Returns clone's raw
   * result. With CLONE_UNTRACED the thread is none of ours: nothing here waits for it.
   */
  cloneAt(rip: bigint, rbx: bigint, flags: number): bigint {
    ptraceBuf(PTRACE.SETFPREGS, this.pid, this.#initFp);
    return this.#injectIn(this.pid, SYS.clone, [BigInt(flags)], { rip, rbx }).ret;
  }

  #injectIn(
    tid: number,
    nr: number,
    args: bigint[],
    at?: { rip: bigint; rbx: bigint },
  ): { ret: bigint; cloned: number } {
    const s = this.#scratch;
    s.copyFrom(this.initRegs);
    s.r[R.rax] = BigInt(nr);
    s.r[R.orig_rax] = 0xffff_ffff_ffff_ffffn; // no syscall restart on resume
    s.r[R.rdi] = args[0] ?? 0n;
    s.r[R.rsi] = args[1] ?? 0n;
    s.r[R.rdx] = args[2] ?? 0n;
    s.r[R.r10] = args[3] ?? 0n;
    s.r[R.r8] = args[4] ?? 0n;
    s.r[R.r9] = args[5] ?? 0n;
    s.rip = at?.rip ?? this.#injectAddr;
    if (at) s.r[R.rbx] = at.rbx;
    ptraceBuf(PTRACE.SETREGS, tid, s.bytes);
    ptrace(PTRACE.CONT, tid);
    let cloned = 0;
    for (;;) {
      const st = this.host.waiter.waitSync(tid);
      if (st === -1 || !W.stopped(st)) {
        if (nr === SYS.exit) return { ret: 0n, cloned };
        throw new Error(`stub ${this.pid} died during injected syscall ${nr}: status ${st}`);
      }
      const sig = W.stopSig(st);
      const event = W.event(st);
      if (sig === SIGTRAP && event === 0) break;
      if (event === PTRACE_EVENT.CLONE || event === PTRACE_EVENT.FORK) {
        ptraceBuf(PTRACE.GETEVENTMSG, tid, this.#eventMsg);
        cloned = Number(new DataView(this.#eventMsg.buffer).getBigUint64(0, true));
      }
      // Anything else (a group stop, a stray host signal) is not ours to deliver: the stub
      // runs no application code here. Resume it to reach the int3.
      ptrace(PTRACE.CONT, tid);
    }
    ptraceBuf(PTRACE.GETREGS, tid, s.bytes);
    return { ret: BigInt.asIntN(64, s.r[R.rax]), cloned };
  }

  /**
   * A new stub thread for a task, stopped and ready for Context.switch, and the CPU time it
   * has used so far (a reused thread's is its earlier tasks'). It is cloned from the control
   * thread, which ptrace attaches to us with the same options.
   */
  newThread(): { tid: number; times: ThreadTimes } {
    // A thread a finished task left behind is as good as a new one: the next switch sets all
    // of its registers and its FPU state is the new task's (Context.setFpState).
    const idle = this.#idle.pop();
    if (idle !== undefined) return idle;
    // A new thread starts with the control thread's FP state: not the last batch's.
    ptraceBuf(PTRACE.SETFPREGS, this.pid, this.#initFp);
    const { ret, cloned } = this.#injectIn(this.pid, SYS.clone, [BigInt(THREAD_CLONE_FLAGS)]);
    if (ret < 0n || cloned === 0) throw new Error(`stub thread clone failed: ${ret}`);
    const st = this.host.waiter.waitSync(cloned);
    if (!W.stopped(st)) throw new Error(`stub thread ${cloned} did not stop: status ${st}`);
    this.#threads.add(cloned);
    return { tid: cloned, times: this.watchTimes(cloned) };
  }

  /**
   * Keeps stub thread `tid`'s stat file open for threadTimes (until unwatchTimes, or the
   * stub is reaped); returns the CPU time it has used so far.
   */
  watchTimes(tid: number): ThreadTimes {
    let fd = STAT_REOPEN;
    if (statFdsKept < statFdBudget()) {
      try {
        fd = openAt(AT_FDCWD, this.#statPath(tid), O_RDONLY_CLOEXEC);
        statFdsKept++;
      } catch (e) {
        // Opened at each reading instead; gone, the thread's CPU time reads as zero.
        if (!(e instanceof HostError)) throw e;
      }
    }
    this.#statFds.set(tid, fd);
    return this.threadTimes(tid) ?? { user: 0n, sys: 0n };
  }

  #statPath(tid: number): string {
    return `/proc/${this.pid}/task/${tid}/stat`;
  }

  /** Closes what watchTimes opened for `tid`. */
  unwatchTimes(tid: number): void {
    this.#closeStat(tid);
  }

  /** The CPU time stub thread `tid` has used, or null once it is gone. */
  threadTimes(tid: number): ThreadTimes | null {
    const fd = this.#statFds.get(tid);
    if (fd === undefined) return null;
    let n: number;
    try {
      if (fd !== STAT_REOPEN) n = preadFd(fd, this.#statBuf, 0);
      else {
        const once = openAt(AT_FDCWD, this.#statPath(tid), O_RDONLY_CLOEXEC);
        try {
          n = preadFd(once, this.#statBuf, 0);
        } finally {
          closeFd(once);
        }
      }
    } catch {
      return null;
    }
    const stat = new TextDecoder().decode(this.#statBuf.subarray(0, n));
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (f.length < 13) return null;
    // Fields 14 and 15 (utime, stime), counted from the state field (3), in clock ticks.
    return { user: BigInt(f[11]) * TICK_NS, sys: BigInt(f[12]) * TICK_NS };
  }

  #closeStat(tid: number): void {
    const fd = this.#statFds.get(tid);
    if (fd === undefined) return;
    this.#statFds.delete(tid);
    if (fd === STAT_REOPEN) return;
    closeFd(fd);
    statFdsKept--;
  }

  /**
   * Gives back a stub thread made by newThread, with the CPU time it had used when its task
   * let go of it; it is kept stopped for the next task, up to a few, and ended beyond that.
   * Precondition: it is stopped.
   */
  releaseThread(tid: number, times: ThreadTimes): void {
    if (!this.#threads.has(tid) || this.#released) return;
    if (this.#idle.length < MAX_IDLE_THREADS) {
      this.#idle.push({ tid, times });
      return;
    }
    this.#threads.delete(tid);
    this.#closeStat(tid);
    try {
      this.#injectIn(tid, SYS.exit, [0n]);
    } catch {
      // Already gone with its process.
    }
    this.host.waiter.forget(tid);
  }

  /** Address-space changes not yet made in the stub; flush() makes them in one stop. */
  #pending: Op[] = [];

  /** Implements AddressSpace.mapFile: queued until the next flush (before any switch). */
  mapFile(addr: bigint, length: bigint, fileOffset: bigint, prot: number): void {
    this.#pending.push({ unmap: false, addr, length, offset: fileOffset, prot });
  }

  /** Implements AddressSpace.unmap: queued until the next flush. */
  unmap(addr: bigint, length: bigint): void {
    this.#pending.push({ unmap: true, addr, length, offset: 0n, prot: 0 });
  }

  /**
   * Makes the queued changes in the stub: up to BATCH_MAX per stop of the control thread,
   * which takes them from its own registers. Throws if one is not the Sentry's to make (over
   * the stub's page, unaligned, too large to encode) or if the host refuses one (the address
   * space no longer matches the Sentry's view, so the caller must not run the application).
   */
  flush(): void {
    if (this.#pending.length === 0) return;
    const ops = this.#pending;
    this.#pending = [];
    const words: [bigint, bigint][] = [];
    for (const op of ops) this.#encode(op, words);
    for (let i = 0; i < words.length; i += BATCH_MAX) {
      this.#runBatch(words.slice(i, i + BATCH_MAX));
    }
  }

  /** Appends `op`'s words, split where its length does not fit one op. */
  #encode(op: Op, out: [bigint, bigint][]): void {
    const { addr, length, offset } = op;
    const refuse = (why: string) =>
      new Error(
        `stub ${op.unmap ? "munmap" : "mmap"} 0x${addr.toString(16)}+0x${length.toString(16)}: ` +
          why,
      );
    if (((addr | length | offset) & 0xfffn) !== 0n || length <= 0n || addr < 0n || offset < 0n) {
      throw refuse("not page-aligned");
    }
    // The stub's own page and everything above it are never the application's.
    if (addr + length > STUB_ADDR) throw refuse("reaches the stub");
    if ((op.prot & ~PROT_MASK) !== 0) throw refuse(`protection ${op.prot}`);
    if (length <= OP_MAX_LENGTH && offset + length <= OP_MAX_LENGTH) {
      out.push(encodeOp(op));
      return;
    }
    for (let done = 0n; done < length; done += OP_MAX_LENGTH) {
      const len = length - done < OP_MAX_LENGTH ? length - done : OP_MAX_LENGTH;
      const off = op.unmap ? 0n : offset + done;
      if (off + len > OP_MAX_LENGTH) throw refuse("offset too large");
      out.push(encodeOp({ ...op, addr: addr + done, length: len, offset: off }));
    }
  }

  /**
   * Runs the batch loop in the control thread, to its int3, with `words` in XMM0-15 and their
   * count in r12. The control thread never runs application code, so its FP state is ours.
   */
  #runBatch(words: [bigint, bigint][]): void {
    const fp = this.#batchFp;
    fp.set(this.#initFp);
    const v = new DataView(fp.buffer);
    words.forEach(([w0, w1], i) => {
      v.setBigUint64(FXSAVE_XMM0 + 16 * i, w0, true);
      v.setBigUint64(FXSAVE_XMM0 + 16 * i + 8, w1, true);
    });
    ptraceBuf(PTRACE.SETFPREGS, this.pid, fp);
    const s = this.#scratch;
    s.copyFrom(this.initRegs);
    s.r[R.r12] = BigInt(words.length);
    s.rip = STUB_ADDR + BigInt(BATCH_OFFSET);
    ptraceBuf(PTRACE.SETREGS, this.pid, s.bytes);
    ptrace(PTRACE.CONT, this.pid);
    for (;;) {
      const st = this.host.waiter.waitSync(this.pid);
      if (st === -1 || !W.stopped(st)) throw new Error(`stub ${this.pid} died in a batch: ${st}`);
      if (W.stopSig(st) === SIGTRAP && W.event(st) === 0) break;
      ptrace(PTRACE.CONT, this.pid);
    }
    ptraceBuf(PTRACE.GETREGS, this.pid, s.bytes);
    const left = s.r[R.r12];
    if (left === 0n) return;
    const [w0, w1] = words[words.length - Number(left)] ?? [0n, 0n];
    const r = BigInt.asIntN(64, s.r[R.rax]);
    throw new Error(
      `stub ${(w0 & OP_MUNMAP) !== 0n ? "munmap" : "mmap"} 0x${(w0 & ~0xfffn).toString(16)}+` +
        `0x${((w1 & 0xffff_ffffn) << 12n).toString(16)} failed: ${r}`,
    );
  }

  /** Implements AddressSpace.release: the stub is killed and reaped. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.host.forget(this);
    hostKill(this.pid, SIGKILL);
    // Reaping waits for the host to tear the process down, which takes a while for a large
    // address space; do it after the current work (an exec, an exit) has gone on.
    setTimeout(() => this.reap(), 0);
  }

  /** Collects the exit of a killed stub and its threads. Safe to call more than once. */
  reap(): void {
    if (this.#reaped) return;
    this.#reaped = true;
    // Reap the task threads first: each traced thread reports its own exit.
    for (const tid of this.#threads) {
      try {
        this.host.waiter.waitSync(tid);
      } catch {
        // Already reaped.
      }
      this.host.waiter.forget(tid);
      this.#closeStat(tid);
    }
    this.#threads.clear();
    for (const tid of [...this.#statFds.keys()]) this.#closeStat(tid);
    // Reap it now so that no zombie or stale status is left for the waiter.
    try {
      for (;;) {
        const st = this.host.waiter.waitSync(this.pid);
        if (st === -1 || W.exited(st) || W.signaled(st)) break;
      }
    } catch {
      // Already reaped: nothing is left of it.
    }
    this.host.waiter.forget(this.pid);
  }
}

/** Creates the executable memfd holding the stub image. */
export function stubExecutable(image: Uint8Array<ArrayBuffer>): number {
  const fd = memfdCreate("runsc-stub");
  writeAll(fd, image);
  return fd;
}
