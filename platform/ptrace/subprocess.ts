/**
 * A stub process: the host process that one application address space lives in.
 *
 * @module
 */

import { check, closeFd, cstr, libc, preadFd } from "../../host/libc.ts";
import { PTRACE, ptrace, PTRACE_EVENT, PTRACE_O, ptraceBuf } from "../../host/ptrace.ts";
import { hostKill, spawn, W } from "../../host/spawn.ts";
import type { AddressSpace } from "../platform.ts";
import { R, Registers } from "../registers.ts";
import {
  BATCH_MAX,
  BATCH_OFFSET,
  BATCH_RECORD,
  DATA_ADDR,
  INITIAL_INJECT_ADDR,
  INJECT_OFFSET,
  STUB_ADDR,
} from "./stub.ts";
import type { Waiter } from "./waiter.ts";

const SYS_mmap = 9;
const SYS_munmap = 11;
const SYS_clone = 56;
const SYS_exit = 60;
// A host thread sharing everything with the control thread (CLONE_VM, FS, FILES, SIGHAND,
// THREAD, SYSVSEM), as a thread of the same process.
const THREAD_CLONE_FLAGS = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000;
const MAP_SHARED = 1;
const MAP_FIXED = 0x10;
const PROT_READ = 1;
const PROT_EXEC = 4;
const PROT_WRITE = 2;
const SIGTRAP = 5;
const SIGKILL = 9;
/** Idle stub threads kept per address space for reuse. */
const MAX_IDLE_THREADS = 8;
const AT_FDCWD = -100;
const O_RDONLY_CLOEXEC = 0x80000;
/** One clock tick (USER_HZ = 100) in nanoseconds. */
const TICK_NS = 10_000_000n;
/** The memory file's descriptor number inside every stub. */
export const STUB_MEMORY_FD = 3;

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
  /** Offset in the memory file of the batch page (one for every stub: batches never overlap). */
  batchPageOffset: bigint;
  /** Writes and reads the batch page. */
  writeBatch(data: Uint8Array): void;
  readBatch(out: Uint8Array): void;
}

/** CPU time a stub thread has used, as the host counts it (utime, stime), in nanoseconds. */
export interface ThreadTimes {
  user: bigint;
  sys: bigint;
}

/** Implements AddressSpace for the ptrace platform. */
export class Subprocess implements AddressSpace {
  readonly pid: number;
  /** Registers of a freshly stopped stub thread: the template for segment registers. */
  readonly initRegs = new Registers();
  #scratch = new Registers();
  #injectAddr = INITIAL_INJECT_ADDR;
  #eventMsg = new Uint8Array(8);
  #threads = new Set<number>();
  /** Stopped threads no task uses, ready for newThread, with the CPU time they had used. */
  #idle: { tid: number; times: ThreadTimes }[] = [];
  /**
   * Each thread's /proc stat file, held open: reading it again costs a third of opening it
   * anew, and every task's exit reads it.
   */
  #statFds = new Map<number, number>();
  #statBuf = new Uint8Array(1024);
  #released = false;
  #reaped = false;

  constructor(readonly host: StubHost) {
    this.pid = spawn({
      path: `/proc/${Deno.pid}/fd/${host.stubExecFd}`,
      argv: ["runsc-stub"],
      env: [],
      fds: [[STUB_MEMORY_FD, host.memoryFd]],
    });
    try {
      // EXITKILL: a stub never outlives the Sentry that traces it.
      ptrace(
        PTRACE.SEIZE,
        this.pid,
        0n,
        BigInt(PTRACE_O.TRACESYSGOOD | PTRACE_O.EXITKILL | PTRACE_O.TRACECLONE),
      );
      ptrace(PTRACE.INTERRUPT, this.pid);
      const st = host.waiter.waitSync(this.pid);
      if (!W.stopped(st)) throw new Error(`stub ${this.pid} did not stop: status ${st}`);
      ptraceBuf(PTRACE.GETREGS, this.pid, this.initRegs.bytes);
      // The stub was stopped inside pause(); a template must not look like a syscall in
      // progress, or resuming it would make the host restart that syscall.
      this.initRegs.r[R.orig_rax] = 0xffff_ffff_ffff_ffffn;
      this.initRegs.r[R.rax] = 0n;
      // Move the stub's code to the top of the address space, then clear everything the host
      // put below it (ELF image, stack, vDSO), so the whole range is the application's.
      const r = this.inject(
        SYS_mmap,
        STUB_ADDR,
        4096n,
        BigInt(PROT_READ | PROT_EXEC),
        BigInt(MAP_SHARED | MAP_FIXED),
        BigInt(STUB_MEMORY_FD),
        host.stubPageOffset,
      );
      if (r !== STUB_ADDR) throw new Error(`stub relocation failed: ${r}`);
      this.#injectAddr = STUB_ADDR + BigInt(INJECT_OFFSET);
      const d = this.inject(
        SYS_mmap,
        DATA_ADDR,
        4096n,
        BigInt(PROT_READ | PROT_WRITE),
        BigInt(MAP_SHARED | MAP_FIXED),
        BigInt(STUB_MEMORY_FD),
        host.batchPageOffset,
      );
      if (d !== DATA_ADDR) throw new Error(`stub batch page mapping failed: ${d}`);
      const u = this.inject(SYS_munmap, 0n, DATA_ADDR);
      if (u !== 0n) throw new Error(`stub clean-up failed: ${u}`);
    } catch (e) {
      this.release();
      throw e;
    }
  }

  /**
   * Runs one host system call in the stub's control thread and returns its raw result
   * (negative errno on failure). The control thread runs no application code and is stopped
   * whenever no injection is under way, so address-space changes never wait for a task.
   */
  inject(nr: number, ...args: bigint[]): bigint {
    return this.#injectIn(this.pid, nr, args).ret;
  }

  #injectIn(tid: number, nr: number, args: bigint[]): { ret: bigint; cloned: number } {
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
    s.rip = this.#injectAddr;
    ptraceBuf(PTRACE.SETREGS, tid, s.bytes);
    ptrace(PTRACE.CONT, tid);
    let cloned = 0;
    for (;;) {
      const st = this.host.waiter.waitSync(tid);
      if (st === -1 || !W.stopped(st)) {
        if (nr === SYS_exit) return { ret: 0n, cloned };
        throw new Error(`stub ${this.pid} died during injected syscall ${nr}: status ${st}`);
      }
      const sig = W.stopSig(st);
      const event = W.event(st);
      if (sig === SIGTRAP && event === 0) break;
      if (event === PTRACE_EVENT.CLONE) {
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
    const { ret, cloned } = this.#injectIn(this.pid, SYS_clone, [BigInt(THREAD_CLONE_FLAGS)]);
    if (ret < 0n || cloned === 0) throw new Error(`stub thread clone failed: ${ret}`);
    const st = this.host.waiter.waitSync(cloned);
    if (!W.stopped(st)) throw new Error(`stub thread ${cloned} did not stop: status ${st}`);
    this.#threads.add(cloned);
    const path = cstr(`/proc/${this.pid}/task/${cloned}/stat`);
    const fd = libc.symbols.openat(AT_FDCWD, path, O_RDONLY_CLOEXEC, 0);
    if (fd >= 0) this.#statFds.set(cloned, fd);
    return { tid: cloned, times: this.threadTimes(cloned) ?? { user: 0n, sys: 0n } };
  }

  /** The CPU time stub thread `tid` has used, or null once it is gone. */
  threadTimes(tid: number): ThreadTimes | null {
    const fd = this.#statFds.get(tid);
    if (fd === undefined) return null;
    let stat: string;
    try {
      stat = new TextDecoder().decode(this.#statBuf.subarray(0, preadFd(fd, this.#statBuf, 0)));
    } catch {
      return null;
    }
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (f.length < 13) return null;
    // Fields 14 and 15 (utime, stime), counted from the state field (3), in clock ticks.
    return { user: BigInt(f[11]) * TICK_NS, sys: BigInt(f[12]) * TICK_NS };
  }

  #closeStat(tid: number): void {
    const fd = this.#statFds.get(tid);
    if (fd === undefined) return;
    this.#statFds.delete(tid);
    closeFd(fd);
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
      this.#injectIn(tid, SYS_exit, [0n]);
    } catch {
      // Already gone with its process.
    }
    this.host.waiter.forget(tid);
  }

  /** Address-space changes not yet made in the stub; flush() makes them in one stop. */
  #pending: bigint[][] = [];

  /** Implements AddressSpace.mapFile: queued until the next flush (before any switch). */
  mapFile(addr: bigint, length: bigint, fileOffset: bigint, prot: number): void {
    this.#pending.push([
      BigInt(SYS_mmap),
      addr,
      length,
      BigInt(prot),
      BigInt(MAP_SHARED | MAP_FIXED),
      BigInt(STUB_MEMORY_FD),
      fileOffset,
    ]);
  }

  /** Implements AddressSpace.unmap: queued until the next flush. */
  unmap(addr: bigint, length: bigint): void {
    this.#pending.push([BigInt(SYS_munmap), addr, length, 0n, 0n, 0n, 0n]);
  }

  /**
   * Makes the queued changes in the stub: up to BATCH_MAX per stop of the control thread,
   * which runs them from the batch page. Throws if the host refuses one (the address space
   * no longer matches the Sentry's view, so the caller must not run the application).
   */
  flush(): void {
    while (this.#pending.length > 0) {
      const ops = this.#pending.splice(0, BATCH_MAX);
      const page = new Uint8Array(8 + ops.length * BATCH_RECORD);
      const v = new DataView(page.buffer);
      v.setBigUint64(0, BigInt(ops.length), true);
      ops.forEach((op, i) =>
        op.forEach((w, j) => v.setBigUint64(8 + i * BATCH_RECORD + j * 8, w, true))
      );
      this.host.writeBatch(page);
      this.#runBatch();
      this.host.readBatch(page);
      ops.forEach((op, i) => {
        const r = BigInt.asIntN(64, v.getBigUint64(8 + i * BATCH_RECORD, true));
        const ok = op[0] === BigInt(SYS_mmap) ? r === op[1] : r === 0n;
        if (!ok) {
          this.#pending.length = 0;
          throw new Error(
            `stub ${op[0] === BigInt(SYS_mmap) ? "mmap" : "munmap"} ` +
              `0x${op[1].toString(16)} failed: ${r}`,
          );
        }
      });
    }
  }

  /** Runs the batch loop in the control thread, to its int3. */
  #runBatch(): void {
    const s = this.#scratch;
    s.copyFrom(this.initRegs);
    s.rip = STUB_ADDR + BigInt(BATCH_OFFSET);
    ptraceBuf(PTRACE.SETREGS, this.pid, s.bytes);
    ptrace(PTRACE.CONT, this.pid);
    for (;;) {
      const st = this.host.waiter.waitSync(this.pid);
      if (st === -1 || !W.stopped(st)) throw new Error(`stub ${this.pid} died in a batch: ${st}`);
      if (W.stopSig(st) === SIGTRAP && W.event(st) === 0) return;
      ptrace(PTRACE.CONT, this.pid);
    }
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
  const fd = check("memfd_create stub", libc.symbols.memfd_create(cstr("runsc-stub"), 1));
  let off = 0;
  while (off < image.length) {
    off += check(
      "write stub",
      Number(libc.symbols.write(fd, image.subarray(off), BigInt(image.length - off))),
    );
  }
  return fd;
}
