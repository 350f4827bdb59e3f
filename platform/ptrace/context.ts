/**
 * A task's execution context on the ptrace platform.
 *
 * @module
 */

import { PTRACE, ptrace, PTRACE_EVENT, ptraceBuf, ptraceRegset } from "../../host/ptrace.ts";
import { W } from "../../host/spawn.ts";
import { schedYield } from "../../host/libc.ts";
import { XFEATURE_MASK_USER_DYNAMIC, xsaveSizeFor } from "../../host/cpuid.ts";
import {
  type AddressSpace,
  type Context,
  type FpLayout,
  PROT_EXEC,
  type SwitchResult,
} from "../platform.ts";
import { R, type Registers } from "../registers.ts";
import { FpOut, FXSAVE_SIZE, limitFeatures, MXCSR_MASK, SW_RESERVED } from "../fp_state.ts";
import type { Subprocess, ThreadTimes } from "./subprocess.ts";
import type { Waiter } from "./waiter.ts";
import { SIG } from "../../abi/linux/signal.ts";

const { TRAP: SIGTRAP, SEGV: SIGSEGV, BUS: SIGBUS, ILL: SIGILL, FPE: SIGFPE, SYS: SIGSYS } = SIG;

/** si_code of a SIGSYS raised by a seccomp filter's SECCOMP_RET_TRAP. */
const SYS_SECCOMP = 1;
const SEGV_MAPERR = 1;
/** The legacy vsyscall page (see sentry/kernel/vsyscall.ts). */
const VSYSCALL_ADDR = 0xffff_ffff_ff60_0000n;
/**
 * Room for the largest XSAVE area a CPU may report. The host's NT_X86_XSTATE regset is as
 * large as every user state component it supports (about 11 KiB with AMX tile data), and
 * PTRACE_SETREGSET accepts nothing but exactly that size.
 */
const XSTATE_MAX = 64 * 1024;
const NT_X86_XSTATE = 0x202n;
/** The host's NT_X86_XSTATE size, learnt from the first GETREGSET. */
let xstateSize: number | undefined;
/**
 * Where every GETREGSET lands, made once: a fresh 64 KiB buffer per call cost more than the
 * rest of a signal's delivery (zeroed native memory, and the collector's work to free it).
 * The Sentry's one JavaScript thread reads it right after each call.
 */
let regsetBuf: Uint8Array<ArrayBuffer> | null = null;
/**
 * The layout of every running task's fpState, the same for all (the host's regset, cut the
 * same way), learnt from the first GETREGSET: sigreturn needs it, and reading the state only
 * for that was a GETREGSET per signal.
 */
let stateLayout: FpLayout | null = null;
/**
 * The size of the area a task's state fits in (see fpState): the host's less the components
 * that need a permission the stubs never get, learnt once.
 */
let taskXstateSize: number | undefined;
const NO_SYSCALL = 0xffff_ffff_ffff_ffffn;
const SYSCALL_STOP = SIGTRAP | 0x80; // with PTRACE_O_TRACESYSGOOD

// How many times a switch polls for the stop before handing the wait to a runtime thread.
// A system call by the application comes back within a few microseconds; polling that long
// is far cheaper than a thread hop, and a longer run falls through to the asynchronous wait.
const SPIN_POLLS = 100;

/** Implements Context for the ptrace platform. */
export class PtraceContext implements Context {
  #siginfo = new Uint8Array(128);
  #running: number | null = null;
  #interrupted = false;
  /**
   * The stub thread this context runs in, in the address space it belongs to; `base` is what
   * the thread had used before, `last` the latest reading.
   */
  #bound: { sub: Subprocess; tid: number; base: ThreadTimes; last: ThreadTimes } | null = null;
  /** The state setFpState gave, to be applied before the next switch (a view of #pendingBuf). */
  #pendingFp: Uint8Array<ArrayBuffer> | null = null;
  /**
   * #pendingFp's storage, kept from one call to the next, zero past the state it holds (the
   * padding of a SETREGSET image).
   */
  #pendingBuf: Uint8Array<ArrayBuffer> | null = null;
  /** What fpState returns (see FpOut). */
  readonly #fp = new FpOut();
  /** CPU time of stub threads this context ran in before the current one. */
  #cpuDone = { user: 0n, sys: 0n };
  #cpuBase = { user: 0n, sys: 0n };

  constructor(readonly waiter: Waiter) {}

  /** Implements Context.switch. */
  async switch(as: AddressSpace, regs: Registers): Promise<SwitchResult> {
    const sub = as as Subprocess;
    if (this.#bound?.sub !== sub) {
      this.#unbind();
      try {
        const { tid, times } = sub.newThread();
        this.#bound = { sub, tid, base: times, last: times };
      } catch (e) {
        return { kind: "lost", reason: String(e) };
      }
    }
    const tid = this.#bound.tid;
    try {
      sub.flush();
    } catch (e) {
      return { kind: "lost", reason: String(e) };
    }
    if (this.#pendingFp) {
      try {
        const fp = this.#pendingFp;
        if (fp.length > FXSAVE_SIZE) {
          this.#xstate(PTRACE.SETREGSET, tid, this.#xstateImage(tid));
        } else ptraceBuf(PTRACE.SETFPREGS, tid, fp);
      } catch (e) {
        return { kind: "lost", reason: String(e) };
      }
      this.#pendingFp = null;
    }
    if (this.#interrupted) {
      this.#interrupted = false;
      return { kind: "interrupted" };
    }
    try {
      // The host must never restart a system call on its own: restarts are the Sentry's
      // (it rewinds rip itself), so the stub always resumes as if no syscall were in progress.
      regs.r[R.orig_rax] = NO_SYSCALL;
      ptraceBuf(PTRACE.SETREGS, tid, regs.bytes);
      ptrace(PTRACE.SYSEMU, tid);
    } catch (e) {
      return { kind: "lost", reason: String(e) };
    }
    let st: number | null = null;
    // Other tasks may run between polls, and one of them may interrupt this one meanwhile.
    this.#running = tid;
    try {
      for (let i = 0; i < SPIN_POLLS && st === null; i++) {
        st = this.waiter.poll(tid);
        if (st !== null) break;
        // Yielding lets the stub thread run on this CPU when CPUs are scarce; on an idle
        // machine it returns at once (measured: 14 µs instead of 27 µs per syscall under load).
        schedYield();
        // Tasks made runnable meanwhile (a pipe's reader woken by this task's write) take
        // their next step while this stub runs, rather than after it stops.
        await null;
      }
      st ??= await this.waiter.wait(tid);
    } finally {
      this.#running = null;
    }
    return this.#decode(tid, st, regs);
  }

  #decode(tid: number, st: number, regs: Registers): SwitchResult {
    if (st === -1 || !W.stopped(st)) {
      return { kind: "lost", reason: `stub thread ${tid} ended (status ${st})` };
    }
    ptraceBuf(PTRACE.GETREGS, tid, regs.bytes);
    const sig = W.stopSig(st);
    if (sig === SYSCALL_STOP) return { kind: "syscall" };
    if (W.event(st) === PTRACE_EVENT.STOP) {
      this.#interrupted = false;
      return { kind: "interrupted" };
    }
    if (sig === SIGSYS) return this.#vsyscall(tid, regs);
    if (sig === SIGSEGV || sig === SIGBUS || sig === SIGILL || sig === SIGFPE || sig === SIGTRAP) {
      ptraceBuf(PTRACE.GETSIGINFO, tid, this.#siginfo);
      const v = new DataView(this.#siginfo.buffer);
      const code = v.getInt32(8, true);
      const addr = v.getBigUint64(16, true);
      // A signal sent by someone (si_code <= 0) rather than raised by an instruction is an
      // interruption from the host's point of view; the Sentry owns application signals.
      if (code <= 0) return { kind: "interrupted" };
      if (sig === SIGSEGV || sig === SIGBUS) {
        return { kind: "fault", signo: sig, code, addr, access: 0 };
      }
      return { kind: "signal", signo: sig, code, addr };
    }
    return { kind: "interrupted" };
  }

  /**
   * A SIGSYS stop: the stub filter's answer to a call through the legacy vsyscall page, which
   * the host kernel would otherwise serve itself (no `syscall` instruction, so no SYSEMU stop).
   * The host has already emulated the `ret` (rip is the caller, rsp popped); put the task back
   * at the entry, as an instruction fetch fault there, for the Sentry's vsyscall emulation. The
   * next switch resumes without the signal. Anything else is not the application's.
   */
  #vsyscall(tid: number, regs: Registers): SwitchResult {
    ptraceBuf(PTRACE.GETSIGINFO, tid, this.#siginfo);
    const v = new DataView(this.#siginfo.buffer);
    const code = v.getInt32(8, true);
    const callAddr = v.getBigUint64(16, true); // si_call_addr
    if (code !== SYS_SECCOMP || callAddr < VSYSCALL_ADDR) return { kind: "interrupted" };
    regs.rip = callAddr;
    regs.rsp = regs.rsp - 8n;
    return { kind: "fault", signo: SIGSEGV, code: SEGV_MAPERR, addr: callAddr, access: PROT_EXEC };
  }

  /**
   * Implements Context.fpState with PTRACE_GETREGSET(NT_X86_XSTATE): the XSAVE area, AVX and
   * AVX-512 included, so that a signal handler cannot clobber the state of the code it
   * interrupted. The regset is as large as every feature the host has, AMX tile data
   * included; a stub never asked for that (ARCH_REQ_XCOMP_PERM), so its tiles are always in
   * their initial state, and the area is cut where Linux cuts a signal frame for such a
   * process (else frames would be 11 KiB where Linux's are under 3, and overflow alternate
   * stacks sized for Linux). Its software bytes hold the features it covers.
   */
  fpState(): Uint8Array<ArrayBuffer> {
    if (this.#pendingFp) return this.#fp.copyOf(this.#pendingFp, this.#pendingFp.length);
    if (!this.#bound) return this.#fp.initial();
    const buf = regsetBuf ??= new Uint8Array(XSTATE_MAX);
    const len = this.#xstate(PTRACE.GETREGSET, this.#bound.tid, buf);
    const v = new DataView(buf.buffer);
    const mxcsrMask = v.getUint32(MXCSR_MASK, true);
    if (len <= FXSAVE_SIZE) {
      stateLayout ??= { size: len, features: 0n, mxcsrMask };
      return this.#fp.copyOf(buf, len);
    }
    const host = v.getBigUint64(SW_RESERVED, true);
    const features = host & ~XFEATURE_MASK_USER_DYNAMIC;
    taskXstateSize ??= features === host ? len : xsaveSizeFor(features) ?? len;
    limitFeatures(buf, features);
    const size = Math.min(taskXstateSize, len);
    stateLayout ??= { size, features, mxcsrMask };
    return this.#fp.copyOf(buf, size);
  }

  /**
   * Implements Context.fpLayout: a running task's, once a GETREGSET has shown it. A state
   * set since (clone, exec, sigreturn) or a thread never run has its own, which fpState reads.
   */
  fpLayout(): FpLayout | null {
    return this.#pendingFp || !this.#bound ? null : stateLayout;
  }

  /**
   * Implements Context.setFpState: an FXSAVE image or a whole XSAVE area, copied into a
   * buffer this context keeps (zero past it, as a SETREGSET image is padded).
   */
  setFpState(state: Uint8Array<ArrayBuffer>): void {
    const len = Math.min(state.length, XSTATE_MAX);
    const need = Math.max(len, xstateSize ?? 0);
    if ((this.#pendingBuf?.length ?? 0) < need) this.#pendingBuf = new Uint8Array(need);
    const buf = this.#pendingBuf!;
    buf.set(state.subarray(0, len));
    buf.fill(0, len);
    this.#pendingFp = buf.subarray(0, len);
  }

  /**
   * The pending state as an XSAVE image of exactly the host regset's size: a shorter one (an
   * area saved by a smaller CPU feature set, or a signal frame's) is padded with components
   * its header marks absent, a longer one cut.
   */
  #xstateImage(tid: number): Uint8Array<ArrayBuffer> {
    xstateSize ??= this.#xstate(PTRACE.GETREGSET, tid, regsetBuf ??= new Uint8Array(XSTATE_MAX));
    const fp = this.#pendingFp!;
    let buf = this.#pendingBuf!;
    if (buf.length < xstateSize) {
      // Set before the size was known: grown once, zero past the state as setFpState keeps it.
      buf = new Uint8Array(xstateSize);
      buf.set(fp);
      this.#pendingBuf = buf;
    }
    return buf.subarray(0, xstateSize);
  }

  /** GETREGSET/SETREGSET of NT_X86_XSTATE through an iovec; returns the bytes moved. */
  #xstate(req: number, tid: number, buf: Uint8Array<ArrayBuffer>): number {
    return ptraceRegset(req, tid, NT_X86_XSTATE, buf);
  }

  /**
   * Implements Context.cpuTime from the host's accounting of the stub thread, which runs
   * only this task's code (its system calls are the Sentry's, counted there) since the task
   * took it.
   */
  cpuTime(): { user: bigint; sys: bigint } {
    const b = this.#bound;
    // Gone, the thread leaves the last reading standing.
    const now = b?.sub.threadTimes(b.tid);
    if (b && now) {
      b.last = now;
      this.#cpuBase = {
        user: this.#cpuDone.user + now.user - b.base.user,
        sys: this.#cpuDone.sys + now.sys - b.base.sys,
      };
    }
    return this.#cpuBase;
  }

  /** Implements Context.interrupt. */
  interrupt(): void {
    this.#interrupted = true;
    if (this.#running !== null) {
      try {
        ptrace(PTRACE.INTERRUPT, this.#running);
      } catch {
        // The thread is already stopped or gone; the pending switch returns anyway.
      }
    }
  }

  #unbind(): void {
    if (this.#bound) {
      this.#cpuDone = this.cpuTime();
      this.#bound.sub.releaseThread(this.#bound.tid, this.#bound.last);
    }
    this.#bound = null;
  }

  /** Implements Context.release: the stub thread ends. */
  release(): void {
    this.#unbind();
  }
}
