/**
 * A task's execution context on Systrap.
 *
 * A stopped thread sits in its handler with its signal frame on its alternate stack, inside
 * its region: the Sentry reads the task's registers from the frame's ucontext and writes the
 * next ones there; the kernel's rt_sigreturn loads them. The region is writable by every
 * application thread of the address space at any moment, so each pointer the handler left is
 * read once and must lie inside the thread's own alternate stack, and nothing read from there
 * is used but as the task's own registers and signal.
 *
 * @module
 */

import { futexWake, schedYield } from "../../host/systrap.ts";
import { XFEATURE_MASK_USER_DYNAMIC, xsaveSizeFor } from "../../host/cpuid.ts";
import { type AddressSpace, type Context, PROT_EXEC, PROT_READ, PROT_WRITE } from "../platform.ts";
import type { FpLayout, SwitchResult } from "../platform.ts";
import { R, type Registers, SIGCONTEXT_REGS } from "../registers.ts";
import {
  FpOut,
  FXSAVE_SIZE,
  limitFeatures,
  MXCSR_MASK,
  SW_RESERVED,
  XSTATE_BV,
} from "../fp_state.ts";
import type { ThreadTimes } from "../ptrace/subprocess.ts";
import type { Region, StubThread, SystrapSpace } from "./address_space.ts";
import { ALTSTACK_OFFSET, CTL, PREEMPT_SIGNAL, REGION, STATE } from "./stub.ts";
import { SIG, SIGINFO_SIZE } from "../../abi/linux/signal.ts";

const { ILL: SIGILL, TRAP: SIGTRAP, BUS: SIGBUS, FPE: SIGFPE, SEGV: SIGSEGV, SYS: SIGSYS } = SIG;

/** si_code of a SIGSYS raised by SECCOMP_RET_TRAP. */
const SYS_SECCOMP = 1;
const SEGV_MAPERR = 1;
const ENOSYS = 38;
const VSYSCALL_ADDR = 0xffff_ffff_ff60_0000n;
const VSYSCALL_ADDR_HIGH = 0xffff_ffff;
const USER_CS = 0x33, USER_SS = 0x2b;
/** Page-fault trap number and its error code bits. */
const X86_TRAP_PF = 14n;
const PF_WRITE = 2n, PF_INSTR = 0x10n;

// struct ucontext: uc_flags, uc_link, uc_stack (24), then struct sigcontext, then uc_sigmask.
const UC_MCONTEXT = 40;
const UC_SIGMASK = UC_MCONTEXT + 256;
const UC_SIZE = UC_SIGMASK + 8;
const SC_CS = 144, SC_SS = 150, SC_ERR = 152, SC_TRAPNO = 160, SC_FPSTATE = 184;

// The XSAVE area of a frame: its software bytes say what it holds.
const FP_XSTATE_MAGIC1 = 0x46505853;
/** The cut a task's XSAVE area gets (see the ptrace platform's fpState), learnt once. */
let taskXstateSize: number | undefined;

/**
 * What the host's signal frames hold in their XSAVE area (its size and features, and its
 * software bytes as the kernel wrote them): the same for every frame of every stub, so
 * learnt once, from the first thread's first stop, before any application code has run in
 * its stub, and never again from a frame the application could have written.
 */
let frameLayout: {
  size: number;
  features: bigint;
  sw: Uint8Array<ArrayBuffer>;
  /** The FXSAVE image's MXCSR_MASK: a CPU constant, read where the application cannot write. */
  mxcsrMask: number;
} | null = null;
/** What fpLayout answers for a stopped thread, once the cut of its area is known. */
let stateLayout: FpLayout | null = null;

/** Learns frameLayout from `t`'s first stop, if not known yet. Precondition: as above. */
export function learnFrameLayout(t: StubThread): void {
  if (frameLayout) return;
  const v = t.region.dv;
  const uc = Number(v.getBigUint64(CTL.ucontext, true) - t.region.addr);
  const fp = Number(v.getBigUint64(uc + UC_MCONTEXT + SC_FPSTATE, true) - t.region.addr);
  if (v.getUint32(fp + SW_RESERVED, true) !== FP_XSTATE_MAGIC1) {
    frameLayout = {
      size: FXSAVE_SIZE,
      features: 3n,
      sw: new Uint8Array(FXSAVE_SIZE - SW_RESERVED),
      mxcsrMask: v.getUint32(fp + MXCSR_MASK, true),
    };
    return;
  }
  frameLayout = {
    size: v.getUint32(fp + SW_RESERVED + 16, true),
    features: v.getBigUint64(fp + SW_RESERVED + 8, true),
    sw: t.region.view.slice(fp + SW_RESERVED, fp + FXSAVE_SIZE),
    mxcsrMask: v.getUint32(fp + MXCSR_MASK, true),
  };
}

/** Polls of the state word before the wait goes to the doorbell. */
const SPIN_POLLS = 200;
/** How long the Sentry then sleeps on the doorbell on its own thread before going async. */
const SYNC_WAIT_NS = 50_000n;
/**
 * How long a thread may go on after it was told to stop (interrupt) before the Sentry gives
 * it up as lost: only a thread whose region the application wrecked stays away that long,
 * since the preemption signal stops any other within microseconds.
 */
const INTERRUPT_GRACE_MS = 2000;

/** A frame's pointers, checked against the thread's alternate stack. */
interface Frame {
  /** Offsets in the region. */
  uc: number;
  info: number;
  fp: number;
  fpSize: number;
}

/**
 * The offset in `region` of the pointer at 32-bit word `at` of its words `w`, if it and
 * `size` bytes after it lie inside the region's alternate stack and it is 8-aligned; else
 * null. A region is REGION-aligned below 2^47, so its pointers share its upper half.
 */
function inStack(region: Region, w: Uint32Array, at: number, size: number): number | null {
  if (w[at + 1] !== region.addrHigh) return null;
  const off = w[at] - region.addrLow;
  if (off < ALTSTACK_OFFSET || off + size > REGION || off % 8 !== 0) return null;
  return off;
}

/**
 * The stub threads of every address space that the Sentry resumed and has not yet seen stop:
 * each has a task waiting for it (in #waitRun or on its doorbell).
 */
const resumed = new Set<StubThread>();

function stopped(t: StubThread): boolean {
  return Atomics.load(t.region.i32, CTL.state / 4) === STATE.stopped;
}

/**
 * Whether a resumed thread other than `self` has stopped; one whose task waits on its doorbell
 * is handed its stop now rather than when the doorbell's runtime thread reports it.
 */
function anotherStopped(self: StubThread): boolean {
  let found = false;
  for (const t of resumed) {
    if (t === self || !stopped(t)) continue;
    t.space.doorbell.collectOne(t);
    found = true;
  }
  return found;
}

/** The commonest stop, one object for all (the task loop only reads it). */
const SYSCALL: SwitchResult = Object.freeze({ kind: "syscall" });

/** Segment selectors a stop reports as 0 (the frame has none of them). */
const ZEROED_SELECTORS: readonly number[] = [R.ds, R.es, R.fs, R.gs];

/** Implements Context for Systrap. */
export class SystrapContext implements Context {
  #thread: StubThread | null = null;
  #running = false;
  #interrupted = false;
  /** When interrupt() last signalled the running thread (performance.now()), or 0. */
  #signalledAt = 0;
  /** The thread no longer answers: it is never run or reused again. */
  #lost = false;
  /** The state setFpState gave, for the next switch to write (a view of #pendingBuf). */
  #pendingFp: Uint8Array<ArrayBuffer> | null = null;
  /** #pendingFp's storage, kept from one call to the next. */
  #pendingBuf: Uint8Array<ArrayBuffer> | null = null;
  /** What fpState returns (see FpOut). */
  readonly #fp = new FpOut();
  /**
   * The frame of the thread's current stop, as #decode checked it: the next switch writes
   * there without reading the handler's pointers again (they are read once per stop; any
   * application thread can rewrite them meanwhile). Null until a stop was decoded.
   */
  #stopFrame: Frame | null = null;
  #regsOf: Registers | null = null;
  #regs32: Uint32Array<ArrayBuffer> | null = null;
  #cpuDone: ThreadTimes = { user: 0n, sys: 0n };
  #cpuBase: ThreadTimes = { user: 0n, sys: 0n };
  #last: ThreadTimes = { user: 0n, sys: 0n };

  /** Implements Context.switch. */
  async switch(as: AddressSpace, regs: Registers): Promise<SwitchResult> {
    const space = as as SystrapSpace;
    if (this.#lost) return { kind: "lost", reason: "systrap: the task's stub thread was lost" };
    if (this.#thread?.space !== space) {
      this.#unbind();
      try {
        this.#thread = space.newStubThread();
        this.#last = this.#thread.times;
      } catch (e) {
        return { kind: "lost", reason: String(e) };
      }
    }
    const t = this.#thread;
    try {
      space.flush();
    } catch (e) {
      return { kind: "lost", reason: String(e) };
    }
    if (this.#interrupted) {
      this.#interrupted = false;
      return { kind: "interrupted" };
    }
    if (!t.parked) {
      const stopped = this.#waitStop(t);
      if (!(stopped === true || await stopped)) {
        this.#lost = true;
        const why = space.setupFailure(t) ?? "it did not reach its handler";
        return { kind: "lost", reason: `systrap: stub thread ${t.tid}: ${why}` };
      }
      t.parked = true;
      learnFrameLayout(t);
    }
    const frame = this.#stopFrame ?? this.#frame(t);
    if (!frame) return { kind: "lost", reason: "systrap: the stub's signal frame is damaged" };
    this.#stopFrame = null;
    this.#writeFrame(t, frame, regs);
    const state = t.region.i32;
    Atomics.store(state, CTL.state / 4, STATE.run);
    if (Atomics.load(state, CTL.sleeping / 4) !== 0) {
      futexWake(t.region.hostAddr + BigInt(CTL.state), true);
    }
    this.#running = true;
    resumed.add(t);
    try {
      if (!await this.#waitRun(t)) {
        this.#lost = true;
        return { kind: "lost", reason: `systrap: stub thread ${t.tid} is gone or does not answer` };
      }
    } finally {
      resumed.delete(t);
      this.#running = false;
      this.#signalledAt = 0;
    }
    return this.#decode(t, regs);
  }

  /**
   * Waits for `t`, just resumed, to stop: as #waitStop, but the JavaScript thread never polls
   * for it while other work of the Sentry's is ready. Its first step is a turn of the
   * microtask queue, so that tasks a system call just woke start their own stub threads
   * before this one polls; and it turns again each time another resumed thread has stopped,
   * so that the task waiting for that one runs at once instead of after this one's stop.
   */
  async #waitRun(t: StubThread): Promise<boolean> {
    let polls = 0;
    for (;;) {
      await null;
      while (polls < SPIN_POLLS) {
        if (stopped(t)) return true;
        // Counted as a poll too: a state word the application forges (its region is writable)
        // can make another thread look stopped over and over, and this loop, which never gives
        // the event loop a turn, must still end.
        polls++;
        if (resumed.size > 1 && anotherStopped(t)) break;
        schedYield();
      }
      if (polls >= SPIN_POLLS) break;
    }
    // Long enough that the application computes: sleep on the doorbell, on this thread only
    // while no other thread is in flight (each of theirs could stop meanwhile).
    if (resumed.size === 1 && t.space.doorbell.waitBriefly(t, SYNC_WAIT_NS)) return true;
    return t.space.doorbell.wait(t, () => this.#giveUp(t));
  }

  /**
   * Waits for `t` to stop in its handler: true once it has, false if it is gone or given up.
   * A boolean, not a promise, when it stopped within the polls or the short sleep (nearly
   * every call): the caller then goes on without a turn of the microtask queue.
   */
  #waitStop(t: StubThread): boolean | Promise<boolean> {
    const state = t.region.i32;
    for (let i = 0; i < SPIN_POLLS; i++) {
      if (Atomics.load(state, CTL.state / 4) === STATE.stopped) return true;
      // The stub thread on another CPU answers within microseconds; on this one, only if
      // this thread gives the CPU up (yielding measured better than spinning: stub.ts).
      schedYield();
    }
    if (t.space.doorbell.waitBriefly(t, SYNC_WAIT_NS)) return true;
    return t.space.doorbell.wait(t, () => this.#giveUp(t));
  }

  /**
   * The frame the handler left, or null if its pointers are not inside the stack or not
   * aligned as the kernel aligns them (words are read in halves: no BigInt per call).
   */
  #frame(t: StubThread): Frame | null {
    const w = t.region.u32;
    const uc = inStack(t.region, w, CTL.ucontext / 4, UC_SIZE);
    const info = inStack(t.region, w, CTL.siginfo / 4, SIGINFO_SIZE);
    if (uc === null || info === null) return null;
    const fp = inStack(t.region, w, (uc + UC_MCONTEXT + SC_FPSTATE) / 4, FXSAVE_SIZE);
    if (fp === null) return null;
    const fpSize = frameLayout?.size ?? FXSAVE_SIZE;
    if (fp + fpSize > REGION) return null;
    return { uc, info, fp, fpSize };
  }

  /** `regs.r` as 32-bit halves, made again only when the task's Registers change. */
  #words(regs: Registers): Uint32Array<ArrayBuffer> {
    if (this.#regsOf !== regs) {
      this.#regsOf = regs;
      this.#regs32 = new Uint32Array(regs.r.buffer, regs.r.byteOffset, regs.r.length * 2);
    }
    return this.#regs32!;
  }

  #writeFrame(t: StubThread, f: Frame, regs: Registers): void {
    const w = t.region.u32;
    const r = this.#words(regs);
    const mc = (f.uc + UC_MCONTEXT) / 4;
    for (let i = 0; i < SIGCONTEXT_REGS.length; i++) {
      const k = 2 * SIGCONTEXT_REGS[i];
      w[mc + 2 * i] = r[k];
      w[mc + 2 * i + 1] = r[k + 1];
    }
    const v = t.region.dv;
    v.setUint16(f.uc + UC_MCONTEXT + SC_CS, USER_CS, true);
    v.setUint16(f.uc + UC_MCONTEXT + SC_SS, USER_SS, true);
    // The application runs with no host signal blocked: its mask is the Sentry's business.
    w[(f.uc + UC_SIGMASK) / 4] = w[(f.uc + UC_SIGMASK) / 4 + 1] = 0;
    w[CTL.fsBase / 4] = r[2 * R.fs_base];
    w[CTL.fsBase / 4 + 1] = r[2 * R.fs_base + 1];
    w[CTL.gsBase / 4] = r[2 * R.gs_base];
    w[CTL.gsBase / 4 + 1] = r[2 * R.gs_base + 1];
    const fp = this.#pendingFp;
    if (fp) {
      this.#pendingFp = null;
      const area = t.region.view.subarray(f.fp, f.fp + f.fpSize);
      area.set(fp.subarray(0, Math.min(fp.length, f.fpSize)));
      if (frameLayout) area.set(frameLayout.sw, SW_RESERVED);
      if (frameLayout && f.fpSize > FXSAVE_SIZE) {
        const av = new DataView(area.buffer, area.byteOffset, area.length);
        const features = frameLayout.features;
        // An FXSAVE image says nothing of the rest: x87 and SSE from it, the rest initial.
        const bv = fp.length > FXSAVE_SIZE ? av.getBigUint64(XSTATE_BV, true) & features : 3n;
        av.setBigUint64(XSTATE_BV, bv, true);
        if (fp.length <= FXSAVE_SIZE) av.setBigUint64(XSTATE_BV + 8, 0n, true);
      }
    }
  }

  /** Reads the stop: registers once from the frame, then what it means. */
  #decode(t: StubThread, regs: Registers): SwitchResult {
    const f = this.#frame(t);
    if (!f) return { kind: "lost", reason: "systrap: the stub's signal frame is damaged" };
    this.#stopFrame = f;
    const w = t.region.u32;
    const r = this.#words(regs);
    const mc = (f.uc + UC_MCONTEXT) / 4;
    for (let i = 0; i < SIGCONTEXT_REGS.length; i++) {
      const k = 2 * SIGCONTEXT_REGS[i];
      r[k] = w[mc + 2 * i];
      r[k + 1] = w[mc + 2 * i + 1];
    }
    r[2 * R.cs] = USER_CS;
    r[2 * R.ss] = USER_SS;
    r[2 * R.cs + 1] = r[2 * R.ss + 1] = 0;
    for (const k of ZEROED_SELECTORS) r[2 * k] = r[2 * k + 1] = 0;
    r[2 * R.fs_base] = w[CTL.fsBase / 4];
    r[2 * R.fs_base + 1] = w[CTL.fsBase / 4 + 1];
    r[2 * R.gs_base] = w[CTL.gsBase / 4];
    r[2 * R.gs_base + 1] = w[CTL.gsBase / 4 + 1];
    r[2 * R.orig_rax] = r[2 * R.orig_rax + 1] = 0xffff_ffff;
    const v = t.region.dv;
    const signo = w[CTL.signo / 4] & 0xff;
    const code = v.getInt32(f.info + 8, true);
    // A signal someone sent (si_code <= 0), the preemption among them, is an interruption.
    if (code <= 0 || signo === PREEMPT_SIGNAL) {
      this.#interrupted = false;
      return { kind: "interrupted" };
    }
    if (signo === SIGSYS) {
      if (code !== SYS_SECCOMP) return { kind: "interrupted" };
      // si_call_addr's upper half: at or above the vsyscall page's.
      if (w[(f.info + 16) / 4 + 1] >= VSYSCALL_ADDR_HIGH) {
        const addr = v.getBigUint64(f.info + 16, true);
        if (addr >= VSYSCALL_ADDR) {
          // A call through the vsyscall page: the host has emulated its `ret`; put the task
          // back at the entry, as an instruction fetch fault there (sentry/kernel/vsyscall.ts).
          regs.rip = addr;
          regs.rsp = regs.rsp - 8n;
          return { kind: "fault", signo: SIGSEGV, code: SEGV_MAPERR, addr, access: PROT_EXEC };
        }
      }
      // si_syscall as the call number, and -ENOSYS in rax, as a syscall stop shows them.
      r[2 * R.orig_rax] = w[(f.info + 24) / 4];
      r[2 * R.orig_rax + 1] = 0;
      r[2 * R.rax] = -ENOSYS >>> 0;
      r[2 * R.rax + 1] = 0xffff_ffff;
      return SYSCALL;
    }
    const addr = v.getBigUint64(f.info + 16, true);
    if (signo === SIGSEGV || signo === SIGBUS) {
      let access = 0;
      if (v.getBigUint64(mc * 4 + SC_TRAPNO, true) === X86_TRAP_PF) {
        const err = v.getBigUint64(mc * 4 + SC_ERR, true);
        access = err & PF_INSTR ? PROT_EXEC : err & PF_WRITE ? PROT_WRITE : PROT_READ;
      }
      return { kind: "fault", signo, code, addr, access };
    }
    if (signo === SIGILL || signo === SIGFPE || signo === SIGTRAP) {
      return { kind: "signal", signo, code, addr };
    }
    return { kind: "interrupted" };
  }

  /** Implements Context.fpState: the XSAVE area of the thread's frame. */
  fpState(): Uint8Array<ArrayBuffer> {
    if (this.#pendingFp) return this.#fp.copyOf(this.#pendingFp, this.#pendingFp.length);
    const t = this.#thread;
    const f = t && (this.#stopFrame ?? this.#frame(t));
    if (!t || !f) return this.#fp.initial();
    const frame = t.region.view.subarray(f.fp, f.fp + f.fpSize);
    if (f.fpSize <= FXSAVE_SIZE) return this.#fp.copyOf(frame, f.fpSize);
    // The ptrace regset's form, which the Sentry's frames expect: XCR0 in the software bytes.
    const host = frameLayout?.features ?? 3n;
    const features = host & ~XFEATURE_MASK_USER_DYNAMIC;
    taskXstateSize ??= features === host ? f.fpSize : xsaveSizeFor(features) ?? f.fpSize;
    // Copied before it is read: the application can rewrite the frame at any moment.
    const size = Math.min(taskXstateSize, f.fpSize);
    stateLayout ??= { size, features, mxcsrMask: frameLayout!.mxcsrMask };
    const area = this.#fp.copyOf(frame, size);
    area.fill(0, SW_RESERVED, FXSAVE_SIZE);
    limitFeatures(area, features);
    return area;
  }

  /**
   * Implements Context.fpLayout: that of fpState's area for a stopped thread, known once a
   * first fpState has cut one (sigreturn then copies no area only to learn its size).
   */
  fpLayout(): FpLayout | null {
    if (this.#pendingFp || !frameLayout) return null;
    const t = this.#thread;
    if (!t || !(this.#stopFrame ?? this.#frame(t))) return null;
    if (frameLayout.size <= FXSAVE_SIZE) {
      return { size: frameLayout.size, features: 0n, mxcsrMask: frameLayout.mxcsrMask };
    }
    return stateLayout;
  }

  /** Implements Context.setFpState: written into the frame before the next switch. */
  setFpState(state: Uint8Array<ArrayBuffer>): void {
    if ((this.#pendingBuf?.length ?? 0) < state.length) {
      this.#pendingBuf = new Uint8Array(state.length);
    }
    this.#pendingBuf!.set(state);
    this.#pendingFp = this.#pendingBuf!.subarray(0, state.length);
  }

  /** Implements Context.cpuTime from the host's accounting of the stub thread. */
  cpuTime(): { user: bigint; sys: bigint } {
    const t = this.#thread;
    const now = t?.space.threadTimes(t.tid);
    if (t && now) {
      this.#last = now;
      this.#cpuBase = {
        user: this.#cpuDone.user + now.user - t.times.user,
        sys: this.#cpuDone.sys + now.sys - t.times.sys,
      };
    }
    return this.#cpuBase;
  }

  /** Implements Context.interrupt: a host signal to the thread if it runs the task's code. */
  interrupt(): void {
    this.#interrupted = true;
    const t = this.#thread;
    if (this.#running && t) {
      if (this.#signalledAt === 0) this.#signalledAt = performance.now();
      t.space.signal(t, PREEMPT_SIGNAL);
    }
  }

  /** Whether to stop waiting for `t`: told to stop long ago and still not stopped. */
  #giveUp(t: StubThread): boolean {
    if (this.#signalledAt === 0) return false;
    if (performance.now() - this.#signalledAt > INTERRUPT_GRACE_MS) return true;
    t.space.signal(t, PREEMPT_SIGNAL);
    return false;
  }

  #unbind(): void {
    const t = this.#thread;
    if (t) {
      this.#cpuDone = this.cpuTime();
      // A lost thread stays where it is until its stub is killed with its address space.
      if (!this.#lost) t.space.releaseStubThread(t, this.#last);
    }
    this.#thread = null;
    this.#stopFrame = null;
  }

  /** Implements Context.release. */
  release(): void {
    this.#unbind();
  }
}
