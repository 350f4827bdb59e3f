/**
 * A task's execution context on the KVM platform: a vCPU of its own, run either by the
 * JavaScript thread itself or by a runner thread (runner.ts).
 *
 * Why the JavaScript thread runs a vCPU itself at all: measured here
 * (bench/platform_bench.ts), entering and leaving KVM_RUN synchronously costs about 7 µs,
 * and hearing of another thread's exit on the event loop costs tens of µs more. So a switch
 * runs its vCPU inline when no other context holds the JavaScript thread that way: a task
 * that makes system calls pays only the exit. The price is that the thread is inside the
 * guest while application code runs; a host timer (machine.ts) sends KICK_SIGNAL to it
 * every 10 ms, a signal it blocks except inside KVM_RUN (KVM_SET_SIGNAL_MASK), so KVM_RUN
 * returns EINTR and the event loop gets a turn. A task that computes for more than
 * MIGRATE_AFTER_MS without leaving the guest moves to a runner, and so does every task
 * that switches while another holds the thread: those run in parallel, on as many host
 * CPUs as there are.
 *
 * The vCPU keeps the task's FPU and SSE state between switches, since no other task runs on
 * it; fpState/setFpState move it through KVM_GET/SET_XSAVE. No ioctl is made on a vCPU while
 * a runner has it in KVM_RUN (KVM would hold the caller until the run ends).
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { EXIT, KREG, kvmRun, RUN, takePendingSignal, XSAVE_SIZE } from "../../host/kvm.ts";
import type { AddressSpace, Context, SwitchResult } from "../platform.ts";
import { PROT_EXEC, PROT_READ, PROT_WRITE } from "../platform.ts";
import { R, type Registers } from "../registers.ts";
import type { KvmAddressSpace } from "./address_space.ts";
import { KICK_SIGNAL, type Machine, type Vcpu } from "./machine.ts";
import { EXC_FRAME, MMIO_EXCEPTION, MMIO_PHYS, SEL } from "./ring0.ts";
import { SIG } from "../../abi/linux/signal.ts";

const { ILL: SIGILL, TRAP: SIGTRAP, BUS: SIGBUS, FPE: SIGFPE, SEGV: SIGSEGV } = SIG;

const ENOSYS = 38n;
const SI_KERNEL = 0x80;
const FPE_INTDIV = 1, FPE_FLTINV = 7, ILL_ILLOPN = 2, TRAP_TRACE = 2, BUS_ADRALN = 1;
const SEGV_MAPERR = 1, SEGV_ACCERR = 2;
/** rflags bits the application may set (arithmetic flags, TF, DF, RF, AC, ID). */
const USER_FLAGS = 0x0025_0dd5n;
/** IF and the always-one bit. */
const FLAGS_FIXED = 0x202n;
const FPSTATE_SIZE = 512;
/** Offset of the software-reserved bytes in the FXSAVE image. */
const SW_RESERVED = 464;

const INTERRUPTED: SwitchResult = { kind: "interrupted" };
/** Guest time within one switch after which a task moves from the JavaScript thread to a runner. */
const MIGRATE_AFTER_MS = 2;
const SYSCALL: SwitchResult = { kind: "syscall" };

/**
 * Lets the event loop run (timers, I/O, other tasks) before the guest goes on. setImmediate
 * rather than setTimeout(0): a zero timeout costs about 2 ms here, which every 10 ms kick
 * would pay; an immediate costs microseconds and still lets timers and I/O run.
 */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Implements Context for KVM. */
export class KvmContext implements Context {
  #vcpu: Vcpu | null = null;
  #interrupted = false;
  /** The vCPU while a runner thread runs it. */
  #running: Vcpu | null = null;
  #pendingFp: Uint8Array<ArrayBuffer> | null = null;
  #sigScratch = new Uint8Array(24);
  /** Time spent inside KVM_RUN, in ms: the application's CPU time as far as we can tell. */
  #runMs = 0;
  /** When the run in progress began (performance.now()), or null between runs. */
  #runSince: number | null = null;

  constructor(readonly machine: Machine) {}

  #acquire(): Vcpu {
    return (this.#vcpu ??= this.machine.acquire());
  }

  /** Implements Context.switch. */
  async switch(as: AddressSpace, regs: Registers): Promise<SwitchResult> {
    if (this.#interrupted) {
      this.#interrupted = false;
      return INTERRUPTED;
    }
    const space = as as KvmAddressSpace;
    const v = this.#acquire();
    const m = this.machine;
    if (this.#pendingFp) this.#applyFp(v);
    else if (v.staleFp) this.#resetFp(v);
    this.#load(v, space, regs);
    // The JavaScript thread runs this vCPU itself if no other context holds it: the fast
    // path. Otherwise, or once this one has computed for a while, a runner thread does.
    let inline = m.inlineOwner === null;
    if (inline) m.inlineOwner = this;
    let guestMs = 0;
    try {
      for (;;) {
        let r: number;
        const t0 = performance.now();
        if (inline) {
          if (!m.runners.enterInline()) {
            // A runner finished meanwhile: let its task go on first.
            m.runners.collect();
            await yieldToEventLoop();
            if (this.#interrupted) return this.#takeInterrupt();
            this.#dropStaleShadows(space);
            continue;
          }
          this.#runSince = t0;
          r = kvmRun(v.fd);
          m.runners.leaveInline();
        } else {
          this.#running = v;
          this.#runSince = t0;
          r = await m.runners.run(v.id, v.fd);
          this.#running = null;
        }
        const dt = performance.now() - t0;
        this.#runSince = null;
        this.#runMs += dt;
        guestMs += dt;
        if (r === 0) {
          const result = this.#exit(v, regs);
          if (result) return result;
          continue;
        }
        if (r !== -Errno.EINTR) return { kind: "lost", reason: `KVM_RUN failed: errno ${-r}` };
        if (inline) {
          // A kick: the timer's, or a runner's that finished. Give the event loop its turn,
          // and move a task that keeps computing to a runner so that the thread is free.
          takePendingSignal(KICK_SIGNAL, this.#sigScratch);
          m.runners.collect();
          if (guestMs >= MIGRATE_AFTER_MS) {
            inline = false;
            m.inlineOwner = null;
          }
          await yieldToEventLoop();
        }
        // The address space may have changed meanwhile (another thread's munmap, say).
        this.#dropStaleShadows(space);
        if (!this.#interrupted) continue;
        // It reaches its exit promptly from there; report that exit (interrupted stays set).
        if (this.#stop(v, regs) === "saving") continue;
        return this.#takeInterrupt();
      }
    } finally {
      this.#runSince = null;
      if (inline && m.inlineOwner === this) m.inlineOwner = null;
    }
  }

  #takeInterrupt(): SwitchResult {
    this.#interrupted = false;
    return INTERRUPTED;
  }

  /**
   * After entries were changed or removed, or a tree freed, KVM's shadows of the tables must
   * go (machine.ts); that also flushes every vCPU's TLB.
   */
  #dropStaleShadows(space: KvmAddressSpace): void {
    const t = space.tables;
    if (t.zappedGeneration !== t.generation) {
      this.machine.zapShadowTables();
      t.zappedGeneration = t.generation;
    }
  }

  /** Puts regs and the address space into the vCPU for the next KVM_RUN. */
  #load(v: Vcpu, space: KvmAddressSpace, regs: Registers): void {
    const t = space.tables;
    this.#dropStaleShadows(space);
    const newRoot = v.tables !== t;
    if (v.tables !== t) space.enterVcpu(v);
    v.tables = t;
    const r = regs.r;
    const flags = (r[R.eflags] & USER_FLAGS) | FLAGS_FIXED;
    if (v.mode === "trampoline") {
      // The vCPU waits in the trampoline, which loads everything from its save page.
      const u = v.userSave;
      u.set(r);
      u[R.eflags] = flags;
    } else {
      // The vCPU was stopped in application code: set its registers directly.
      this.#toKregs(v, regs, flags);
      v.setRegs();
    }
    if (v.fsBase !== r[R.fs_base] || v.gsBase !== r[R.gs_base]) {
      v.setBases(r[R.fs_base], r[R.gs_base]);
      v.fsBase = r[R.fs_base];
      v.gsBase = r[R.gs_base];
    }
    if (newRoot) v.setCr3(t.root);
  }

  #toKregs(v: Vcpu, regs: Registers, flags: bigint): void {
    const k = v.kregs;
    const r = regs.r;
    k[KREG.rax] = r[R.rax];
    k[KREG.rbx] = r[R.rbx];
    k[KREG.rcx] = r[R.rcx];
    k[KREG.rdx] = r[R.rdx];
    k[KREG.rsi] = r[R.rsi];
    k[KREG.rdi] = r[R.rdi];
    k[KREG.rsp] = r[R.rsp];
    k[KREG.rbp] = r[R.rbp];
    k[KREG.r8] = r[R.r8];
    k[KREG.r9] = r[R.r9];
    k[KREG.r10] = r[R.r10];
    k[KREG.r11] = r[R.r11];
    k[KREG.r12] = r[R.r12];
    k[KREG.r13] = r[R.r13];
    k[KREG.r14] = r[R.r14];
    k[KREG.r15] = r[R.r15];
    k[KREG.rip] = r[R.rip];
    k[KREG.rflags] = flags;
  }

  /**
   * Stops treating the guest as running after a kick, and says where it was: in application
   * code (its registers are copied to regs), on a path that saves registers (let it reach its
   * exit), or on a path that restores them (regs still hold what it was restoring).
   */
  #stop(v: Vcpu, regs: Registers): "user" | "saving" | "restore" {
    const k = v.getRegs();
    const rip = k[KREG.rip];
    const tramp = this.machine.trampoline;
    if (rip >= v.userPages && rip < v.userPages + BigInt(tramp.end)) {
      const off = Number(rip - v.userPages);
      // Saving (a system call's or an exception's): it reaches its exit promptly.
      if (off < tramp.exited || (off >= tramp.vectors && off < tramp.excExited)) return "saving";
      // Restoring what regs hold: the next entry sets them directly instead.
      v.mode = "user";
      return "restore";
    }
    v.mode = "user";
    this.#fromKregs(k, regs);
    regs.r[R.rip] = rip;
    regs.r[R.eflags] = k[KREG.rflags];
    return "user";
  }

  #fromKregs(k: BigUint64Array, regs: Registers): void {
    const r = regs.r;
    r[R.rax] = k[KREG.rax];
    r[R.rbx] = k[KREG.rbx];
    r[R.rcx] = k[KREG.rcx];
    r[R.rdx] = k[KREG.rdx];
    r[R.rsi] = k[KREG.rsi];
    r[R.rdi] = k[KREG.rdi];
    r[R.rsp] = k[KREG.rsp];
    r[R.rbp] = k[KREG.rbp];
    r[R.r8] = k[KREG.r8];
    r[R.r9] = k[KREG.r9];
    r[R.r10] = k[KREG.r10];
    r[R.r11] = k[KREG.r11];
    r[R.r12] = k[KREG.r12];
    r[R.r13] = k[KREG.r13];
    r[R.r14] = k[KREG.r14];
    r[R.r15] = k[KREG.r15];
    r[R.cs] = BigInt(SEL.userCs);
    r[R.ss] = BigInt(SEL.userDs);
  }

  /** Turns a completed KVM_RUN into a SwitchResult, or null to run on. */
  #exit(v: Vcpu, regs: Registers): SwitchResult | null {
    const reason = v.run.getUint32(RUN.exitReason, true);
    const r = regs.r;
    if (reason === EXIT.MMIO && v.run.getBigUint64(RUN.union, true) === MMIO_PHYS) {
      // The trampoline: `syscall` put the return address in rcx and rflags in r11, as on
      // Linux, and the trampoline saved every register. The number goes to orig_rax and rax
      // reads -ENOSYS, as at a PTRACE_SYSEMU stop.
      v.mode = "trampoline";
      const u = v.userSave;
      const fs = r[R.fs_base], gs = r[R.gs_base];
      r.set(u);
      r[R.fs_base] = fs;
      r[R.gs_base] = gs;
      r[R.rip] = u[R.rcx];
      r[R.eflags] = u[R.r11];
      r[R.cs] = BigInt(SEL.userCs);
      r[R.ss] = BigInt(SEL.userDs);
      r[R.orig_rax] = u[R.rax];
      r[R.rax] = BigInt.asUintN(64, -ENOSYS);
      return SYSCALL;
    }
    if (reason !== EXIT.MMIO || v.run.getBigUint64(RUN.union, true) !== MMIO_EXCEPTION) {
      return { kind: "lost", reason: this.#describeExit(v, reason) };
    }
    // A vector stub: the frame is at the top of the save page, the registers below. The
    // application can write that page, so what it says only decides what this task gets.
    v.mode = "trampoline";
    const u = v.userSave, f = v.userFrame;
    const vector = Number(f[EXC_FRAME.vector] & 0xffn);
    const rip = f[EXC_FRAME.rip];
    const fs = r[R.fs_base], gs = r[R.gs_base];
    r.set(u);
    r[R.fs_base] = fs;
    r[R.gs_base] = gs;
    r[R.cs] = BigInt(SEL.userCs);
    r[R.ss] = BigInt(SEL.userDs);
    const tramp = BigInt(this.machine.trampoline.restored);
    if (rip >= v.userPages + BigInt(this.machine.trampoline.exited) && rip < v.userPages + tramp) {
      // The way back to the application faulted (a non-canonical rip, say): as on Linux, the
      // task gets SIGSEGV with the registers it would have resumed with, which the save page
      // still holds (the restore path only reads it).
      return { kind: "fault", signo: SIGSEGV, code: SI_KERNEL, addr: 0n, access: 0 };
    }
    r[R.rip] = rip;
    r[R.eflags] = f[EXC_FRAME.rflags];
    r[R.rsp] = f[EXC_FRAME.rsp];
    const cr2 = vector === 14 ? v.getCr2() : 0n;
    return this.#exception(vector, Number(f[EXC_FRAME.error] & 0xffff_ffffn), cr2, rip);
  }

  /** What Linux would send for an exception raised by application code. */
  #exception(vector: number, error: number, cr2: bigint, rip: bigint): SwitchResult {
    const fault = (signo: number, code: number, addr = 0n, access = 0): SwitchResult => ({
      kind: "fault",
      signo,
      code,
      addr,
      access,
    });
    const signal = (signo: number, code: number, addr = 0n): SwitchResult => ({
      kind: "signal",
      signo,
      code,
      addr,
    });
    switch (vector) {
      case 0: // #DE
        return signal(SIGFPE, FPE_INTDIV, rip);
      case 1: // #DB
        return signal(SIGTRAP, TRAP_TRACE, rip);
      case 3: // #BP (int3)
        return signal(SIGTRAP, SI_KERNEL);
      case 4: // #OF
      case 5: // #BR
      case 13: // #GP
        return fault(SIGSEGV, SI_KERNEL);
      case 6: // #UD
        return signal(SIGILL, ILL_ILLOPN, rip);
      case 11: // #NP
      case 12: // #SS
        return fault(SIGBUS, SI_KERNEL);
      case 14: { // #PF
        const access = error & 0x10 ? PROT_EXEC : error & 2 ? PROT_WRITE : PROT_READ;
        return fault(SIGSEGV, error & 1 ? SEGV_ACCERR : SEGV_MAPERR, cr2, access);
      }
      case 16: // #MF
      case 19: // #XM
        return signal(SIGFPE, FPE_FLTINV, rip);
      case 17: // #AC
        return fault(SIGBUS, BUS_ADRALN);
      default:
        // Not raised by application code (a double fault, a machine check), or a frame the
        // application rewrote: the task, not the sandbox, pays.
        return fault(SIGSEGV, SI_KERNEL);
    }
  }

  #describeExit(v: Vcpu, reason: number): string {
    const u = RUN.union;
    switch (reason) {
      case EXIT.SHUTDOWN:
        return "the guest shut down (triple fault)";
      case EXIT.FAIL_ENTRY:
        return `vCPU entry failed: hardware reason 0x${v.run.getBigUint64(u, true).toString(16)}`;
      case EXIT.INTERNAL_ERROR:
        return `KVM internal error, suberror ${v.run.getUint32(u, true)}`;
      default:
        return `unexpected KVM exit reason ${reason}`;
    }
  }

  /**
   * Implements Context.cpuTime: the time this task spent in KVM_RUN, all counted as user time
   * (the guest kernel's share, a few instructions per exit, is not told apart).
   */
  cpuTime(): { user: bigint; sys: bigint } {
    // A run in progress counts too: a thread computing on a runner may not exit for long, and
    // another task may be reading its clock (clock_gettime, clock_nanosleep) meanwhile.
    const ms = this.#runMs + (this.#runSince === null ? 0 : performance.now() - this.#runSince);
    return { user: BigInt(Math.round(ms * 1e6)), sys: 0n };
  }

  /** Implements Context.interrupt. */
  interrupt(): void {
    this.#interrupted = true;
    // On a runner, the guest is stopped now; inline, the next timer kick sees the flag.
    if (this.#running) this.machine.runners.kick(this.#running.id);
  }

  /**
   * Implements Context.fpState: the vCPU's XSAVE area (KVM_GET_XSAVE, standard format), cut
   * to the end of the last component the guest's XCR0 enables, AVX and AVX-512 included. Its
   * software bytes say which those are (KVM puts the host's features there, which the guest
   * may not have).
   */
  fpState(): Uint8Array<ArrayBuffer> {
    if (this.#pendingFp) return this.#pendingFp.slice();
    const v = this.#acquire();
    const m = this.machine;
    // Without XSAVE the guest has only the legacy state, and its frames only the FXSAVE image.
    if (!m.xsave) return (v.staleFp ? m.initialXsave() : v.getXsave()).slice(0, FPSTATE_SIZE);
    const x = (v.staleFp ? m.initialXsave() : v.getXsave()).slice(0, m.xsaveSize);
    new DataView(x.buffer).setBigUint64(SW_RESERVED, m.xcr0, true);
    return x;
  }

  /** Implements Context.setFpState (an FXSAVE image or a whole XSAVE area). */
  setFpState(state: Uint8Array<ArrayBuffer>): void {
    this.#pendingFp = state.slice(0, Math.min(state.length, this.machine.xsaveSize));
  }

  #resetFp(v: Vcpu): void {
    v.setXsave(this.machine.initialXsave());
    v.staleFp = false;
  }

  #applyFp(v: Vcpu): void {
    const fp = this.#pendingFp!;
    this.#pendingFp = null;
    // A whole area (what fpState gives, for clone and fork) replaces everything the vCPU
    // holds, so it needs no KVM_GET_XSAVE first; a shorter one (an FXSAVE image) only its
    // part, the rest staying this task's or, on a vCPU just taken, the initial state.
    const x = fp.length >= this.machine.xsaveSize
      ? new Uint8Array(XSAVE_SIZE)
      : v.staleFp
      ? this.machine.initialXsave()
      : v.getXsave();
    v.staleFp = false;
    x.set(fp);
    if (fp.length <= FPSTATE_SIZE) {
      // An FXSAVE image: XSTATE_BV must say the x87 and SSE components hold data.
      const h = new DataView(x.buffer);
      h.setBigUint64(FPSTATE_SIZE, h.getBigUint64(FPSTATE_SIZE, true) | 3n, true);
    }
    v.setXsave(x);
  }

  /** Implements Context.release: the vCPU goes back to the machine's pool. */
  release(): void {
    if (this.#vcpu) this.machine.releaseVcpu(this.#vcpu);
    this.#vcpu = null;
  }
}
